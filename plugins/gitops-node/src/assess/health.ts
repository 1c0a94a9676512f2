import { groupOf } from '../kube/objects';
import type { KubeObject } from '../kube/objects';
import { APPLICATION_GVK } from '../model/types';

/** kstatus's vocabulary; `NotFound` for an object we applied that is gone. */
export type HealthStatus =
  | 'Current'
  | 'InProgress'
  | 'Failed'
  | 'Unknown'
  | 'NotFound';

export interface ObjectHealth {
  status: HealthStatus;
  /** Short machine-readable reason (kstatus's), e.g. `LessReady`, `ProgressDeadlineExceeded`. */
  reason?: string;
  /** What a person reads; for workloads KubeVela's `Ready:1/1`. */
  message: string;
}

const SEVERITY: Record<HealthStatus, number> = {
  Current: 0,
  InProgress: 1,
  Unknown: 2,
  NotFound: 3,
  Failed: 4,
};

/** The worst of several healths (Failed over NotFound over Unknown over InProgress over Current). */
export function worstHealth(healths: ObjectHealth[]): ObjectHealth {
  return healths.reduce<ObjectHealth>(
    (worst, h) => (SEVERITY[h.status] > SEVERITY[worst.status] ? h : worst),
    { status: 'Current', message: '' },
  );
}

type Condition = {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
};

function field(object: KubeObject, ...path: string[]): unknown {
  let value: unknown = object;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

function int(object: KubeObject, fallback: number, ...path: string[]): number {
  const value = field(object, ...path);
  return typeof value === 'number' ? value : fallback;
}

function conditions(object: KubeObject): Condition[] {
  const list = field(object, 'status', 'conditions');
  return Array.isArray(list) ? (list as Condition[]) : [];
}

function condition(object: KubeObject, type: string): Condition | undefined {
  return conditions(object).find(c => c.type === type);
}

const current = (message: string): ObjectHealth => ({
  status: 'Current',
  message,
});
const inProgress = (reason: string, message: string): ObjectHealth => ({
  status: 'InProgress',
  reason,
  message,
});
const failed = (reason: string, message: string): ObjectHealth => ({
  status: 'Failed',
  reason,
  message,
});

function deployment(object: KubeObject): ObjectHealth {
  const desired = int(object, 1, 'spec', 'replicas');
  const replicas = int(object, 0, 'status', 'replicas');
  const updated = int(object, 0, 'status', 'updatedReplicas');
  const ready = int(object, 0, 'status', 'readyReplicas');
  const available = int(object, 0, 'status', 'availableReplicas');
  const readyMessage = `Ready:${ready}/${desired}`;
  const progressing = condition(object, 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') {
    return failed(
      'ProgressDeadlineExceeded',
      `${readyMessage}, progress deadline exceeded: ${
        progressing.message ?? ''
      }`.trim(),
    );
  }
  if (desired > replicas) return inProgress('LessReplicas', readyMessage);
  if (desired > updated)
    return inProgress(
      'LessUpdated',
      `${readyMessage}, updated ${updated}/${desired}`,
    );
  if (replicas > desired)
    return inProgress(
      'ExtraPods',
      `${readyMessage}, ${replicas - desired} pending termination`,
    );
  if (updated > available)
    return inProgress(
      'LessAvailable',
      `${readyMessage}, available ${available}/${updated}`,
    );
  if (desired > ready) return inProgress('LessReady', readyMessage);
  if (
    desired > 0 &&
    !(
      progressing?.status === 'True' &&
      progressing.reason === 'NewReplicaSetAvailable'
    )
  ) {
    return inProgress(
      'ReplicaSetNotAvailable',
      `${readyMessage}, new ReplicaSet not available yet`,
    );
  }
  if (desired > 0 && condition(object, 'Available')?.status !== 'True') {
    return inProgress(
      'DeploymentNotAvailable',
      `${readyMessage}, Deployment not Available`,
    );
  }
  return current(readyMessage);
}

function statefulSet(object: KubeObject): ObjectHealth {
  if (field(object, 'spec', 'updateStrategy', 'type') === 'OnDelete') {
    return current('StatefulSet uses the OnDelete update strategy');
  }
  const desired = int(object, 1, 'spec', 'replicas');
  const replicas = int(object, 0, 'status', 'replicas');
  const ready = int(object, 0, 'status', 'readyReplicas');
  const currentReplicas = int(object, 0, 'status', 'currentReplicas');
  const updated = int(object, 0, 'status', 'updatedReplicas');
  const partition = int(
    object,
    -1,
    'spec',
    'updateStrategy',
    'rollingUpdate',
    'partition',
  );
  const readyMessage = `Ready:${ready}/${desired}`;
  if (desired > replicas) return inProgress('LessReplicas', readyMessage);
  if (desired > ready) return inProgress('LessReady', readyMessage);
  if (replicas > desired)
    return inProgress(
      'ExtraPods',
      `${readyMessage}, ${replicas - desired} pending termination`,
    );
  if (partition !== -1) {
    if (updated < desired - partition) {
      return inProgress(
        'LessUpdated',
        `${readyMessage}, updated ${updated}/${desired - partition}`,
      );
    }
    return current(`${readyMessage}, partitioned roll out complete`);
  }
  if (desired > currentReplicas)
    return inProgress(
      'LessCurrent',
      `${readyMessage}, current ${currentReplicas}/${desired}`,
    );
  if (
    field(object, 'status', 'currentRevision') !==
    field(object, 'status', 'updateRevision')
  ) {
    return inProgress(
      'RevisionMismatch',
      `${readyMessage}, waiting for the updated revision`,
    );
  }
  return current(readyMessage);
}

function daemonSet(object: KubeObject): ObjectHealth {
  const desired = int(object, -1, 'status', 'desiredNumberScheduled');
  if (desired === -1)
    return inProgress(
      'NoDesiredNumber',
      'Missing .status.desiredNumberScheduled',
    );
  const ready = int(object, 0, 'status', 'numberReady');
  const readyMessage = `Ready:${ready}/${desired}`;
  const checks: Array<[string, string, number]> = [
    [
      'LessCurrent',
      'current',
      int(object, 0, 'status', 'currentNumberScheduled'),
    ],
    [
      'LessUpdated',
      'updated',
      int(object, 0, 'status', 'updatedNumberScheduled'),
    ],
    ['LessAvailable', 'available', int(object, 0, 'status', 'numberAvailable')],
    ['LessReady', 'ready', ready],
  ];
  for (const [reason, word, count] of checks) {
    if (desired > count)
      return inProgress(reason, `${readyMessage}, ${word} ${count}/${desired}`);
  }
  return current(readyMessage);
}

function replicaSet(object: KubeObject): ObjectHealth {
  const failure = condition(object, 'ReplicaFailure');
  if (failure?.status === 'True')
    return inProgress('ReplicaFailure', failure.message ?? 'Replica failure');
  const desired = int(object, 1, 'spec', 'replicas');
  const ready = int(object, 0, 'status', 'readyReplicas');
  const readyMessage = `Ready:${ready}/${desired}`;
  if (desired > int(object, 0, 'status', 'fullyLabeledReplicas'))
    return inProgress('LessLabelled', readyMessage);
  if (desired > int(object, 0, 'status', 'availableReplicas'))
    return inProgress('LessAvailable', readyMessage);
  if (desired > ready) return inProgress('LessReady', readyMessage);
  const replicas = int(object, 0, 'status', 'replicas');
  if (replicas > desired)
    return inProgress(
      'ExtraPods',
      `${readyMessage}, ${replicas - desired} pending termination`,
    );
  return current(readyMessage);
}

function pod(object: KubeObject): ObjectHealth {
  const phase = field(object, 'status', 'phase');
  if (phase === 'Succeeded') return current('Pod has completed successfully');
  if (phase === 'Failed')
    return failed('PodFailed', 'Pod has completed, but not successfully');
  if (phase === 'Running' && condition(object, 'Ready')?.status === 'True')
    return current('Pod is Ready');
  const statuses = field(object, 'status', 'containerStatuses');
  for (const status of Array.isArray(statuses) ? statuses : []) {
    const waiting = (status as { state?: { waiting?: { reason?: string } } })
      ?.state?.waiting;
    if (waiting?.reason === 'CrashLoopBackOff') {
      return failed(
        'ContainerCrashLooping',
        `Container ${
          (status as { name?: string }).name
        } is in CrashLoopBackOff`,
      );
    }
  }
  const scheduled = condition(object, 'PodScheduled');
  if (
    phase === 'Pending' &&
    scheduled?.status === 'False' &&
    scheduled.reason === 'Unschedulable'
  ) {
    return failed(
      'PodUnschedulable',
      `Pod could not be scheduled: ${scheduled.message ?? ''}`.trim(),
    );
  }
  return inProgress(
    'PodNotReady',
    `Pod is in the ${phase ?? 'Pending'} phase and not Ready`,
  );
}

function job(object: KubeObject): ObjectHealth {
  const parallelism = int(object, 1, 'spec', 'parallelism');
  const completions = int(object, parallelism, 'spec', 'completions');
  const succeeded = int(object, 0, 'status', 'succeeded');
  const active = int(object, 0, 'status', 'active');
  const failedCount = int(object, 0, 'status', 'failed');
  if (condition(object, 'Failed')?.status === 'True') {
    return failed(
      'JobFailed',
      `Job failed, failed ${failedCount}/${completions}`,
    );
  }
  if (condition(object, 'Complete')?.status === 'True') {
    return current(`Job completed, succeeded ${succeeded}/${completions}`);
  }
  if (!field(object, 'status', 'startTime'))
    return inProgress('JobNotStarted', 'Job not started');
  return inProgress(
    'JobInProgress',
    `Job in progress, succeeded ${succeeded}, active ${active}, failed ${failedCount}`,
  );
}

function crd(object: KubeObject): ObjectHealth {
  if (condition(object, 'NamesAccepted')?.status === 'False') {
    return failed(
      'NamesNotAccepted',
      condition(object, 'NamesAccepted')?.message ?? 'CRD names not accepted',
    );
  }
  if (condition(object, 'Established')?.status === 'True')
    return current('CRD is established');
  return inProgress('Installing', 'CRD is being established');
}

function service(object: KubeObject): ObjectHealth {
  if (
    field(object, 'spec', 'type') === 'LoadBalancer' &&
    !field(object, 'spec', 'clusterIP')
  ) {
    return inProgress('NoClusterIP', 'ClusterIP not set');
  }
  return current('Service is ready');
}

function pvc(object: KubeObject): ObjectHealth {
  return field(object, 'status', 'phase') === 'Bound'
    ? current('PVC is Bound')
    : inProgress('NotBound', 'PVC is not Bound');
}

function pdb(object: KubeObject): ObjectHealth {
  const healthy = int(object, 0, 'status', 'currentHealthy');
  const wanted = int(object, 0, 'status', 'desiredHealthy');
  return healthy >= wanted
    ? current(`Budget met, healthy ${healthy}/${wanted}`)
    : inProgress(
        'BudgetNotMet',
        `Budget not met, healthy ${healthy}/${wanted}`,
      );
}

/**
 * An Application that another one applied (the seed's git-app applying
 * first-vela-workflow): healthy once its controller reports it running for
 * the current spec, so a parent is not healthy before its child rolled out.
 */
function application(object: KubeObject): ObjectHealth {
  const phase = field(object, 'status', 'status');
  if (typeof field(object, 'status', 'observedGeneration') !== 'number') {
    return inProgress(
      'NotObserved',
      'The Application has not been reconciled yet',
    );
  }
  if (phase === 'running') return current('running');
  if (phase === 'workflowFailed' || phase === 'workflowTerminated') {
    return failed(phase, `The Application is ${phase}`);
  }
  return inProgress(
    String(phase ?? 'Pending'),
    `The Application is ${phase ?? 'pending'}`,
  );
}

/** Kinds with their own rules, keyed by `group/Kind`; everything else uses conditions. */
const RULES: Record<string, (object: KubeObject) => ObjectHealth> = {
  [`${APPLICATION_GVK.group}/${APPLICATION_GVK.kind}`]: application,
  'apps/Deployment': deployment,
  'apps/StatefulSet': statefulSet,
  'apps/DaemonSet': daemonSet,
  'apps/ReplicaSet': replicaSet,
  '/Pod': pod,
  'batch/Job': job,
  'apiextensions.k8s.io/CustomResourceDefinition': crd,
  '/Service': service,
  '/PersistentVolumeClaim': pvc,
  'policy/PodDisruptionBudget': pdb,
};

/** Generic kstatus: `Stalled`, `Reconciling`, then a `Ready` condition if the kind has one. */
function byConditions(object: KubeObject): ObjectHealth {
  const stalled = condition(object, 'Stalled');
  if (stalled?.status === 'True')
    return failed(stalled.reason ?? 'Stalled', stalled.message ?? 'Stalled');
  const reconciling = condition(object, 'Reconciling');
  if (reconciling?.status === 'True') {
    return inProgress(
      reconciling.reason ?? 'Reconciling',
      reconciling.message ?? 'Reconciling',
    );
  }
  const ready = condition(object, 'Ready');
  if (ready?.status === 'False')
    return inProgress(ready.reason ?? 'NotReady', ready.message ?? 'Not Ready');
  return current(ready?.status === 'True' ? 'Ready' : 'Resource is current');
}

/**
 * The kstatus health of one live object (undefined: it does not exist). Pure,
 * so it runs on objects from any source: a watch, a list, a test table.
 */
export function assessHealth(object: KubeObject | undefined): ObjectHealth {
  if (!object)
    return {
      status: 'NotFound',
      reason: 'NotFound',
      message: 'Not found in the cluster',
    };
  if (field(object, 'metadata', 'deletionTimestamp')) {
    return inProgress('Terminating', `${object.kind} is being deleted`);
  }
  const generation = field(object, 'metadata', 'generation');
  const observed = field(object, 'status', 'observedGeneration');
  if (
    typeof generation === 'number' &&
    typeof observed === 'number' &&
    observed < generation
  ) {
    return inProgress(
      'NotObserved',
      `${object.kind} generation is ${generation}, but the controller has observed ${observed}`,
    );
  }
  const rule = RULES[`${groupOf(object.apiVersion)}/${object.kind}`];
  if (!rule) return byConditions(object);
  const stalled = condition(object, 'Stalled');
  if (stalled?.status === 'True')
    return failed(stalled.reason ?? 'Stalled', stalled.message ?? 'Stalled');
  return rule(object);
}
