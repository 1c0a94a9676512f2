import { formatApplicationTable } from './ls';

const app = (
  name: string,
  namespace: string,
  components: unknown[],
  status?: unknown,
) => ({
  apiVersion: 'core.oam.dev/v1beta1',
  kind: 'Application',
  metadata: { name, namespace, creationTimestamp: '2021-09-10T03:23:34Z' },
  spec: { components },
  status,
});

describe('formatApplicationTable', () => {
  it('prints one row per component, like vela ls', () => {
    const table = formatApplicationTable(
      [
        app('git-app', 'default', [{ name: 'gitops', type: 'kustomize' }], {
          status: 'running',
          services: [{ name: 'gitops', healthy: true, message: '' }],
        }),
        app(
          'first-vela-workflow',
          'default',
          [
            {
              name: 'test-server',
              type: 'webservice',
              traits: [{ type: 'ingress' }, { type: 'scaler' }],
            },
            { name: 'worker', type: 'worker' },
          ],
          {
            status: 'runningWorkflow',
            services: [
              { name: 'test-server', healthy: true, message: 'Ready:1/1' },
              { name: 'worker', healthy: false, message: 'Ready:0/1' },
            ],
          },
        ),
        app('fresh', 'default', [{ name: 'c', type: 'worker' }]),
      ],
      false,
    );
    expect(table.split('\n')).toEqual([
      'APP                  COMPONENT    TYPE        TRAITS          PHASE            HEALTHY    STATUS     CREATED-TIME',
      'first-vela-workflow  test-server  webservice  ingress,scaler  runningWorkflow  healthy    Ready:1/1  2021-09-10 03:23:34 +0000 UTC',
      '└─                   worker       worker                      runningWorkflow  unhealthy  Ready:0/1  2021-09-10 03:23:34 +0000 UTC',
      'fresh                c            worker                                                             2021-09-10 03:23:34 +0000 UTC',
      'git-app              gitops       kustomize                   running          healthy               2021-09-10 03:23:34 +0000 UTC',
      '',
    ]);
  });

  it('adds the namespace column for all namespaces', () => {
    const table = formatApplicationTable(
      [app('a', 'team-b', [{ name: 'c', type: 'worker' }])],
      true,
    );
    expect(table.split('\n')[0].split(/\s+/).slice(0, 2)).toEqual([
      'NAMESPACE',
      'APP',
    ]);
    expect(table.split('\n')[1].split(/\s+/).slice(0, 2)).toEqual([
      'team-b',
      'a',
    ]);
  });

  it('says a deleted Application is deleting and how much is left', () => {
    const deleted = app('gone', 'default', [{ name: 'web', type: 'webservice' }], {
      status: 'running',
      services: [{ name: 'web', healthy: true, message: 'Ready:1/1' }],
      appliedResources: [
        { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', cluster: 'local' },
      ],
    });
    (deleted.metadata as any).deletionTimestamp = '2021-09-10T04:00:00Z';
    const row = formatApplicationTable([deleted], false).split('\n')[1];
    expect(row).toMatch(/^gone\s+web\s+webservice\s+deleting\s+healthy\s+1 object left to delete\s/);
  });
});
