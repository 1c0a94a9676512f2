import fs from 'node:fs';
import path from 'node:path';
import knexFactory, { Knex } from 'knex';
import { Cluster, startCluster } from '../infra';
import { Postgres, startPostgres } from '../infra/postgres';
import { makeTempDir, ManagedProcess, ServiceHandle } from '../infra/process';
import { installCrd, startReplica, waitUntil } from '../backend/support';
import { startTcpProxy, TcpProxy } from './tcpProxy';

/*
 * Chaos on the real API server with backend replicas on one PostgreSQL.
 * Replica A reaches the cluster only through a TCP proxy the test controls
 * (TLS passes through), the others directly. The proxy's trap black-holes A
 * at its first large write, the Deployment's apply of a pass under way:
 * - held for longer than the shard lease, another replica takes the shard
 *   over and deploys a newer spec; when the black hole lifts, A wrote
 *   nothing stale and recorded nothing, and the next pass succeeds;
 * - A SIGKILLed there, mid-pass: the next replica finishes the work.
 */

/** A pod-template annotation this big makes the Deployment's apply the only large write of a pass. */
const PADDING = 'x'.repeat(6000);
const TRAP_BYTES = 4000;

function deploymentApp(name: string, image: string) {
  return {
    apiVersion: 'core.oam.dev/v1beta1',
    kind: 'Application',
    metadata: { name, namespace: 'default' },
    spec: {
      components: [
        {
          name: 'web',
          type: 'k8s-objects',
          properties: {
            objects: [
              {
                apiVersion: 'v1',
                kind: 'ConfigMap',
                metadata: { name: `${name}-config` },
                data: { image },
              },
              {
                apiVersion: 'apps/v1',
                kind: 'Deployment',
                metadata: { name: `${name}-web` },
                spec: {
                  replicas: 1,
                  selector: { matchLabels: { app: `${name}-web` } },
                  template: {
                    metadata: {
                      labels: { app: `${name}-web` },
                      annotations: { 'chaos.example/padding': PADDING },
                    },
                    spec: { containers: [{ name: 'web', image }] },
                  },
                },
              },
            ],
          },
        },
      ],
    },
  };
}

describe('chaos: replicas and the API server', () => {
  let cluster: Cluster;
  let postgres: Postgres;
  let proxy: TcpProxy;
  let db: Knex;
  let dir: string;
  let proxyKubeconfig: string;
  const handle = new ServiceHandle('gitops-chaos-replicas');
  let replicaA: ManagedProcess | undefined;

  beforeAll(async () => {
    [cluster, postgres] = await Promise.all([startCluster(), startPostgres()]);
    await installCrd(cluster);
    const server = new URL(cluster.server);
    proxy = await startTcpProxy({
      host: server.hostname,
      port: Number(server.port),
    });
    dir = handle.addDir(await makeTempDir('gitops-chaos-replicas'));
    proxyKubeconfig = path.join(dir, 'through-proxy.kubeconfig');
    fs.writeFileSync(
      proxyKubeconfig,
      cluster.kubeconfig.replace(
        `server: ${cluster.server}`,
        `server: https://${proxy.host}`,
      ),
      { mode: 0o600 },
    );
    db = knexFactory({
      client: 'pg',
      connection: {
        ...postgres.connection,
        database: 'backstage_plugin_gitops',
      },
    });
  }, 180_000);

  afterAll(async () => {
    await handle.stop();
    await proxy?.close();
    await db?.destroy();
    await Promise.all([cluster?.stop(), postgres?.stop()]);
  }, 60_000);

  const start = (name: string, kubeconfig: string) =>
    startReplica(handle, dir, name, postgres.connection, {
      clusters: [{ name: 'local', kubeconfig }],
      tickSeconds: 1,
      shards: 1,
      shardLeaseSeconds: 8,
      // Longer than the lease: only the pass's own deadline can end A's requests.
      timeouts: { kubernetesSeconds: 120 },
    });
  const applyApp = (name: string, image: string) =>
    cluster.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify(deploymentApp(name, image)),
    });
  const getApp = async (name: string) =>
    JSON.parse(
      await cluster.kubectl(['get', 'application', name, '-o', 'json']),
    );
  const deployed = async (name: string) => {
    const d = JSON.parse(
      await cluster.kubectl(['get', 'deployment', `${name}-web`, '-o', 'json']),
    );
    const c = JSON.parse(
      await cluster.kubectl([
        'get',
        'configmap',
        `${name}-config`,
        '-o',
        'json',
      ]),
    );
    return {
      deployment: d.spec.template.spec.containers[0].image as string,
      configMap: c.data.image as string,
    };
  };
  /** Running at its current generation: the spec in force is deployed and healthy. */
  const converged = async (name: string, image: string) => {
    const app = await getApp(name);
    const now = await deployed(name).catch(() => undefined);
    return app.status?.status === 'running' &&
      app.status.observedGeneration === app.metadata.generation &&
      now?.deployment === image &&
      now.configMap === image
      ? true
      : undefined;
  };
  const whatHappened = async (name: string) =>
    `${JSON.stringify((await getApp(name)).status)}\n${JSON.stringify(
      await deployed(name).catch(e => String(e)),
    )}\nproxy: ${JSON.stringify(proxy.held())}`;
  /** No two recorded passes of one Application overlapped: never two writers at once. */
  const expectNoOverlappingRuns = async (name: string) => {
    const runs = await db('gitops_reconcile_runs')
      .where({ app_key: `local/default/${name}` })
      .orderBy('started_at');
    expect(runs.length).toBeGreaterThan(0);
    for (let i = 1; i < runs.length; i++) {
      expect(new Date(runs[i].started_at).getTime()).toBeGreaterThanOrEqual(
        new Date(runs[i - 1].finished_at).getTime(),
      );
    }
    return runs;
  };

  it('a replica black-holed past its lease writes nothing stale once it is back', async () => {
    await applyApp('fenced', 'registry.local/web:1');
    const a = await start('replica-a', proxyKubeconfig);
    replicaA = a;
    await waitUntil(
      'A to deploy web:1',
      () => converged('fenced', 'registry.local/web:1'),
      () => whatHappened('fenced'),
      120_000,
    );

    // A's pass of web:2 is held at its Deployment apply, for longer than the lease.
    let held = false;
    proxy.trap(TRAP_BYTES).then(() => {
      held = true;
    });
    await applyApp('fenced', 'registry.local/web:2');
    await waitUntil(
      'A to write web:2 into the black hole',
      async () => (held ? true : undefined),
      () => whatHappened('fenced'),
    );
    const b = await start('replica-b', cluster.kubeconfigPath);
    await applyApp('fenced', 'registry.local/web:3');
    await waitUntil(
      'B to take the shard over and deploy web:3',
      () => converged('fenced', 'registry.local/web:3'),
      () => whatHappened('fenced'),
      120_000,
    );
    // A gave its held request up (its pass stopped at its deadline): nothing of it is left to arrive.
    await waitUntil(
      'A to give up its held request',
      async () => (proxy.held().dropped > 0 ? true : undefined),
      () => whatHappened('fenced'),
    );
    expect(a.running).toBe(true);

    proxy.lift();
    // Several seconds with A back: web:3 stays in force (A's web:2 never lands).
    const until = Date.now() + 10_000;
    while (Date.now() < until) {
      expect(await deployed('fenced')).toEqual({
        deployment: 'registry.local/web:3',
        configMap: 'registry.local/web:3',
      });
      await new Promise(r => setTimeout(r, 500));
    }
    // The next pass succeeds, whichever replica runs it.
    await applyApp('fenced', 'registry.local/web:4');
    await waitUntil(
      'web:4 to be deployed after the black hole',
      () => converged('fenced', 'registry.local/web:4'),
      () => whatHappened('fenced'),
      120_000,
    );
    const runs = await expectNoOverlappingRuns('fenced');
    expect(runs[runs.length - 1].result).toBe('succeeded');
    expect(a.running && b.running).toBe(true);
    await b.stop(10_000);
  }, 420_000);

  it('a replica SIGKILLed mid-pass: the next replica finishes the work', async () => {
    // Only A runs (B stopped above): the trap catches A in the middle of its pass.
    await applyApp('killed', 'registry.local/web:1');
    await waitUntil(
      'A to deploy killed at web:1',
      () => converged('killed', 'registry.local/web:1'),
      () => whatHappened('killed'),
      120_000,
    );
    const a = replicaA!;
    let held = false;
    proxy.trap(TRAP_BYTES).then(() => {
      held = true;
    });
    await applyApp('killed', 'registry.local/web:2');
    await waitUntil(
      'A to write web:2 into the black hole',
      async () => (held ? true : undefined),
      () => whatHappened('killed'),
    );
    a.killNow();
    await waitUntil('A to die', async () => (a.running ? undefined : true));
    proxy.lift();

    const c = await start('replica-c', cluster.kubeconfigPath);
    await waitUntil(
      'C to finish the pass A was killed in',
      () => converged('killed', 'registry.local/web:2'),
      () => whatHappened('killed'),
      120_000,
    );
    const runs = await expectNoOverlappingRuns('killed');
    expect(runs[runs.length - 1].result).toBe('succeeded');
    expect(c.running).toBe(true);
  }, 300_000);
});
