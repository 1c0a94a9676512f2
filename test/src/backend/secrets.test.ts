import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  coreServices,
  createServiceFactory,
  LoggerService,
  RootLoggerService,
} from '@backstage/backend-plugin-api';
import { mockCredentials } from '@backstage/backend-test-utils';
import request from 'supertest';
import { pushImage } from '../infra';
import {
  kustomizeApp,
  markedDeployment,
  useDeliveryStack,
  waitUntil,
} from './support';

/*
 * Secrets never leave the backend: with a cluster token, webhook secrets and
 * Kubernetes Secrets (good ones and wrong ones, so that failures get logged
 * and recorded), no API response and no log line contains any of them, in
 * clear or base64.
 */

const REGISTRY_SECRET = 'registry-webhook-secret-5a1b2c3d';
const GIT_SECRET = 'git-webhook-secret-9f8e7d6c5b4a';
const WRONG_GIT_PASSWORD = 'wrong-git-password-77e1c0de';
const WRONG_REGISTRY_PASSWORD = 'wrong-registry-password-4b1d';

/** Every log line of every plugin, as the root logger receives it. */
class CapturingLogger implements RootLoggerService {
  constructor(
    readonly lines: string[] = [],
    private readonly meta: Record<string, unknown> = {},
  ) {}
  private log(level: string, message: string, meta?: unknown) {
    this.lines.push(JSON.stringify({ level, message, ...this.meta, meta }));
  }
  error(message: string, meta?: Error | Record<string, unknown>) {
    this.log(
      'error',
      message,
      meta instanceof Error
        ? { message: meta.message, stack: meta.stack }
        : meta,
    );
  }
  warn(message: string, meta?: Error | Record<string, unknown>) {
    this.log(
      'warn',
      message,
      meta instanceof Error
        ? { message: meta.message, stack: meta.stack }
        : meta,
    );
  }
  info(message: string, meta?: Error | Record<string, unknown>) {
    this.log('info', message, meta);
  }
  debug(message: string, meta?: Error | Record<string, unknown>) {
    this.log('debug', message, meta);
  }
  child(meta: Record<string, unknown>): LoggerService {
    return new CapturingLogger(this.lines, { ...this.meta, ...meta });
  }
}

describe('secrets never leak', () => {
  const logger = new CapturingLogger();
  const stack = useDeliveryStack();

  it('appear in no response and no log line', async () => {
    const image = `${stack.registry.host}/web`;
    await pushImage(stack.registry, 'web', 'build-1');
    await pushImage(stack.registry, 'web', 'build-2');
    const fixture = fs.mkdtempSync(path.join(os.tmpdir(), 'secrets-fixture-'));
    fs.writeFileSync(
      path.join(fixture, 'deployment.yaml'),
      markedDeployment(`${image}:build-1`),
    );
    await stack.git.createRepo('demo', { fixtureDir: fixture, branch: 'main' });
    fs.rmSync(fixture, { recursive: true });

    const dockerConfig = (password: string) =>
      JSON.stringify({
        auths: {
          [stack.registry.host]: {
            username: stack.registry.username,
            password,
            auth: Buffer.from(
              `${stack.registry.username}:${password}`,
            ).toString('base64'),
          },
        },
      });
    const secret = (name: string, args: string[]) =>
      stack.cluster.kubectl(['create', 'secret', 'generic', name, ...args]);
    await secret('git-creds', [
      `--from-literal=username=${stack.git.username}`,
      `--from-literal=password=${stack.git.password}`,
    ]);
    await secret('registry-creds', [
      '--type=kubernetes.io/dockerconfigjson',
      `--from-literal=.dockerconfigjson=${dockerConfig(
        stack.registry.password,
      )}`,
    ]);
    await secret('bad-git-creds', [
      `--from-literal=username=${stack.git.username}`,
      `--from-literal=password=${WRONG_GIT_PASSWORD}`,
    ]);
    await secret('bad-registry-creds', [
      '--type=kubernetes.io/dockerconfigjson',
      `--from-literal=.dockerconfigjson=${dockerConfig(
        WRONG_REGISTRY_PASSWORD,
      )}`,
    ]);
    await stack.cluster.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify(
        kustomizeApp('good', stack.git.repoUrl('demo'), image),
      ),
    });
    await stack.cluster.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify(
        kustomizeApp('bad', stack.git.repoUrl('demo'), image, {
          git: 'bad-git-creds',
          registry: 'bad-registry-creds',
        }),
      ),
    });
    await stack.cluster.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify(
        kustomizeApp('bad-registry', stack.git.repoUrl('demo'), image, {
          git: 'git-creds',
          registry: 'bad-registry-creds',
        }),
      ),
    });

    await stack.startBackend({
      gitops: {
        // URL + token + CA: the token is in config, not in a kubeconfig file.
        clusters: [
          {
            name: 'local',
            url: stack.cluster.server,
            token: stack.cluster.token,
            caData: Buffer.from(stack.cluster.caData).toString('base64'),
          },
        ],
        webhooks: {
          registrySecret: REGISTRY_SECRET,
          gitSecret: GIT_SECRET,
        },
      },
      features: [
        createServiceFactory({
          service: coreServices.rootLogger,
          deps: {},
          factory: () => logger,
        }),
      ],
    });
    const api = (url: string) =>
      request(stack.backend.server)
        .get(`/api/gitops${url}`)
        .set('Authorization', mockCredentials.user.header());

    // The good one commits with the real credentials; the bad one fails on them.
    await waitUntil(
      'good to commit and bad to fail',
      async () => {
        const [good, bad] = await Promise.all([
          api('/applications/default/good'),
          api('/applications/default/bad'),
        ]);
        return (await stack.git.log('demo', 'main')).length === 2 &&
          bad.body.sync?.lastSyncResult === 'failed'
          ? [good, bad]
          : undefined;
      },
      async () => logger.lines.slice(-20).join('\n'),
      90_000,
    );

    // Webhook calls carry the secrets in headers; they must not be logged either.
    const registryEvent = JSON.stringify({
      events: [
        {
          action: 'push',
          target: { repository: 'web', tag: 'build-3' },
          request: { host: stack.registry.host },
        },
      ],
    });
    const sent = await request(stack.backend.server)
      .post('/api/gitops/webhooks/registry')
      .set({
        'content-type': 'application/json',
        authorization: `Bearer ${REGISTRY_SECRET}`,
      })
      .send(registryEvent);
    expect(sent.status).toBe(202);
    const gitEvent = JSON.stringify({
      ref: 'refs/heads/main',
      repository: { clone_url: stack.git.repoUrl('demo') },
    });
    const signed = await request(stack.backend.server)
      .post('/api/gitops/webhooks/git')
      .set({
        'content-type': 'application/json',
        'x-hub-signature-256': `sha256=${crypto
          .createHmac('sha256', GIT_SECRET)
          .update(gitEvent)
          .digest('hex')}`,
      })
      .send(gitEvent);
    expect(signed.status).toBe(202);
    await new Promise(r => setTimeout(r, 3000));

    const responses: string[] = [];
    for (const url of [
      '/clusters',
      '/applications',
      ...['good', 'bad', 'bad-registry'].flatMap(name => [
        `/applications/default/${name}`,
        `/applications/default/${name}/sync-config`,
        `/applications/default/${name}/image-history`,
        `/applications/default/${name}/runs`,
      ]),
    ]) {
      const res = await api(url);
      expect(res.status).toBe(200);
      responses.push(`${url} ${res.text}`);
    }

    // The scan is only worth something if failures were recorded and logged.
    const bad = JSON.parse(
      responses
        .find(r => r.startsWith('/applications/default/bad '))!
        .replace(/^\S+ /, ''),
    );
    expect(bad.sync.lastSyncError).toEqual(expect.any(String));
    expect(
      logger.lines.some(l => l.includes('"warn"') || l.includes('"error"')),
    ).toBe(true);
    await waitUntil('the registry to refuse the wrong password', async () =>
      logger.lines.find(
        l =>
          l.includes('local/default/bad-registry') &&
          l.includes('Image policy'),
      ),
    );
    expect(responses.join('\n')).toContain('registry-creds');

    const secrets = [
      stack.cluster.token,
      REGISTRY_SECRET,
      GIT_SECRET,
      stack.git.password,
      stack.registry.password,
      WRONG_GIT_PASSWORD,
      WRONG_REGISTRY_PASSWORD,
    ];
    const forms = secrets
      .flatMap(s => [s, Buffer.from(s).toString('base64')])
      .concat(
        [stack.registry.password, WRONG_REGISTRY_PASSWORD].map(p =>
          Buffer.from(`${stack.registry.username}:${p}`).toString('base64'),
        ),
        [stack.git.password, WRONG_GIT_PASSWORD].map(p =>
          Buffer.from(`${stack.git.username}:${p}`).toString('base64'),
        ),
      );
    const haystacks = {
      responses: responses.join('\n'),
      logs: logger.lines.join('\n'),
    };
    for (const [where, text] of Object.entries(haystacks)) {
      const found = forms.filter(form => text.includes(form));
      expect({ where, found }).toEqual({ where, found: [] });
    }
    process.stdout.write(
      `scanned ${responses.length} responses and ${logger.lines.length} log lines for ${forms.length} secret forms\n`,
    );
  }, 180_000);
});
