import knexFactory, { Knex } from 'knex';
import { Cluster, startCluster } from '../infra';
import { Postgres, startPostgres } from '../infra/postgres';
import { makeTempDir, ServiceHandle } from '../infra/process';
import { installCrd, startReplica, waitUntil } from './support';

/*
 * Two backend processes on one real PostgreSQL share the reconciles of 50
 * Applications: every one converges, none is applied twice, and when one
 * replica is killed mid-run the other takes over its shards and finishes.
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
  const handle = new ServiceHandle('gitops-replicas');

  beforeAll(async () => {
    [cluster, postgres] = await Promise.all([startCluster(), startPostgres()]);
    await installCrd(cluster);
  });

  afterAll(async () => {
    await handle.stop();
    await db?.destroy();
    await Promise.all([cluster?.stop(), postgres?.stop()]);
  });

  it('apply each Application once, and one finishes the work when the other is killed', async () => {
    await cluster.kubectl(['apply', '-f', '-'], {
      input: Array.from({ length: APPS }, (_, i) =>
        JSON.stringify(configMapApp(i)),
      ).join('\n'),
    });

    const dir = handle.addDir(await makeTempDir('gitops-replicas'));
    const start = (name: string) =>
      startReplica(handle, dir, name, postgres.connection, {
        clusters: [{ name: 'local', kubeconfig: cluster.kubeconfigPath }],
        tickSeconds: 1,
        shards: 8,
        concurrency: 2,
        // A killed replica's shards are taken over within seconds.
        shardLeaseSeconds: 5,
      });
    const [first] = await Promise.all([
      start('replica-a'),
      start('replica-b'),
    ]);

    const running = async () => {
      const list = JSON.parse(
        await cluster.kubectl(['get', 'applications', '-o', 'json']),
      );
      return list.items.filter((a: any) => a.status?.status === 'running')
        .length as number;
    };
    // One replica is killed while the work is under way.
    await waitUntil('a first share of the Applications to run', async () =>
      (await running()) >= 10 ? true : undefined,
    );
    first.killNow();

    await waitUntil(
      'every Application to run',
      async () => ((await running()) === APPS ? true : undefined),
      async () => `${await running()} of ${APPS} running`,
      120_000,
    );

    // Straight from the shared database: no Application's objects were written
    // twice. A reconcile the killed replica broke off (never finished) may have
    // written without recording it; the other replica then found the objects
    // in place and wrote nothing.
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
    const written = (appRuns: any[]) =>
      appRuns.reduce((sum, r) => sum + Number(r.objects_changed ?? 0), 0);
    const apps = [...byApp.values()];
    expect(apps.filter(appRuns => written(appRuns) > 1)).toEqual([]);
    // Nothing recorded as written: only where a run broke off.
    expect(
      apps
        .filter(appRuns => written(appRuns) === 0)
        .filter(appRuns => appRuns.every(r => r.result === 'succeeded')),
    ).toEqual([]);
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
