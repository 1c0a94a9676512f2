import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mockCredentials } from '@backstage/backend-test-utils';
import request from 'supertest';
import { pushImage } from '../infra';
import {
  kustomizeApp,
  markedDeployment,
  SOURCE_SECRETS,
  useDeliveryStack,
  waitUntil,
} from './support';
// The plugin's own tests use the same real events service; it is test-only, so not exported.
// eslint-disable-next-line @backstage/no-forbidden-package-imports
import { eventsBackendFeatures } from '@gitops-workflow/plugin-gitops-backend/src/__testUtils__/eventsBackend';

/*
 * Webhooks on the real servers: the registry's own notifications and a
 * signed Git push event make the backend sync within seconds, not at the
 * next one-minute poll. GitHub and GitLab pushes also arrive through
 * Backstage's events backend, whose modules check them, as in packages/backend.
 */

const REGISTRY_SECRET = 'registry-notification-secret-42';
const GIT_SECRET = 'git-push-hook-secret-0123456789';
const GITHUB_SECRET = 'github-events-secret-0123456789';
const GITLAB_TOKEN = 'gitlab-events-token-0123456789';
const IMAGE_REPO = 'web';
describe('webhooks on the real registry and Git server', () => {
  const stack = useDeliveryStack({
    sourceSecrets: SOURCE_SECRETS,
    backend: {
      gitops: {
        webhooks: { registrySecret: REGISTRY_SECRET, gitSecret: GIT_SECRET },
      },
      features: eventsBackendFeatures(),
      config: {
        events: {
          // One backend: events stay in the process (the bus's long poll would hold its stop).
          useEventBus: 'never',
          modules: {
            github: { webhookSecret: GITHUB_SECRET },
            gitlab: { webhookSecret: GITLAB_TOKEN },
          },
        },
      },
      registryWebhookSecret: REGISTRY_SECRET,
    },
  });

  const api = (url: string) =>
    request(stack.backend.server)
      .get(`/api/gitops${url}`)
      .set('Authorization', mockCredentials.user.header());
  const state = async () =>
    `${JSON.stringify(
      (await api('/applications/default/web-app/runs')).body,
    )}\n${await stack.cluster.kubectl([
      'get',
      'applications,deployments,configmaps',
      '-o',
      'yaml',
    ])}`;

  it('a pushed tag becomes a bot commit within seconds of the registry notification', async () => {
    const image = `${stack.registry.host}/${IMAGE_REPO}`;
    await pushImage(stack.registry, IMAGE_REPO, 'build-1');
    const fixture = fs.mkdtempSync(path.join(os.tmpdir(), 'webhook-fixture-'));
    fs.writeFileSync(
      path.join(fixture, 'deployment.yaml'),
      markedDeployment(`${image}:build-1`),
    );
    await stack.git.createRepo('demo', { fixtureDir: fixture, branch: 'main' });
    fs.rmSync(fixture, { recursive: true });
    await stack.cluster.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify(
        kustomizeApp('web-app', stack.git.repoUrl('demo'), image),
      ),
    });

    await waitUntil(
      'web-app to run',
      async () => {
        const res = await api('/applications/default/web-app');
        return res.body.phase === 'running' ? true : undefined;
      },
      state,
      90_000,
    );
    expect(await stack.git.log('demo', 'main')).toHaveLength(1);

    // The next poll is a minute away; only the notification can make this quick.
    const pushedAt = Date.now();
    await pushImage(stack.registry, IMAGE_REPO, 'build-2');
    const [commit] = await waitUntil(
      'the bot commit',
      async () => {
        const log = await stack.git.log('demo', 'main');
        return log.length === 2 ? log : undefined;
      },
      state,
      20_000,
    );
    const seconds = (Date.now() - pushedAt) / 1000;
    process.stdout.write(
      `registry push → bot commit: ${seconds.toFixed(1)} s\n`,
    );
    expect(seconds).toBeLessThan(10);
    expect(commit.authorName).toBe('kubevelabot');
    expect(await stack.git.readFile('demo', 'deployment.yaml', 'main')).toBe(
      markedDeployment(`${image}:build-2`),
    );

    const history = await waitUntil(
      'the update in image history',
      async () => {
        const res = await api('/applications/default/web-app/image-history');
        return res.body.items?.[0]?.newTag === 'build-2'
          ? res.body.items[0]
          : undefined;
      },
      state,
    );
    expect(history).toMatchObject({
      oldTag: 'build-1',
      trigger: 'webhook',
      commitSha: commit.sha,
    });
  });

  it('a signed Git push event applies a human commit within seconds', async () => {
    await stack.git.pushAsHuman('demo', {
      branch: 'main',
      files: {
        'config.yaml':
          'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: default\ndata:\n  level: debug\n',
      },
      message: 'Add settings',
    });
    const body = JSON.stringify({
      ref: 'refs/heads/main',
      repository: { clone_url: stack.git.repoUrl('demo') },
    });
    const sentAt = Date.now();
    const res = await request(stack.backend.server)
      .post('/api/gitops/webhooks/git')
      .set('content-type', 'application/json')
      .set('x-github-event', 'push')
      .set(
        'x-hub-signature-256',
        `sha256=${crypto
          .createHmac('sha256', GIT_SECRET)
          .update(body)
          .digest('hex')}`,
      )
      .send(body);
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ applications: ['local/default/web-app'] });

    await waitUntil(
      'the ConfigMap from the human commit',
      async () => {
        const out = await stack.cluster
          .kubectl(['get', 'configmap', 'settings', '-o', 'json'])
          .catch(() => undefined);
        return out ? JSON.parse(out) : undefined;
      },
      state,
      20_000,
    );
    const seconds = (Date.now() - sentAt) / 1000;
    process.stdout.write(`Git push event → applied: ${seconds.toFixed(1)} s\n`);
    expect(seconds).toBeLessThan(10);
    const runs = (await api('/applications/default/web-app/runs')).body.items;
    expect(
      runs.some(
        (r: any) => r.trigger === 'webhook' && r.result === 'succeeded',
      ),
    ).toBe(true);
  });

  /** Pushes a human commit that adds a ConfigMap, and waits for the webhook to apply it. */
  async function humanCommitAppliedAfter(
    name: string,
    send: () => Promise<request.Response>,
  ): Promise<number> {
    await stack.git.pushAsHuman('demo', {
      branch: 'main',
      files: {
        [`${name}.yaml`]: `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n  namespace: default\ndata:\n  from: ${name}\n`,
      },
      message: `Add ${name}`,
    });
    const sentAt = Date.now();
    const res = await send();
    expect(res.status).toBe(202);
    await waitUntil(
      `the ConfigMap ${name} from the human commit`,
      async () =>
        (await stack.cluster
          .kubectl(['get', 'configmap', name, '-o', 'name'])
          .catch(() => undefined)) || undefined,
      state,
      20_000,
    );
    return (Date.now() - sentAt) / 1000;
  }

  it('a GitHub push through the events backend applies a human commit within seconds', async () => {
    const body = JSON.stringify({
      ref: 'refs/heads/main',
      repository: { clone_url: stack.git.repoUrl('demo') },
    });
    const send = (signature: string) =>
      request(stack.backend.server)
        .post('/api/events/http/github')
        .set('content-type', 'application/json')
        .set('x-github-event', 'push')
        .set('x-github-delivery', crypto.randomUUID())
        .set('x-hub-signature-256', signature)
        .send(body);
    const signature = `sha256=${crypto
      .createHmac('sha256', GITHUB_SECRET)
      .update(body)
      .digest('hex')}`;
    // The GitHub module refuses what it can't verify before gitops sees it.
    expect((await send(`sha256=${'0'.repeat(64)}`)).status).toBe(403);
    const seconds = await humanCommitAppliedAfter('from-github', () =>
      send(signature),
    );
    process.stdout.write(`GitHub event → applied: ${seconds.toFixed(1)} s\n`);
    expect(seconds).toBeLessThan(10);
  });

  it('a GitLab push (X-Gitlab-Token, no HMAC) through the events backend applies a human commit within seconds', async () => {
    const body = JSON.stringify({
      object_kind: 'push',
      ref: 'refs/heads/main',
      project: { git_http_url: stack.git.repoUrl('demo') },
    });
    const send = (token: string) =>
      request(stack.backend.server)
        .post('/api/events/http/gitlab')
        .set('content-type', 'application/json')
        .set('x-gitlab-event', 'Push Hook')
        .set('x-gitlab-event-uuid', crypto.randomUUID())
        .set('x-gitlab-token', token)
        .send(body);
    expect((await send('not-the-token')).status).toBe(403);
    const seconds = await humanCommitAppliedAfter('from-gitlab', () =>
      send(GITLAB_TOKEN),
    );
    process.stdout.write(`GitLab event → applied: ${seconds.toFixed(1)} s\n`);
    expect(seconds).toBeLessThan(10);
  });
});
