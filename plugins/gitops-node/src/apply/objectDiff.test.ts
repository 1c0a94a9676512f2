import { HIDDEN_CHANGED_VALUE, HIDDEN_VALUE, objectDiff } from './objectDiff';

const deployment = (replicas: number, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: {
    name: 'web',
    namespace: 'default',
    uid: 'b9d1c7a2',
    resourceVersion: '4711',
    generation: replicas,
    creationTimestamp: '2026-12-01T10:00:00Z',
    managedFields: [{ manager: 'gitops-backstage', operation: 'Apply' }],
    ...extra,
  },
  spec: {
    replicas,
    selector: { matchLabels: { app: 'web' } },
    template: {
      metadata: { labels: { app: 'web' } },
      spec: { containers: [{ name: 'web', image: 'registry.local/web:1' }] },
    },
  },
  status: { replicas: 1, readyReplicas: 1 },
});

const secret = (data: Record<string, string>, annotations = {}) => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: 'db', namespace: 'default', annotations },
  type: 'Opaque',
  data,
});

const changedLines = (diff: string) =>
  diff
    .split('\n')
    .filter(
      l => /^[-+]/.test(l) && !l.startsWith('---') && !l.startsWith('+++'),
    );

describe('objectDiff', () => {
  it('shows exactly the field that changes, not bookkeeping or status', () => {
    const diff = objectDiff(
      deployment(1),
      deployment(3, { resourceVersion: '4712' }),
    );
    expect(changedLines(diff)).toEqual(['-  replicas: 1', '+  replicas: 3']);
    expect(diff).toMatch(/^--- live\n\+\+\+ after sync\n@@ /);
    for (const hidden of [
      'managedFields',
      'resourceVersion',
      'generation',
      'uid',
      'creationTimestamp',
      'readyReplicas',
    ]) {
      expect(diff).not.toContain(hidden);
    }
  });

  it('is empty when only bookkeeping and status differ', () => {
    const after = deployment(1, { resourceVersion: '9', generation: 9 });
    after.status = { replicas: 0, readyReplicas: 0 };
    expect(objectDiff(deployment(1), after)).toBe('');
  });

  it('shows a new object as added lines only', () => {
    const lines = changedLines(objectDiff(undefined, deployment(2)));
    expect(lines.length).toBeGreaterThan(5);
    expect(lines.every(l => l.startsWith('+'))).toBe(true);
    expect(lines).toContain('+  replicas: 2');
  });

  it('never shows a value of a Secret, but which keys change', () => {
    const before = secret(
      { password: 'b2xkLXBhc3N3b3Jk', user: 'YWRtaW4=' },
      {
        'kubectl.kubernetes.io/last-applied-configuration':
          '{"data":{"password":"b2xkLXBhc3N3b3Jk"}}',
      },
    );
    const after = secret(
      { password: 'bmV3LXBhc3N3b3Jk', user: 'YWRtaW4=', token: 'dG9rZW4=' },
      {
        'kubectl.kubernetes.io/last-applied-configuration':
          '{"data":{"password":"bmV3LXBhc3N3b3Jk"}}',
      },
    );
    const diff = objectDiff(before, after);
    for (const value of [
      'b2xkLXBhc3N3b3Jk',
      'bmV3LXBhc3N3b3Jk',
      'YWRtaW4=',
      'dG9rZW4=',
    ]) {
      expect(diff).not.toContain(value);
    }
    expect(changedLines(diff)).toEqual([
      `-  password: ${HIDDEN_VALUE}`,
      `+  password: ${HIDDEN_CHANGED_VALUE}`,
      `+  token: ${HIDDEN_CHANGED_VALUE}`,
    ]);
  });

  it('masks the values of a Secret to be created', () => {
    const diff = objectDiff(undefined, secret({ password: 'c2VjcmV0' }));
    expect(diff).not.toContain('c2VjcmV0');
    expect(diff).toContain(`+  password: ${HIDDEN_VALUE}`);
  });
});
