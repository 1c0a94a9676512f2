import { labelSelectorOf } from './resourceTree';

const workload = (selector?: object) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'default' },
  spec: { selector },
});

describe('labelSelectorOf', () => {
  it('lists by every term of a workload selector, as the API server reads them', () => {
    expect(
      labelSelectorOf(
        workload({
          matchLabels: { app: 'web', tier: 'front' },
          matchExpressions: [
            { key: 'track', operator: 'In', values: ['stable', 'canary'] },
            { key: 'env', operator: 'NotIn', values: ['dev'] },
            { key: 'release', operator: 'Exists' },
            { key: 'legacy', operator: 'DoesNotExist' },
          ],
        }),
      ),
    ).toBe(
      'app=web,tier=front,track in (stable,canary),env notin (dev),release,!legacy',
    );
  });

  it('lists nothing for a missing or empty selector, which would match every Pod of the namespace', () => {
    expect(labelSelectorOf(workload())).toBeUndefined();
    expect(labelSelectorOf(workload({}))).toBeUndefined();
    expect(labelSelectorOf(workload({ matchLabels: {} }))).toBeUndefined();
  });
});
