import crypto from 'node:crypto';
import { mockServices, startTestBackend } from '@backstage/backend-test-utils';
import request from 'supertest';
import { gitopsPlugin } from './plugin';

const REGISTRY_SECRET = 'registry-secret-0123456789';
const GIT_SECRET = 'git-secret-0123456789abcdef';

// A loopback port nothing listens on: a request that passes verification
// goes on to list Applications there and gets 503, one that fails never does.
const config = {
  gitops: {
    clusters: [
      {
        name: 'local',
        url: 'https://127.0.0.1:9',
        token: 'cluster-token-0123456789',
      },
    ],
    webhooks: { registrySecret: REGISTRY_SECRET, gitSecret: GIT_SECRET },
  },
};

const push = JSON.stringify({
  events: [
    {
      action: 'push',
      target: { repository: 'gitops', tag: 'v2' },
      request: { host: '127.0.0.1:5000' },
    },
  ],
});
const gitPush = JSON.stringify({
  ref: 'refs/heads/master',
  repository: { clone_url: 'http://127.0.0.1:1/demo.git' },
});
const sign = (body: string) =>
  crypto.createHmac('sha256', GIT_SECRET).update(body).digest('hex');

describe('webhooks', () => {
  let server: Awaited<ReturnType<typeof startTestBackend>>['server'];

  beforeAll(async () => {
    ({ server } = await startTestBackend({
      features: [
        gitopsPlugin,
        mockServices.rootConfig.factory({ data: config }),
      ],
    }));
  });

  // No Backstage credentials on any request here: registries and Git hosts have none.
  const registry = (headers: Record<string, string>, body = push) =>
    request(server)
      .post('/api/gitops/webhooks/registry')
      .set({ 'content-type': 'application/json', ...headers })
      .send(body);
  const git = (headers: Record<string, string>, body = gitPush) =>
    request(server)
      .post('/api/gitops/webhooks/git')
      .set({ 'content-type': 'application/json', ...headers })
      .send(body);

  it('lets a registry notification with the secret through, without Backstage credentials', async () => {
    const res = await registry({ authorization: `Bearer ${REGISTRY_SECRET}` });
    expect(res.status).toBe(503);
    expect(res.body.error.message).toContain('Could not list Applications');
  });

  it.each([
    ['no secret', {}],
    ['a wrong secret', { authorization: 'Bearer registry-secret-0123456780' }],
    [
      'a stale timestamp',
      {
        authorization: `Bearer ${REGISTRY_SECRET}`,
        'x-timestamp': String(Math.floor(Date.now() / 1000) - 600),
      },
    ],
  ])('refuses a registry notification with %s: 401', async (_, headers) => {
    const res = await registry(headers);
    expect(res.status).toBe(401);
    expect(JSON.stringify(res.body)).not.toContain(REGISTRY_SECRET);
  });

  it('accepts GitHub and generic signatures of the raw body', async () => {
    expect(
      (await git({ 'x-hub-signature-256': `sha256=${sign(gitPush)}` })).status,
    ).toBe(503);
    expect((await git({ 'x-signature': sign(gitPush) })).status).toBe(503);
    const ts = String(Math.floor(Date.now() / 1000));
    expect(
      (
        await git({
          'x-signature': sign(`${ts}.${gitPush}`),
          'x-timestamp': ts,
        })
      ).status,
    ).toBe(503);
    expect(
      (
        await git({
          'x-hub-signature-256': `sha256=${sign(gitPush)}`,
          'x-github-event': 'ping',
        })
      ).status,
    ).toBe(202);
  });

  it.each([
    ['no signature', {}],
    [
      'a signature of another body',
      { 'x-hub-signature-256': `sha256=${sign(`${gitPush} `)}` },
    ],
    [
      'a signature made with another secret',
      {
        'x-signature': crypto
          .createHmac('sha256', 'other')
          .update(gitPush)
          .digest('hex'),
      },
    ],
    [
      'a stale timestamp',
      {
        'x-signature': sign(`1700000000.${gitPush}`),
        'x-timestamp': '1700000000',
      },
    ],
  ])('refuses a Git push with %s: 401', async (_, headers) => {
    expect((await git(headers)).status).toBe(401);
  });

  it('is off, answering 404, when its secret is not configured', async () => {
    const { server: bare } = await startTestBackend({
      features: [
        gitopsPlugin,
        mockServices.rootConfig.factory({
          data: { gitops: { clusters: config.gitops.clusters } },
        }),
      ],
    });
    const res = await request(bare)
      .post('/api/gitops/webhooks/registry')
      .set('authorization', `Bearer ${REGISTRY_SECRET}`)
      .send(push);
    expect(res.status).toBe(404);
    expect(res.body.error.message).toContain('gitops.webhooks.registrySecret');
  });

  it('refuses to start with a webhook secret too short to be safe, naming the key', async () => {
    await expect(
      startTestBackend({
        features: [
          gitopsPlugin,
          mockServices.rootConfig.factory({
            data: { gitops: { webhooks: { gitSecret: 'short' } } },
          }),
        ],
      }),
    ).rejects.toThrow(
      'gitops.webhooks.gitSecret must be at least 16 characters long',
    );
  });
});
