import {
  mockCredentials,
  startTestBackend,
} from '@backstage/backend-test-utils';
import request from 'supertest';
import { Cluster, startCluster } from '../infra';
import {
  installCrd,
  startGitopsBackend,
  waitUntil,
  webserviceApp,
} from './support';

/*
 * A change to an Application in the cluster is reconciled at once, through
 * the watch, not at the next tick (a minute away here).
 */
describe('watching Applications', () => {
  let cluster: Cluster;
  let backend: Awaited<ReturnType<typeof startTestBackend>> | undefined;

  beforeAll(async () => {
    cluster = await startCluster();
    await installCrd(cluster);
  });

  afterAll(async () => {
    await backend?.stop();
    await cluster?.stop();
  });

  it('reconciles a new and a changed Application within seconds', async () => {
    backend = await startGitopsBackend({
      clusters: [{ name: 'local', kubeconfig: cluster.kubeconfigPath }],
      tickSeconds: 60,
      shards: 1,
    });
    const replicas = async () =>
      JSON.parse(
        await cluster.kubectl([
          'get',
          'deployment',
          'web-server',
          '-o',
          'json',
        ]),
      ).spec.replicas as number;

    const app = webserviceApp('web');
    await cluster.kubectl(['apply', '-f', '-'], { input: JSON.stringify(app) });
    await waitUntil('the new Application to be applied', async () =>
      (await replicas().catch(() => 0)) === 1 ? true : undefined,
    );

    // Let the first tick pass, so only the watch can notice the change.
    await new Promise(r => setTimeout(r, 2000));
    const changedAt = Date.now();
    app.spec.components[0].traits.push({
      type: 'scaler',
      properties: { replicas: 3 } as any,
    });
    await cluster.kubectl(['apply', '-f', '-'], { input: JSON.stringify(app) });
    await waitUntil(
      'the change to be applied',
      async () => ((await replicas()) === 3 ? true : undefined),
      async () =>
        JSON.stringify(
          (
            await request(backend!.server)
              .get('/api/gitops/applications/default/web/runs')
              .set('Authorization', mockCredentials.user.header())
          ).body,
        ),
      20_000,
    );
    expect(Date.now() - changedAt).toBeLessThan(15_000);

    const runs = await request(backend.server)
      .get('/api/gitops/applications/default/web/runs')
      .set('Authorization', mockCredentials.user.header());
    expect(runs.body.items[0].trigger).toBe('watch');
  });
});
