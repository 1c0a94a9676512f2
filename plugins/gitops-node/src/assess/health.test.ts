import type { KubeObject } from '../kube/objects';
import { assessHealth, worstHealth } from './health';

const obj = (
  apiVersion: string,
  kind: string,
  rest: Record<string, unknown> = {},
): KubeObject => ({
  apiVersion,
  kind,
  metadata: {
    name: 'x',
    namespace: 'default',
    generation: 2,
    ...(rest.metadata as object),
  },
  ...rest,
});

const deployment = (
  spec: Record<string, unknown>,
  status: Record<string, unknown>,
) => obj('apps/v1', 'Deployment', { spec, status });

const progressing = {
  type: 'Progressing',
  status: 'True',
  reason: 'NewReplicaSetAvailable',
};
const available = {
  type: 'Available',
  status: 'True',
  reason: 'MinimumReplicasAvailable',
};
const fullStatus = (n: number) => ({
  observedGeneration: 2,
  replicas: n,
  updatedReplicas: n,
  readyReplicas: n,
  availableReplicas: n,
  conditions: [progressing, available],
});

describe('assessHealth', () => {
  it.each<[string, KubeObject | undefined, string, string]>([
    [
      'rolled-out Deployment',
      deployment({ replicas: 1 }, fullStatus(1)),
      'Current',
      'Ready:1/1',
    ],
    [
      'default replicas 1',
      deployment({}, fullStatus(1)),
      'Current',
      'Ready:1/1',
    ],
    [
      'not yet observed',
      deployment({ replicas: 1 }, { ...fullStatus(1), observedGeneration: 1 }),
      'InProgress',
      'Deployment generation is 2, but the controller has observed 1',
    ],
    [
      'no pods yet',
      deployment({ replicas: 1 }, { observedGeneration: 2 }),
      'InProgress',
      'Ready:0/1',
    ],
    [
      'scaling up',
      deployment({ replicas: 3 }, { ...fullStatus(1) }),
      'InProgress',
      'Ready:1/3',
    ],
    [
      'updated not ready',
      deployment(
        { replicas: 2 },
        { ...fullStatus(2), readyReplicas: 1, availableReplicas: 1 },
      ),
      'InProgress',
      'Ready:1/2, available 1/2',
    ],
    [
      'old pods terminating',
      deployment({ replicas: 1 }, { ...fullStatus(1), replicas: 2 }),
      'InProgress',
      'Ready:1/1, 1 pending termination',
    ],
    [
      'progress deadline',
      deployment(
        { replicas: 1 },
        {
          observedGeneration: 2,
          replicas: 1,
          conditions: [
            {
              type: 'Progressing',
              status: 'False',
              reason: 'ProgressDeadlineExceeded',
              message: 'ReplicaSet "x-1" has timed out progressing.',
            },
          ],
        },
      ),
      'Failed',
      'Ready:0/1, progress deadline exceeded: ReplicaSet "x-1" has timed out progressing.',
    ],
    [
      'scaled to zero',
      deployment({ replicas: 0 }, { observedGeneration: 2 }),
      'Current',
      'Ready:0/0',
    ],
    [
      'Pod crash looping',
      obj('v1', 'Pod', {
        status: {
          phase: 'Running',
          containerStatuses: [
            { name: 'app', state: { waiting: { reason: 'CrashLoopBackOff' } } },
          ],
        },
      }),
      'Failed',
      'Container app is in CrashLoopBackOff',
    ],
    [
      'Pod unschedulable',
      obj('v1', 'Pod', {
        status: {
          phase: 'Pending',
          conditions: [
            {
              type: 'PodScheduled',
              status: 'False',
              reason: 'Unschedulable',
              message: '0/1 nodes are available',
            },
          ],
        },
      }),
      'Failed',
      'Pod could not be scheduled: 0/1 nodes are available',
    ],
    [
      'Pod ready',
      obj('v1', 'Pod', {
        status: {
          phase: 'Running',
          conditions: [{ type: 'Ready', status: 'True' }],
        },
      }),
      'Current',
      'Pod is Ready',
    ],
    [
      'Pod starting',
      obj('v1', 'Pod', { status: { phase: 'Pending' } }),
      'InProgress',
      'Pod is in the Pending phase and not Ready',
    ],
    [
      'ConfigMap',
      obj('v1', 'ConfigMap', { data: {} }),
      'Current',
      'Resource is current',
    ],
    ['Secret', obj('v1', 'Secret'), 'Current', 'Resource is current'],
    [
      'ClusterIP Service',
      obj('v1', 'Service', {
        spec: { type: 'ClusterIP', clusterIP: '10.0.0.1' },
      }),
      'Current',
      'Service is ready',
    ],
    [
      'LoadBalancer without IP',
      obj('v1', 'Service', { spec: { type: 'LoadBalancer' } }),
      'InProgress',
      'ClusterIP not set',
    ],
    [
      'Ingress',
      obj('networking.k8s.io/v1', 'Ingress', { spec: {} }),
      'Current',
      'Resource is current',
    ],
    [
      'StatefulSet rolled out',
      obj('apps/v1', 'StatefulSet', {
        spec: { replicas: 2 },
        status: {
          observedGeneration: 2,
          replicas: 2,
          readyReplicas: 2,
          currentReplicas: 2,
          updatedReplicas: 2,
          currentRevision: 'a',
          updateRevision: 'a',
        },
      }),
      'Current',
      'Ready:2/2',
    ],
    [
      'StatefulSet mid-update',
      obj('apps/v1', 'StatefulSet', {
        spec: { replicas: 2 },
        status: {
          observedGeneration: 2,
          replicas: 2,
          readyReplicas: 2,
          currentReplicas: 2,
          updatedReplicas: 1,
          currentRevision: 'a',
          updateRevision: 'b',
        },
      }),
      'InProgress',
      'Ready:2/2, waiting for the updated revision',
    ],
    [
      'DaemonSet partial',
      obj('apps/v1', 'DaemonSet', {
        status: {
          observedGeneration: 2,
          desiredNumberScheduled: 3,
          currentNumberScheduled: 3,
          updatedNumberScheduled: 3,
          numberAvailable: 2,
          numberReady: 2,
        },
      }),
      'InProgress',
      'Ready:2/3, available 2/3',
    ],
    [
      'ReplicaSet ready',
      obj('apps/v1', 'ReplicaSet', {
        spec: { replicas: 1 },
        status: {
          observedGeneration: 2,
          replicas: 1,
          fullyLabeledReplicas: 1,
          availableReplicas: 1,
          readyReplicas: 1,
        },
      }),
      'Current',
      'Ready:1/1',
    ],
    [
      'Job done',
      obj('batch/v1', 'Job', {
        spec: { completions: 1 },
        status: {
          succeeded: 1,
          startTime: 't',
          conditions: [{ type: 'Complete', status: 'True' }],
        },
      }),
      'Current',
      'Job completed, succeeded 1/1',
    ],
    [
      'Job failed',
      obj('batch/v1', 'Job', {
        spec: {},
        status: {
          failed: 6,
          startTime: 't',
          conditions: [{ type: 'Failed', status: 'True' }],
        },
      }),
      'Failed',
      'Job failed, failed 6/1',
    ],
    [
      'Job running',
      obj('batch/v1', 'Job', {
        spec: {},
        status: { active: 1, startTime: 't' },
      }),
      'InProgress',
      'Job in progress, succeeded 0, active 1, failed 0',
    ],
    [
      'CRD established',
      obj('apiextensions.k8s.io/v1', 'CustomResourceDefinition', {
        status: { conditions: [{ type: 'Established', status: 'True' }] },
      }),
      'Current',
      'CRD is established',
    ],
    [
      'custom Ready=False',
      obj('example.com/v1', 'Widget', {
        status: {
          conditions: [
            {
              type: 'Ready',
              status: 'False',
              reason: 'Waiting',
              message: 'waiting for db',
            },
          ],
        },
      }),
      'InProgress',
      'waiting for db',
    ],
    [
      'custom Stalled',
      obj('example.com/v1', 'Widget', {
        status: {
          conditions: [
            {
              type: 'Stalled',
              status: 'True',
              reason: 'Broken',
              message: 'bad spec',
            },
          ],
        },
      }),
      'Failed',
      'bad spec',
    ],
    [
      'custom Reconciling',
      obj('example.com/v1', 'Widget', {
        status: {
          conditions: [
            { type: 'Reconciling', status: 'True', message: 'working' },
          ],
        },
      }),
      'InProgress',
      'working',
    ],
    [
      'custom Ready=True',
      obj('example.com/v1', 'Widget', {
        status: { conditions: [{ type: 'Ready', status: 'True' }] },
      }),
      'Current',
      'Ready',
    ],
    [
      'being deleted',
      obj('v1', 'ConfigMap', {
        metadata: { name: 'x', deletionTimestamp: 't' },
      }),
      'InProgress',
      'ConfigMap is being deleted',
    ],
    ['missing', undefined, 'NotFound', 'Not found in the cluster'],
  ])('%s', (_name, object, status, message) => {
    expect(assessHealth(object)).toMatchObject({ status, message });
  });

  it('combines to the worst', () => {
    const ok = { status: 'Current' as const, message: 'a' };
    const slow = { status: 'InProgress' as const, message: 'b' };
    const gone = { status: 'NotFound' as const, message: 'c' };
    const broken = { status: 'Failed' as const, message: 'd' };
    expect(worstHealth([ok, slow, ok]).message).toBe('b');
    expect(worstHealth([gone, broken, slow]).message).toBe('d');
    expect(worstHealth([ok, gone]).message).toBe('c');
    expect(worstHealth([]).status).toBe('Current');
  });
});
