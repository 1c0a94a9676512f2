import {
  mockCredentials,
  mockServices,
  startTestBackend,
} from '@backstage/backend-test-utils';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import request from 'supertest';
import { gitopsPlugin } from './plugin';

const TOKEN = 'very-secret-cluster-token';

// A loopback port nothing listens on: a cluster that is down.
const config = {
  gitops: {
    clusters: [
      {
        name: 'staging',
        labels: { env: 'staging' },
        url: 'https://127.0.0.1:9',
        token: TOKEN,
      },
    ],
  },
};

describe('gitops backend plugin', () => {
  it('reports each configured cluster and why it cannot be reached, without secrets', async () => {
    const { server } = await startTestBackend({
      features: [
        gitopsPlugin,
        mockServices.rootConfig.factory({ data: config }),
      ],
    });

    const res = await request(server)
      .get('/api/gitops/clusters')
      .set('Authorization', mockCredentials.user.header());

    expect(res.status).toBe(200);
    expect(res.body.items).toEqual([
      {
        name: 'staging',
        labels: { env: 'staging' },
        server: 'https://127.0.0.1:9',
        reachable: false,
        error: expect.stringContaining('Connection refused'),
      },
    ]);
    expect(JSON.stringify(res.body)).not.toContain(TOKEN);
  });

  it('refuses a user without the read permission with 403', async () => {
    const { server } = await startTestBackend({
      features: [
        gitopsPlugin,
        mockServices.rootConfig.factory({ data: config }),
        mockServices.permissions.factory({ result: AuthorizeResult.DENY }),
      ],
    });

    const res = await request(server)
      .get('/api/gitops/clusters')
      .set('Authorization', mockCredentials.user.header());

    expect(res.status).toBe(403);
    expect(res.body.error.message).toContain('gitops.application.read');
  });

  it('says which key is wrong when a cluster has no way to reach it', async () => {
    await expect(
      startTestBackend({
        features: [
          gitopsPlugin,
          mockServices.rootConfig.factory({
            data: { gitops: { clusters: [{ name: 'prod' }] } },
          }),
        ],
      }),
    ).rejects.toThrow(/gitops\.clusters\[0\].*"kubeconfig" or "url"/);
  });

  it('answers 503 with what to configure when Sync now is pressed and no cluster is configured', async () => {
    const { server } = await startTestBackend({
      features: [
        gitopsPlugin,
        mockServices.rootConfig.factory({ data: { gitops: {} } }),
      ],
    });

    const res = await request(server)
      .post('/api/gitops/applications/default/git-app/sync')
      .set('Authorization', mockCredentials.user.header());

    expect(res.status).toBe(503);
    expect(res.body.error.message).toBe(
      'No clusters are configured: add gitops.clusters to app-config.yaml',
    );
  });
});
