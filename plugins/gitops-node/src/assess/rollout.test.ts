import type { KubeObject } from '../kube/objects';
import { rollbackPolicyOf, type RollbackPolicy } from '../model/kustomize';
import { assessRollout, type RolloutUpdate } from './rollout';

const IMAGE = 'registry.test/app';
const appliedAt = '2026-12-01T10:00:00.000Z';
const at = (seconds: number) =>
  new Date(new Date(appliedAt).getTime() + seconds * 1000);
const policy: RollbackPolicy = {
  onFailure: true,
  after: '20s',
  afterMs: 20_000,
};
const update: RolloutUpdate = { image: IMAGE, action: 'update', appliedAt };

const deployment = (
  status: Record<string, unknown>,
  image = `${IMAGE}:0.1.6`,
  name = 'web',
): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: 'default', generation: 2 },
  spec: {
    replicas: 1,
    template: { spec: { containers: [{ name: 'app', image }] } },
  },
  status: { observedGeneration: 2, ...status },
});

const rolledOut = deployment({
  replicas: 1,
  updatedReplicas: 1,
  readyReplicas: 1,
  availableReplicas: 1,
  conditions: [
    { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' },
    { type: 'Available', status: 'True' },
  ],
});
// The old pod still serves while the new one never becomes ready.
const stuck = deployment({
  replicas: 2,
  updatedReplicas: 1,
  readyReplicas: 1,
  availableReplicas: 1,
  conditions: [
    { type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated' },
  ],
});
const pastDeadline = deployment({
  ...(stuck.status as object),
  conditions: [
    {
      type: 'Progressing',
      status: 'False',
      reason: 'ProgressDeadlineExceeded',
      message: 'ReplicaSet "web-5f7c" has timed out progressing.',
    },
  ],
});

describe('assessRollout', () => {
  it('fails a rollout whose Deployment passed its progress deadline, before `after`', () => {
    expect(
      assessRollout({ update, workloads: [pastDeadline], policy, now: at(5) }),
    ).toEqual({
      failed: true,
      why: 'Deployment default/web failed (ProgressDeadlineExceeded): Ready:1/1, progress deadline exceeded: ReplicaSet "web-5f7c" has timed out progressing.',
    });
  });

  it('waits while the rollout is in progress, and fails it once `after` has passed since it was applied', () => {
    expect(
      assessRollout({ update, workloads: [stuck], policy, now: at(19) }),
    ).toEqual({ failed: false });
    expect(
      assessRollout({ update, workloads: [stuck], policy, now: at(20) }),
    ).toEqual({
      failed: true,
      why: 'not healthy 20s after it was applied: Deployment default/web: Ready:1/1, 1 pending termination',
    });
  });

  it('does not fail a rollout whose workloads are current, however late', () => {
    expect(
      assessRollout({ update, workloads: [rolledOut], policy, now: at(3600) }),
    ).toEqual({ failed: false });
  });

  it('names the workload of the image that failed, and ignores workloads running other images', () => {
    const redis = deployment(
      (pastDeadline.status as Record<string, unknown>) ?? {},
      'redis:7',
      'redis',
    );
    expect(
      assessRollout({ update, workloads: [redis], policy, now: at(3600) }),
    ).toEqual({ failed: false });
    const verdict = assessRollout({
      update,
      workloads: [redis, rolledOut, pastDeadline],
      policy,
      now: at(1),
    });
    expect(verdict).toMatchObject({
      failed: true,
      why: expect.stringMatching(/^Deployment default\/web failed/),
    });
  });

  it('judges images pinned by digest too', () => {
    const pinned = deployment(
      pastDeadline.status as Record<string, unknown>,
      `${IMAGE}:0.1.6@sha256:${'a'.repeat(64)}`,
    );
    expect(
      assessRollout({ update, workloads: [pinned], policy, now: at(1) }),
    ).toMatchObject({ failed: true });
  });

  it.each<[string, Partial<RolloutUpdate> | undefined]>([
    ['no update yet', undefined],
    ['an update not applied yet', { appliedAt: undefined }],
    ['an update that was healthy once', { healthyAt: appliedAt }],
    ['an update already judged failed', { failedAt: appliedAt }],
    ['an update already rolled back', { rolledBackAt: appliedAt }],
    ["a person's rollback", { action: 'rollback' }],
    ["the automatic rollback's own commit", { action: 'automaticRollback' }],
  ])('never judges %s', (_, change) => {
    expect(
      assessRollout({
        update: change && { ...update, ...change },
        workloads: [pastDeadline],
        policy,
        now: at(3600),
      }),
    ).toEqual({ failed: false });
  });

  it('judges an update committed when automation resumed after a hold', () => {
    expect(
      assessRollout({
        update: { ...update, action: 'release' },
        workloads: [pastDeadline],
        policy,
        now: at(1),
      }),
    ).toMatchObject({ failed: true });
  });

  it('never judges a component without the policy switched on', () => {
    for (const off of [undefined, { ...policy, onFailure: false }]) {
      expect(
        assessRollout({
          update,
          workloads: [pastDeadline],
          policy: off,
          now: at(3600),
        }),
      ).toEqual({ failed: false });
    }
  });

  it('does not blame the image for a workload that is gone or has no pods of it', () => {
    expect(
      assessRollout({ update, workloads: [], policy, now: at(3600) }),
    ).toEqual({ failed: false });
    const configMap: KubeObject = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'c', namespace: 'default' },
    };
    expect(
      assessRollout({ update, workloads: [configMap], policy, now: at(3600) }),
    ).toEqual({ failed: false });
  });
});

describe('rollbackPolicyOf', () => {
  const props = (rollback: unknown) => ({
    url: 'http://git.test/repo',
    imageRepository: { image: IMAGE, rollback } as never,
  });

  it('waits 5m by default, and is off unless onFailure is true and valid', () => {
    expect(rollbackPolicyOf(props({ onFailure: true }))).toEqual({
      onFailure: true,
      after: '5m',
      afterMs: 300_000,
    });
    expect(rollbackPolicyOf(props({ onFailure: false }))).toBeUndefined();
    expect(rollbackPolicyOf(props(undefined))).toBeUndefined();
    expect(
      rollbackPolicyOf(props({ onFailure: true, after: 'soon' })),
    ).toBeUndefined();
    expect(
      rollbackPolicyOf(props({ onFailure: true, after: '1m30s' }))?.afterMs,
    ).toBe(90_000);
  });
});
