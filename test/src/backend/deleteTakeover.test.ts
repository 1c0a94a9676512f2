import { Cluster, startCluster } from '../infra';
import { Postgres, startPostgres } from '../infra/postgres';
import { makeTempDir, ServiceHandle } from '../infra/process';
import { installCrd, startReplica, waitUntil } from './support';

/*
 * A backend killed (SIGKILL) in the middle of a delete: our finalizer holds
 * the Application until another replica, on the same PostgreSQL, picks the
 * half-done delete up and finishes it; nothing else is deleted.
 */

const FINALIZER = 'gitops.backstage.io/finalizer';

function configMapsApp(name: string, configMaps: string[]) {
  return {
    apiVersion: 'core.oam.dev/v1beta1',
    kind: 'Application',
    metadata: { name, namespace: 'default' },
    spec: {
      components: [
        {
          name: 'config',
          type: 'k8s-objects',
          properties: {
            objects: configMaps.map(cm => ({
              apiVersion: 'v1',
              kind: 'ConfigMap',
              metadata: { name: cm },
              data: { of: name },
            })),
          },
        },
      ],
    },
  };
}

describe('a delete that a replica leaves half done', () => {
  let cluster: Cluster;
  let postgres: Postgres;
  const handle = new ServiceHandle('gitops-delete-takeover');

  beforeAll(async () => {
    [cluster, postgres] = await Promise.all([startCluster(), startPostgres()]);
    await installCrd(cluster);
  }, 180_000);

  afterAll(async () => {
    await handle.stop();
    await Promise.all([cluster?.stop(), postgres?.stop()]);
  }, 60_000);

  const getApp = async (name: string) => {
    const out = await cluster.kubectl([
      'get',
      'application',
      name,
      '--ignore-not-found',
      '-o',
      'json',
    ]);
    return out.trim() ? JSON.parse(out) : undefined;
  };
  const configMaps = async () =>
    JSON.parse(await cluster.kubectl(['get', 'configmaps', '-o', 'json']))
      .items.map((c: any) => c.metadata.name)
      .filter((n: string) => n !== 'kube-root-ca.crt')
      .sort();

  it('is finished by the next replica, and nothing else is deleted', async () => {
    await cluster.kubectl(['apply', '-f', '-'], {
      input: [
        configMapsApp('doomed', ['doomed-held', 'doomed-a', 'doomed-b']),
        configMapsApp('bystander', ['bystander-a']),
      ]
        .map(a => JSON.stringify(a))
        .join('\n'),
    });
    const dir = handle.addDir(await makeTempDir('gitops-delete-takeover'));
    const start = (name: string) =>
      startReplica(handle, dir, name, postgres.connection, {
        clusters: [{ name: 'local', kubeconfig: cluster.kubeconfigPath }],
        tickSeconds: 1,
        shards: 2,
        // The killed replica's shards are taken over within seconds.
        shardLeaseSeconds: 10,
      });
    const first = await start('replica-a');
    for (const name of ['doomed', 'bystander']) {
      await waitUntil(`${name} to run with our finalizer`, async () => {
        const app = await getApp(name);
        return app?.status?.status === 'running' &&
          app.metadata.finalizers?.includes(FINALIZER)
          ? true
          : undefined;
      });
    }

    // Another controller's finalizer holds one object: the delete is caught half done.
    await cluster.kubectl([
      'patch',
      'configmap',
      'doomed-held',
      '--type=merge',
      '-p',
      JSON.stringify({ metadata: { finalizers: ['gitops.example/hold'] } }),
    ]);
    await cluster.kubectl(['delete', 'application', 'doomed', '--wait=false']);
    await waitUntil(
      'the first replica to be deleting doomed',
      async () =>
        (await getApp('doomed'))?.status?.status === 'deleting'
          ? true
          : undefined,
      async () => JSON.stringify(await getApp('doomed')),
    );
    first.killNow();

    // Nobody runs: the finalizer holds the Application.
    await new Promise(r => setTimeout(r, 2000));
    const held = await getApp('doomed');
    expect(held?.metadata.finalizers).toContain(FINALIZER);
    expect(held?.status.appliedResources.map((r: any) => r.name)).toEqual([
      'doomed-held',
    ]);

    await start('replica-b');
    await cluster.kubectl([
      'patch',
      'configmap',
      'doomed-held',
      '--type=merge',
      '-p',
      JSON.stringify({ metadata: { finalizers: null } }),
    ]);
    await waitUntil(
      'the second replica to finish deleting doomed',
      async () => ((await getApp('doomed')) ? undefined : true),
      async () => JSON.stringify(await getApp('doomed')),
      120_000,
    );
    expect(await configMaps()).toEqual(['bystander-a']);
    expect((await getApp('bystander'))?.metadata.finalizers).toContain(
      FINALIZER,
    );
  }, 300_000);
});
