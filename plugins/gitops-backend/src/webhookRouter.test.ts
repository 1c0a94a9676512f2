import crypto from 'node:crypto';
import { mockServices, startTestBackend } from '@backstage/backend-test-utils';
import request from 'supertest';
import { gitopsPlugin } from './plugin';
import { eventsBackendFeatures } from './__testUtils__/eventsBackend';

const REGISTRY_SECRET = 'registry-secret-0123456789';
const GIT_SECRET = 'git-secret-0123456789abcdef';
const GITHUB_SECRET = 'github-events-secret-0123456789';
const GITLAB_TOKEN = 'gitlab-events-token-0123456789';

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
  events: {
    // One backend: events stay in the process (the bus's long poll would hold its stop).
    useEventBus: 'never',
    modules: {
      github: { webhookSecret: GITHUB_SECRET },
      gitlab: { webhookSecret: GITLAB_TOKEN },
    },
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
        // The events backend's HTTP ingress and the modules that check GitHub and GitLab.
        ...eventsBackendFeatures(),
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

  it('ignores a GitHub delivery it has seen before', async () => {
    const headers = {
      'x-hub-signature-256': `sha256=${sign(gitPush)}`,
      'x-github-event': 'push',
      'x-github-delivery': 'c0ffee00-0000-4000-8000-000000000001',
    };
    // The first goes on to list Applications (503 here); the replay stops before.
    expect((await git(headers)).status).toBe(503);
    const replay = await git(headers);
    expect(replay.status).toBe(202);
    expect(replay.body).toEqual({ applications: [], duplicate: true });
    // Our own senders' id header works the same way.
    const own = { 'x-signature': sign(gitPush), 'x-delivery-id': 'build-77' };
    expect((await git(own)).status).toBe(503);
    expect((await git(own)).body).toEqual({
      applications: [],
      duplicate: true,
    });
  });

  it('ignores a registry notification whose events it has seen before', async () => {
    const withIds = JSON.stringify({
      events: [{ ...JSON.parse(push).events[0], id: 'event-0001' }],
    });
    const auth = { authorization: `Bearer ${REGISTRY_SECRET}` };
    expect((await registry(auth, withIds)).status).toBe(503);
    expect((await registry(auth, withIds)).body).toEqual({
      applications: [],
      duplicate: true,
    });
  });

  it('receives GitHub and GitLab through the events backend, which checks them', async () => {
    const events = (topic: string, headers: Record<string, string>) =>
      request(server)
        .post(`/api/events/http/${topic}`)
        .set({ 'content-type': 'application/json', ...headers })
        .send(gitPush);
    const githubSignature = `sha256=${crypto
      .createHmac('sha256', GITHUB_SECRET)
      .update(gitPush)
      .digest('hex')}`;
    expect(
      (
        await events('github', {
          'x-github-event': 'push',
          'x-hub-signature-256': githubSignature,
        })
      ).status,
    ).toBe(202);
    expect(
      (
        await events('github', {
          'x-github-event': 'push',
          'x-hub-signature-256': `sha256=${sign(gitPush)}`,
        })
      ).status,
    ).toBe(403);
    expect(
      (await events('gitlab', { 'x-gitlab-token': GITLAB_TOKEN })).status,
    ).toBe(202);
    expect((await events('gitlab', { 'x-gitlab-token': 'wrong' })).status).toBe(
      403,
    );
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
