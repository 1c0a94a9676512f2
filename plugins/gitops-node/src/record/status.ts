import type {
  ApplicationCondition,
  ApplicationPhase,
  ComponentStatus,
} from '@gitops-workflow/plugin-gitops-common';
import {
  assessHealth,
  worstHealth,
  type HealthStatus,
  type ObjectHealth,
} from '../assess';
import {
  apiVersionOf,
  describeObject,
  objectKey,
  type ObjectRef,
} from '../model/objects';
import type { RenderedApplication } from '../render/render';
import type { Application, ApplicationStatus, KubeObject } from '../model/types';

/** One component's health, from its live objects. */
export interface ComponentHealth {
  name: string;
  type: string;
  status: HealthStatus;
  healthy: boolean;
  message: string;
  traits: Array<{ type: string; healthy: boolean; message?: string }>;
}

/**
 * Health of every component of a rendered Application, given its live
 * objects by `objectKey` (a missing key means the object is not in the cluster).
 * Component health is the worst of its objects; its message is the workload's
 * (`Ready:1/1`) unless another object is worse.
 */
export function assessComponents(
  rendered: RenderedApplication,
  live: ReadonlyMap<string, KubeObject>,
): ComponentHealth[] {
  const healthOf = new Map<
    string,
    ObjectHealth & { key: string; object: KubeObject }
  >();
  for (const object of rendered.objects) {
    const key = objectKey(object);
    healthOf.set(key, { ...assessHealth(live.get(key)), key, object });
  }
  const describe = (
    h: ObjectHealth & { key: string; object: KubeObject },
    workloadKey?: string,
  ) =>
    h.key === workloadKey
      ? h.message
      : `${describeObject(h.object)}: ${h.message}`;

  return rendered.components.map(component => {
    const healths = component.objects.map(o => healthOf.get(objectKey(o))!);
    const worst = worstHealth(healths) as ObjectHealth & {
      key?: string;
      object?: KubeObject;
    };
    const workload = component.workloadKey
      ? healthOf.get(component.workloadKey)
      : undefined;
    let message = '';
    if (worst.status !== 'Current' && worst.key) {
      message = describe(
        worst as ObjectHealth & { key: string; object: KubeObject },
        component.workloadKey,
      );
    } else if (workload) {
      message = workload.message;
    }
    return {
      name: component.name,
      type: component.type,
      status: worst.status,
      healthy: worst.status === 'Current',
      message,
      traits: component.traits.map(trait => {
        const traitWorst = worstHealth(
          trait.objectKeys.map(k => healthOf.get(k)!).filter(Boolean),
        );
        const out: { type: string; healthy: boolean; message?: string } = {
          type: trait.type,
          healthy: traitWorst.status === 'Current',
        };
        if (traitWorst.status !== 'Current') out.message = traitWorst.message;
        return out;
      }),
    };
  });
}

/** Where a reconcile stopped, if it did not get through. */
export interface ReconcileFailure {
  stage: 'parse' | 'render' | 'apply';
  message: string;
  /** e.g. `Conflict` when another Application owns an object. */
  reason?: string;
}

export interface StatusInput {
  app: Pick<Application, 'metadata'> & { spec?: Application['spec'] };
  /** Cluster name for `services[].cluster` (KubeVela writes `local` for its own). */
  cluster?: string;
  failure?: ReconcileFailure;
  components?: ComponentHealth[];
  /** What the apply step left in the cluster, and what it found edited outside Git. */
  applied?: { inventory: ObjectRef[]; drifted: string[] };
  /** A workflow engine's own phase (suspended, terminated…) wins over the health-derived one. */
  workflowPhase?: ApplicationPhase;
  /** The status as last written, so unchanged conditions keep their transition time. */
  previous?: ApplicationStatus;
  now?: Date;
}

const FAILURE_REASONS = {
  parse: 'ParseFailed',
  render: 'RenderFailed',
  apply: 'ApplyFailed',
} as const;
const STAGE_CONDITIONS = {
  parse: 'Parsed',
  render: 'Render',
  apply: 'Applied',
} as const;

/**
 * The Application's `status` in KubeVela's shape: phase, `services[]` and
 * conditions whose reasons say what to do.
 */
export function computeStatus(input: StatusInput): ApplicationStatus {
  const now = (input.now ?? new Date()).toISOString().replace(/\.\d+Z$/, 'Z');
  const previous = new Map(
    (input.previous?.conditions ?? []).map(c => [c.type, c]),
  );
  const condition = (
    type: string,
    ok: boolean,
    reason: string,
    message = '',
  ): ApplicationCondition => {
    const status = ok ? 'True' : 'False';
    const before = previous.get(type);
    const unchanged =
      before && before.status === status && before.reason === reason;
    return {
      type,
      status,
      reason,
      message,
      lastTransitionTime:
        unchanged && before.lastTransitionTime
          ? before.lastTransitionTime
          : now,
    };
  };

  const conditions: ApplicationCondition[] = [];
  const failure = input.failure;
  const stages = ['parse', 'render', 'apply'] as const;
  for (const stage of stages) {
    if (failure?.stage === stage) {
      conditions.push(
        condition(
          STAGE_CONDITIONS[stage],
          false,
          failure.reason ?? FAILURE_REASONS[stage],
          failure.message,
        ),
      );
      break;
    }
    if (stage === 'apply') {
      const drifted = input.applied?.drifted ?? [];
      conditions.push(
        drifted.length > 0
          ? condition(
              'Applied',
              true,
              'DriftCorrected',
              `Changed outside Git and restored: ${drifted.join(', ')}`,
            )
          : condition('Applied', true, 'Available'),
      );
    } else {
      conditions.push(condition(STAGE_CONDITIONS[stage], true, 'Available'));
    }
  }

  const components = input.components ?? [];
  const cluster = input.cluster ?? 'local';
  const services: ComponentStatus[] = components.map(c => ({
    name: c.name,
    namespace: input.app.metadata.namespace,
    cluster,
    healthy: c.healthy,
    message: c.message,
    traits: c.traits,
  }));

  let phase: ApplicationPhase;
  if (failure) {
    phase = failure.stage === 'apply' ? 'workflowFailed' : 'rendering';
  } else {
    const worst = worstHealth(
      components.map(c => ({
        status: c.status,
        message: `${c.name}: ${c.message}`,
      })),
    );
    if (worst.status === 'Current') {
      conditions.push(condition('Ready', true, 'Available'));
      phase = 'running';
    } else if (worst.status === 'InProgress' || worst.status === 'Unknown') {
      conditions.push(condition('Ready', false, 'Progressing', worst.message));
      phase = 'runningWorkflow';
    } else {
      conditions.push(condition('Ready', false, 'Unhealthy', worst.message));
      phase = 'unhealthy';
    }
  }
  if (input.workflowPhase) phase = input.workflowPhase;

  const status: ApplicationStatus = { status: phase, services, conditions };
  if (input.applied) {
    status.appliedResources = input.applied.inventory.map(ref => {
      const resource: NonNullable<
        ApplicationStatus['appliedResources']
      >[number] = {
        apiVersion: apiVersionOf(ref),
        kind: ref.kind,
        name: ref.name,
        cluster,
      };
      if (ref.namespace) resource.namespace = ref.namespace;
      return resource;
    });
  } else if (input.previous?.appliedResources) {
    // A failed reconcile changed nothing in the cluster: what was applied still is.
    status.appliedResources = input.previous.appliedResources;
  }
  if (input.app.metadata.generation !== undefined) {
    status.observedGeneration = input.app.metadata.generation;
  }
  return status;
}
