import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  mockCredentials,
  mockServices,
  startTestBackend,
} from '@backstage/backend-test-utils';
import {
  coreServices,
  createServiceFactory,
  LoggerService,
} from '@backstage/backend-plugin-api';
import { databaseServiceFactory } from '@backstage/backend-defaults/database';
import { schedulerServiceFactory } from '@backstage/backend-defaults/scheduler';
import catalogPlugin from '@backstage/plugin-catalog-backend';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import gitopsPlugin from '@gitops-workflow/plugin-gitops-backend';
import type {
  ReconcileRun,
  TimelineResponse,
} from '@gitops-workflow/plugin-gitops-common';
import request from 'supertest';
import { Cluster, startCluster } from '../infra';
import { installCrd, waitUntil, webserviceApp } from './support';

/*
 * Every route of /api/gitops against a real cluster, the real catalog and a
 * real SQLite database on disk. A second backend, whose permission service
 * denies everything, shares that database, so "denied and nothing happened"
 * is checked where it would have happened.
 */

const MANAGED = { 'gitops.backstage.io/managed': 'true' };
const GIT_PASSWORD = 'git-password-in-url-0123456789';

function kustomizeApp() {
  return {
    apiVersion: 'core.oam.dev/v1beta1',
    kind: 'Application',
    metadata: { name: 'synced', namespace: 'default', labels: MANAGED },
    spec: {
      components: [
        {
          name: 'gitops',
          type: 'kustomize',
          properties: {
            repoType: 'git',
            // Nothing listens there: every reconcile of it fails, which the sync state must say.
            url: `http://bot:${GIT_PASSWORD}@127.0.0.1:9/demo.git`,
            secretRef: 'git-creds',
            pullInterval: '10m',
            git: { branch: 'main' },
            path: './deploy',
            imageRepository: {
              image: 'registry.local/demo',
              secretRef: 'registry-creds',
              interval: '2m',
              filterTags: { pattern: '^v(?P<v>.*)$', extract: '$v' },
              policy: { semver: { range: '>=1.0.0' } },
              commitMessage: '{{range .Updated.Images}}{{println .}}{{end}}',
            },
          },
        },
      ],
    },
  };
}

/** What the gitops plugin warned about; it and every other plugin still log as usual. */
const gitopsWarnings: string[] = [];
const recordingLogger = createServiceFactory({
  service: coreServices.logger,
  deps: {
    rootLogger: coreServices.rootLogger,
    plugin: coreServices.pluginMetadata,
  },
  factory({ rootLogger, plugin }): LoggerService {
    const logger = rootLogger.child({ plugin: plugin.getId() });
    if (plugin.getId() !== 'gitops') return logger;
    // Delegates instead of inheriting: the logger keeps its state in private fields.
    return {
      error: (message, meta) => logger.error(message, meta),
      warn(message, meta) {
        gitopsWarnings.push(message);
        logger.warn(message, meta);
      },
      info: (message, meta) => logger.info(message, meta),
      debug: (message, meta) => logger.debug(message, meta),
      child: meta => logger.child(meta),
    };
  },
});

const ROUTES: Array<['get' | 'post', string]> = [
  ['get', '/clusters'],
  ['get', '/applications'],
  ['get', '/applications/default/web'],
  ['get', '/applications/default/web/sync-config'],
  ['get', '/applications/default/web/image-history'],
  ['get', '/applications/default/web/runs'],
  ['post', '/applications/default/web/sync'],
  ['post', '/applications/default/web/suspend'],
  ['post', '/applications/default/web/resume'],
  ['post', '/applications/default/web/workflow/resume'],
  ['post', '/applications/default/web/rollback'],
  ['post', '/applications/default/web/rollback/release'],
  ['get', '/applications/default/web/timeline'],
  ['get', '/applications/default/web/tree'],
  ['post', '/applications/default/web/diff'],
];

describe('the gitops HTTP API', () => {
  let cluster: Cluster;
  let target: Cluster;
  let dir: string;
  let backend: Awaited<ReturnType<typeof startTestBackend>>;
  let denied: Awaited<ReturnType<typeof startTestBackend>>;

  const gitopsConfig = () => ({
    clusters: [
      { name: 'local', kubeconfig: cluster.kubeconfigPath },
      // A deploy target without the Application CRD: no Applications, no error.
      { name: 'target', kubeconfig: target.kubeconfigPath },
      // A cluster that is down costs its own Applications, not the list.
      { name: 'down', url: 'https://127.0.0.1:9', token: 'down-token' },
    ],
    selector: { matchLabels: MANAGED },
    cacheDir: path.join(dir, 'clones'),
    commitAuthor: { name: 'Release Bot', email: 'release-bot@example.com' },
    tickSeconds: 1,
  });
  const database = () => ({
    client: 'better-sqlite3',
    connection: { directory: path.join(dir, 'db') },
  });

  const api = (method: 'get' | 'post', url: string, server = backend.server) =>
    request(server)
      [method](`/api/gitops${url}`)
      .set('Authorization', mockCredentials.user.header());
  const kubectlState = () =>
    cluster.kubectl(['get', 'applications,deployments', '-o', 'yaml']);

  beforeAll(async () => {
    [cluster, target] = await Promise.all([
      startCluster(),
      startCluster({ name: 'target' }),
    ]);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitops-router-'));
    await installCrd(cluster);
    for (const app of [
      webserviceApp('web', MANAGED),
      kustomizeApp(),
      webserviceApp('not-ours'),
    ]) {
      await cluster.kubectl(['apply', '-f', '-'], {
        input: JSON.stringify(app),
      });
    }
    fs.writeFileSync(
      path.join(dir, 'catalog-info.yaml'),
      `apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: web-service
  annotations:
    gitops-workflow.io/application: local/default/web
spec:
  type: service
  lifecycle: production
  owner: team-a
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: synced-service
  annotations:
    # The deprecated name, still read (with a warning).
    gitops.backstage.io/application: default/synced
spec:
  type: service
  lifecycle: production
  owner: team-a
`,
    );

    backend = await startTestBackend({
      features: [
        gitopsPlugin,
        catalogPlugin,
        schedulerServiceFactory,
        databaseServiceFactory,
        recordingLogger,
        mockServices.rootConfig.factory({
          data: {
            backend: { database: database() },
            catalog: {
              locations: [
                { type: 'file', target: path.join(dir, 'catalog-info.yaml') },
              ],
              rules: [{ allow: ['Component', 'Location'] }],
            },
            gitops: gitopsConfig(),
          },
        }),
      ],
    });
    // Same database, a permission service that says no to everything, and a
    // scheduler that never runs the loop: whatever changes, the denied calls did.
    denied = await startTestBackend({
      features: [
        gitopsPlugin,
        databaseServiceFactory,
        mockServices.scheduler.factory({ skipTaskRunOnStartup: true }),
        mockServices.permissions.factory({ result: AuthorizeResult.DENY }),
        mockServices.rootConfig.factory({
          data: { backend: { database: database() }, gitops: gitopsConfig() },
        }),
      ],
    });
  }, 180_000);

  afterAll(async () => {
    await denied?.stop();
    await backend?.stop();
    await Promise.all([cluster?.stop(), target?.stop()]);
    fs.rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('lists the managed Applications like vela ls, each with its catalog entity', async () => {
    const list = await waitUntil(
      'web to run and both entities to be linked',
      async () => {
        const res = await api('get', '/applications');
        const web = res.body.items?.find((a: any) => a.name === 'web');
        const synced = res.body.items?.find((a: any) => a.name === 'synced');
        return web?.phase === 'running' && web.entityRef && synced?.entityRef
          ? res.body
          : undefined;
      },
      kubectlState,
      90_000,
    );
    expect(list.items.map((a: any) => a.name)).toEqual(['synced', 'web']);
    expect(list.errors).toEqual([
      { cluster: 'down', error: expect.stringContaining('Connection refused') },
    ]);
    const web = list.items.find((a: any) => a.name === 'web');
    expect(web).toEqual({
      cluster: 'local',
      namespace: 'default',
      name: 'web',
      createdAt: expect.any(String),
      phase: 'running',
      healthy: true,
      components: [
        {
          name: 'web-server',
          type: 'webservice',
          traits: ['ingress'],
          healthy: true,
          message: 'Ready:1/1',
        },
      ],
      entityRef: 'component:default/web-service',
    });
    // The cluster part may be left out for the default cluster; the
    // deprecated annotation still links, and the log says to rename it.
    expect(list.items.find((a: any) => a.name === 'synced')).toMatchObject({
      entityRef: 'component:default/synced-service',
      healthy: false,
    });
    await api('get', '/applications').expect(200);
    expect(gitopsWarnings.filter(w => /deprecated annotation/.test(w))).toEqual(
      [
        "component:default/synced-service names its Application with the deprecated annotation gitops.backstage.io/application: rename it to gitops-workflow.io/application in the entity's catalog file (the value stays the same). The old name is still read for now.",
      ],
    );
  });

  it('shows one Application with its live resources, their health, and the sync state', async () => {
    const res = await api('get', '/applications/default/web');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      cluster: 'local',
      name: 'web',
      phase: 'running',
      components: [
        { name: 'web-server', type: 'webservice', traits: ['ingress'] },
      ],
      services: [{ name: 'web-server', healthy: true }],
      sync: { suspended: false, lastSyncResult: 'succeeded' },
    });
    const resources = res.body.resources['web-server'];
    expect(
      resources.map((r: any) => `${r.kind}/${r.name}=${r.health}`).sort(),
    ).toEqual([
      'Deployment/web-server=Current',
      'Ingress/web-server=Current',
      'Service/web-server=Current',
    ]);
    expect(resources.find((r: any) => r.kind === 'Deployment')).toMatchObject({
      apiVersion: 'apps/v1',
      namespace: 'default',
      cluster: 'local',
    });
    const { lastSyncAt, nextSyncAt } = res.body.sync;
    expect(Date.parse(lastSyncAt)).toBeLessThanOrEqual(Date.now());
    expect(Date.parse(nextSyncAt)).toBeGreaterThan(Date.parse(lastSyncAt));

    // A deleted object shows up as NotFound, not as silently gone.
    await cluster.kubectl(['delete', 'service', 'web-server']);
    const after = await api('get', '/applications/default/web');
    const service = after.body.resources['web-server'].find(
      (r: any) => r.kind === 'Service',
    );
    expect(service).toMatchObject({
      health: 'NotFound',
      message: 'Not found in the cluster',
    });
  });

  it('says why the last sync failed, without the credentials in the Git URL', async () => {
    const res = await waitUntil(
      'synced to have failed once',
      async () => {
        const r = await api('get', '/applications/default/synced');
        return r.body.sync?.lastSyncResult === 'failed' ? r : undefined;
      },
      kubectlState,
    );
    expect(res.body.sync.lastSyncError).toEqual(expect.any(String));
    expect(JSON.stringify(res.body)).not.toContain(GIT_PASSWORD);
  });

  it('describes how a kustomize component syncs: Secrets by name, the author from config', async () => {
    const res = await api('get', '/applications/default/synced/sync-config');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      components: [
        {
          name: 'gitops',
          git: {
            url: 'http://127.0.0.1:9/demo.git',
            branch: 'main',
            path: './deploy',
            pullInterval: '10m',
            prune: true,
            secretRef: 'git-creds',
          },
          image: {
            image: 'registry.local/demo',
            interval: '2m',
            pattern: '^v(?P<v>.*)$',
            extract: '$v',
            policy: 'semver >=1.0.0',
            commitMessage: '{{range .Updated.Images}}{{println .}}{{end}}',
            secretRef: 'registry-creds',
            // Flux's default: markers write image:tag.
            digestReflectionPolicy: 'Never',
          },
        },
      ],
      commitAuthor: { name: 'Release Bot', email: 'release-bot@example.com' },
    });
    // An Application without kustomize components syncs nothing from Git.
    expect(
      (await api('get', '/applications/default/web/sync-config')).body
        .components,
    ).toEqual([]);
  });

  it('answers 404 for an Application that does not exist and 400 for a bad page', async () => {
    const missing = await api('get', '/applications/default/nope');
    expect(missing.status).toBe(404);
    expect(missing.body.error.message).toBe(
      'No Application default/nope in cluster "local"',
    );
    expect(
      (await api('get', '/applications/default/nope/sync-config')).status,
    ).toBe(404);
    expect((await api('post', '/applications/default/nope/sync')).status).toBe(
      404,
    );
    expect(
      (await api('get', '/applications/default/web?cluster=elsewhere')).status,
    ).toBe(404);
    expect(
      (await api('get', '/applications/default/web/runs?limit=0')).status,
    ).toBe(400);
  });

  it('refuses to sync an Application the selector leaves to another controller', async () => {
    const res = await api('post', '/applications/default/not-ours/sync');
    expect(res.status).toBe(409);
    expect(res.body.error.message).toBe(
      'Application default/not-ours in cluster "local" is not reconciled by this backend: it reconciles the Applications of cluster "local" labelled gitops.backstage.io/managed=true',
    );
    expect(
      (await api('post', '/applications/default/web/sync?cluster=down')).status,
    ).toBe(503);
  });

  it('pages runs and image history', async () => {
    const runs = await api('get', '/applications/default/web/runs?limit=1');
    expect(runs.status).toBe(200);
    expect(runs.body.items).toHaveLength(1);
    expect(runs.body.totalCount).toBeGreaterThanOrEqual(1);
    expect(runs.body.items[0]).toMatchObject({
      trigger: expect.any(String),
      result: 'succeeded',
    });
    const history = await api(
      'get',
      '/applications/default/web/image-history?limit=5&offset=0',
    );
    expect(history.body).toEqual({ items: [], totalCount: 0 });
  });

  it('suspends and resumes the automation, and a sync request runs a reconcile', async () => {
    expect(
      (await api('post', '/applications/default/web/suspend')).body,
    ).toEqual({ suspended: true });
    expect(
      (await api('get', '/applications/default/web')).body.sync.suspended,
    ).toBe(true);
    expect(
      (await api('post', '/applications/default/web/resume')).body,
    ).toEqual({ suspended: false });
    expect(
      (await api('get', '/applications/default/web')).body.sync.suspended,
    ).toBe(false);

    expect((await api('post', '/applications/default/web/sync')).status).toBe(
      202,
    );
    await waitUntil(
      'a manual run',
      async () => {
        const res = await api('get', '/applications/default/web/runs');
        return res.body.items.find(
          (r: any) => r.trigger === 'manual' && r.finishedAt,
        );
      },
      kubectlState,
    );
  });

  it("tells the timeline of what was done, oldest first: the sync that created web's objects, and who suspended, resumed and asked for a sync", async () => {
    const res = await api('get', '/applications/default/web/timeline');
    expect(res.status).toBe(200);
    const { events, dora } = res.body as TimelineResponse;
    const times = events.map(e => Date.parse(e.at));
    expect([...times].sort((a, b) => a - b)).toEqual(times);

    const runs: ReconcileRun[] = (
      await api('get', '/applications/default/web/runs?limit=500')
    ).body.items;
    const creating = runs.filter(r => (r.objectsChanged ?? 0) > 0).pop()!;
    expect(events).toContainEqual({
      at: creating.finishedAt,
      kind: 'synced',
      sentence: `Sync (${creating.trigger}) changed ${
        creating.objectsChanged
      } object${creating.objectsChanged === 1 ? '' : 's'}`,
      links: { run: creating.id },
    });
    // The earlier test's actions, as the audit trail recorded them, in order.
    const actions = events
      .filter(e => e.kind === 'action' && e.actor === 'user:default/mock')
      .map(e => e.sentence);
    expect(actions).toEqual(
      expect.arrayContaining([
        'mock suspended image update automation',
        'mock resumed image update automation',
        'mock asked for a sync',
      ]),
    );
    expect(
      actions.indexOf('mock suspended image update automation'),
    ).toBeLessThan(actions.indexOf('mock resumed image update automation'));
    // web has no image automation: no rollouts to count.
    expect(dora).toMatchObject({ rollouts: 0, deploymentsPerDay: 0 });
  });

  it.each(ROUTES)(
    'refuses %s %s with 403 for a user without permission',
    async (method, url) => {
      const res = await api(method, url, denied.server);
      expect(res.status).toBe(403);
      expect(res.body.error.name).toBe('NotAllowedError');
    },
  );

  it('changes nothing when a denied user suspends, resumes or syncs', async () => {
    const manualRuns = async () =>
      (
        await api('get', '/applications/default/web/runs?limit=500')
      ).body.items.filter((r: any) => r.trigger === 'manual').length;
    const manualBefore = await manualRuns();

    expect(
      (await api('post', '/applications/default/web/suspend', denied.server))
        .status,
    ).toBe(403);
    expect(
      (await api('get', '/applications/default/web')).body.sync.suspended,
    ).toBe(false);

    await api('post', '/applications/default/web/suspend');
    expect(
      (await api('post', '/applications/default/web/resume', denied.server))
        .status,
    ).toBe(403);
    expect(
      (await api('get', '/applications/default/web')).body.sync.suspended,
    ).toBe(true);
    await api('post', '/applications/default/web/resume');

    expect(
      (await api('post', '/applications/default/web/sync', denied.server))
        .status,
    ).toBe(403);
    await new Promise(r => setTimeout(r, 2000));
    expect(await manualRuns()).toBe(manualBefore);
  });
});
