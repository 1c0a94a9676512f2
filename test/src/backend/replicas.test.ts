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
const LEASE_SECONDS = 5;

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
  }, 60_000);

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
        shardLeaseSeconds: LEASE_SECONDS,
      });
    const [first] = await Promise.all([start('replica-a'), start('replica-b')]);

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
    const killedAt = Date.now();
    first.killNow();

    await waitUntil(
      'every Application to run',
      async () => ((await running()) === APPS ? true : undefined),
      async () => `${await running()} of ${APPS} running`,
      120_000,
    );

    // Straight from the shared database: no Application's objects were
    // written twice, and each was written once.
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
    expect([...byApp.values()].filter(r => written(r) > 1)).toEqual([]);
    const configMaps = JSON.parse(
      await cluster.kubectl(['get', 'configmaps', '-o', 'json']),
    ).items.filter((c: any) => c.metadata.name.startsWith('settings-'));
    expect(configMaps).toHaveLength(APPS);
    // Written with no run that says so: only by a pass the killed replica
    // broke off between its write and its record, so by a request it sent
    // before it died. The API server may carry such a request out a moment
    // later, but before the shard's lease ran out: only then could the other
    // replica look, and it records what it writes.
    const unrecorded = configMaps.filter(
      (c: any) =>
        written(byApp.get(`local/default/app-${c.data.index}`)!) === 0,
    );
    expect(
      unrecorded.filter(
        (c: any) =>
          Date.parse(c.metadata.creationTimestamp) >=
          killedAt + LEASE_SECONDS * 1000,
      ),
    ).toEqual([]);
  }, 360_000);
});
