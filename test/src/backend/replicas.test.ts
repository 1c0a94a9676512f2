import { mockServices, startTestBackend } from '@backstage/backend-test-utils';
import { databaseServiceFactory } from '@backstage/backend-defaults/database';
import { schedulerServiceFactory } from '@backstage/backend-defaults/scheduler';
import gitopsPlugin from '@gitops-workflow/plugin-gitops-backend';
import knexFactory, { Knex } from 'knex';
import { Cluster, startCluster } from '../infra';
import { Postgres, startPostgres } from '../infra/postgres';
import { installCrd, waitUntil } from './support';

/*
 * Two backend replicas on one real PostgreSQL share the reconciles of 50
 * Applications: every one converges, none is applied twice, and when one
 * replica goes away mid-run the other finishes its shards.
 */

const APPS = 50;

function configMapApp(i: number) {
  return {
    apiVersion: 'core.oam.dev/v1beta1',
    kind: 'Application',
    metadata: { name: `app-${i}`, namespace: 'default' },
    spec: {
      components: [
        {
          name: 'settings',
          type: 'k8s-objects',
          properties: {
            objects: [
              {
                apiVersion: 'v1',
                kind: 'ConfigMap',
                metadata: { name: `settings-${i}` },
                data: { index: String(i) },
              },
            ],
          },
        },
      ],
    },
  };
}

describe('several backend replicas', () => {
  let cluster: Cluster;
  let postgres: Postgres;
  let db: Knex | undefined;
  const replicas: Array<Awaited<ReturnType<typeof startTestBackend>>> = [];

  beforeAll(async () => {
    [cluster, postgres] = await Promise.all([startCluster(), startPostgres()]);
    await installCrd(cluster);
  });

  afterAll(async () => {
    await Promise.all(replicas.map(r => r.stop().catch(() => {})));
    await db?.destroy();
    await Promise.all([cluster?.stop(), postgres?.stop()]);
  });

  it('apply each Application once, and one finishes the work when the other leaves', async () => {
    await cluster.kubectl(['apply', '-f', '-'], {
      input: Array.from({ length: APPS }, (_, i) =>
        JSON.stringify(configMapApp(i)),
      ).join('\n'),
    });

    const startReplica = () =>
      startTestBackend({
        features: [
          gitopsPlugin,
          databaseServiceFactory,
          schedulerServiceFactory,
          mockServices.rootConfig.factory({
            data: {
              backend: {
                database: {
                  client: 'pg',
                  connection: { ...postgres.connection },
                },
              },
              gitops: {
                clusters: [
                  { name: 'local', kubeconfig: cluster.kubeconfigPath },
                ],
                tickSeconds: 1,
                shards: 8,
                concurrency: 2,
                // A replica that goes away hands its shards over within seconds.
                shardLeaseSeconds: 5,
              },
            },
          }),
        ],
      });
    replicas.push(await startReplica(), await startReplica());

    const running = async () => {
      const list = JSON.parse(
        await cluster.kubectl(['get', 'applications', '-o', 'json']),
      );
      return list.items.filter((a: any) => a.status?.status === 'running')
        .length as number;
    };
    // One replica leaves while the work is under way.
    await waitUntil('a first share of the Applications to run', async () =>
      (await running()) >= 10 ? true : undefined,
    );
    await replicas.shift()!.stop();

    await waitUntil(
      'every Application to run',
      async () => ((await running()) === APPS ? true : undefined),
      async () => `${await running()} of ${APPS} running`,
      120_000,
    );

    // Straight from the shared database: no Application's objects were written
    // twice. A reconcile the leaving replica broke off (failed, or never
    // finished) may have written without recording it; the other replica then
    // found the objects in place and wrote nothing.
    db = knexFactory({
      client: 'pg',
      connection: {
        ...postgres.connection,
        database: 'backstage_plugin_gitops',
      },
    });
    const runs = await db('gitops_reconcile_runs');
    const byApp = new Map<string, any[]>();
    for (const run of runs)
      byApp.set(run.app_key, [...(byApp.get(run.app_key) ?? []), run]);
    expect(byApp.size).toBe(APPS);
    for (const appRuns of byApp.values()) {
      const written = appRuns.reduce(
        (sum, r) => sum + Number(r.objects_changed ?? 0),
        0,
      );
      expect(written).toBeLessThanOrEqual(1);
      if (written === 0) {
        expect(appRuns.some(r => r.result !== 'succeeded')).toBe(true);
      }
    }
    const configMaps = JSON.parse(
      await cluster.kubectl(['get', 'configmaps', '-o', 'json']),
    );
    expect(
      configMaps.items.filter((c: any) =>
        c.metadata.name.startsWith('settings-'),
      ),
    ).toHaveLength(APPS);
  }, 240_000);
});
