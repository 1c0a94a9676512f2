import type { KubeObject } from '../kube/objects';
import { isPodWorkload, podImagesOf } from './images';
import { latestReadySince, readySince } from './readySince';

const deployment = (conditions: object[]): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'test-server', namespace: 'default' },
  spec: {
    template: {
      spec: {
        initContainers: [{ name: 'init', image: 'busybox:1' }],
        containers: [
          { name: 'web', image: 'registry.local/gitops:master-b-2' },
          { name: 'proxy', image: 'envoy:1.30' },
        ],
      },
    },
  },
  status: { conditions },
});

describe('readySince', () => {
  it("takes a Deployment's completed rollout: Progressing's update time at NewReplicaSetAvailable", () => {
    const rolledOut = deployment([
      {
        type: 'Available',
        status: 'True',
        reason: 'MinimumReplicasAvailable',
        lastUpdateTime: '2026-12-01T09:00:00Z',
        lastTransitionTime: '2026-12-01T09:00:00Z',
      },
      {
        type: 'Progressing',
        status: 'True',
        reason: 'NewReplicaSetAvailable',
        lastUpdateTime: '2026-12-01T10:00:09Z',
        lastTransitionTime: '2026-12-01T09:00:00Z',
      },
    ]);
    expect(readySince(rolledOut)?.toISOString()).toBe(
      '2026-12-01T10:00:09.000Z',
    );
    // Mid-rollout the Deployment records no such time.
    expect(
      readySince(
        deployment([
          {
            type: 'Progressing',
            status: 'True',
            reason: 'ReplicaSetUpdated',
            lastUpdateTime: '2026-12-01T10:00:05Z',
          },
        ]),
      ),
    ).toBeUndefined();
  });

  it("takes an Application's (or any object's) Ready transition, and the latest of several", () => {
    const application: KubeObject = {
      apiVersion: 'core.oam.dev/v1beta1',
      kind: 'Application',
      metadata: { name: 'first-vela-workflow' },
      status: {
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            lastTransitionTime: '2026-12-01T10:00:12Z',
          },
        ],
      },
    };
    const configMap: KubeObject = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'c' },
    };
    expect(readySince(configMap)).toBeUndefined();
    expect(
      latestReadySince([
        configMap,
        undefined,
        application,
        deployment([
          {
            type: 'Progressing',
            status: 'True',
            reason: 'NewReplicaSetAvailable',
            lastUpdateTime: '2026-12-01T10:00:09Z',
          },
        ]),
      ])?.toISOString(),
    ).toBe('2026-12-01T10:00:12.000Z');
  });
});

describe('podImagesOf', () => {
  it('reads the containers that run, not the init containers, of workloads only', () => {
    expect(podImagesOf(deployment([]))).toEqual([
      'registry.local/gitops:master-b-2',
      'envoy:1.30',
    ]);
    expect(
      podImagesOf({
        apiVersion: 'batch/v1',
        kind: 'CronJob',
        metadata: { name: 'nightly' },
        spec: {
          jobTemplate: {
            spec: { template: { spec: { containers: [{ image: 'job:1' }] } } },
          },
        },
      }),
    ).toEqual(['job:1']);
    expect(
      podImagesOf({
        apiVersion: 'core.oam.dev/v1beta1',
        kind: 'Application',
        metadata: { name: 'first-vela-workflow' },
      }),
    ).toBeUndefined();
    expect(isPodWorkload('apps/v1', 'Deployment')).toBe(true);
    expect(isPodWorkload('example.com/v1', 'Deployment')).toBe(false);
  });
});
