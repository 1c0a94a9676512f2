import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createBackendModule } from '@backstage/backend-plugin-api';
import {
  mockCredentials,
  startTestBackend,
} from '@backstage/backend-test-utils';
import { gitopsDefinitionsExtensionPoint } from '@gitops-workflow/plugin-gitops-node';
import request from 'supertest';
import {
  Cluster,
  GitServer,
  pushImage,
  Registry,
  startCluster,
  startGitServer,
  startRegistry,
} from '../infra';
import {
  createSourceSecrets,
  installCrd,
  kustomizeApp,
  markedDeployment,
  startGitopsBackend,
  waitUntil,
  webserviceApp,
} from './support';

/*
 * One pipeline for every Application, through the backend on real servers:
 * definitions from a backend module, image history stamped for workflow
 * Applications, clusters and modes an Application leaves pruned, and a lost
 * database that still prunes.
 */

/** A module of an adopter: a trait and a workflow step type of its own. */
const teamDefinitions = createBackendModule({
  pluginId: 'gitops',
  moduleId: 'team-definitions',
  register(env) {
    env.registerInit({
      deps: { definitions: gitopsDefinitionsExtensionPoint },
      async init({ definitions }) {
        definitions.addTrait({
          type: 'team-config',
          validate(properties) {
            properties.string('team');
          },
          apply(ctx) {
            ctx.add({
              apiVersion: 'v1',
              kind: 'ConfigMap',
              metadata: { name: `${ctx.component.name}-team` },
              data: { team: String(ctx.trait.properties.team) },
            });
          },
        });
        definitions.addStepType({
          type: 'deploy-listed',
          async run(ctx) {
            const names = ctx.step.properties.components as string[];
            const local = ctx.clusters.find(c => c.name === ctx.localCluster)!;
            const waiting = await ctx.deploy(
              ctx.app.spec.components.filter(c => names.includes(c.name)),
              [{ cluster: local }],
              'listed',
            );
            return waiting.length > 0
              ? { phase: 'running', message: waiting.join('; ') }
              : { phase: 'succeeded', message: `deployed ${names.join(', ')}` };
          },
        });
      },
    });
  },
});

describe('one pipeline for every Application', () => {
  let local: Cluster;
  let prod: Cluster;
  let registry: Registry;
  let git: GitServer;
  let backend: Awaited<ReturnType<typeof startTestBackend>> | undefined;
  let cacheDir: string;

  beforeAll(async () => {
    [local, prod, registry, git] = await Promise.all([
      startCluster({ name: 'local' }),
      startCluster({ name: 'prod' }),
      startRegistry(),
      startGitServer(),
    ]);
    await installCrd(local);
    cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitops-pipeline-'));
  }, 180_000);

  afterAll(async () => {
    await backend?.stop();
    await Promise.all([
      local?.stop(),
      prod?.stop(),
      registry?.stop(),
      git?.stop(),
    ]);
    fs.rmSync(cacheDir, { recursive: true, force: true });
  }, 60_000);

  const start = () =>
    startGitopsBackend(
      {
        clusters: [
          { name: 'local', kubeconfig: local.kubeconfigPath },
          { name: 'prod', kubeconfig: prod.kubeconfigPath },
        ],
        cacheDir,
        tickSeconds: 1,
        shards: 1,
        // Its Applications deploy to a second cluster: beyond the default project's reach.
        projects: [
          {
            name: 'platform',
            applications: { namespaces: ['default'] },
            sourceRepos: ['*'],
            destinations: [{ cluster: '*', namespace: '*' }],
          },
        ],
      },
      [teamDefinitions],
    );
  const api = (url: string) =>
    request(backend!.server)
      .get(`/api/gitops/applications/default/${url}`)
      .set('Authorization', mockCredentials.user.header());
  const applyApp = (app: object) =>
    local.kubectl(['apply', '-f', '-'], { input: JSON.stringify(app) });
  const exists = async (cluster: Cluster, kind: string, name: string) =>
    (
      await cluster.kubectl([
        'get',
        kind,
        name,
        '--ignore-not-found',
        '-o',
        'name',
      ])
    ).trim() !== '';
  const whatHappened = async (name: string) =>
    `${JSON.stringify((await api(`${name}/runs`)).body)}\n${await local.kubectl(
      ['get', 'application', name, '-o', 'yaml', '--ignore-not-found'],
    )}`;

  it('runs a trait and a step type a backend module registers, on the real cluster', async () => {
    backend = await start();
    const app = webserviceApp('custom');
    app.spec.components[0].traits.push({
      type: 'team-config',
      properties: { team: 'payments' } as any,
    });
    await applyApp({
      ...app,
      spec: {
        components: [
          ...app.spec.components,
          {
            name: 'later',
            type: 'webservice',
            properties: { image: 'registry.local/later:1', port: 8080 },
          },
        ],
        workflow: {
          steps: [
            {
              name: 'first',
              type: 'deploy-listed',
              properties: { components: ['custom-server'] },
            },
            { name: 'hold', type: 'suspend' },
          ],
        },
      },
    });
    const details = await waitUntil(
      'the custom step to finish and the workflow to wait',
      async () => {
        const res = await api('custom');
        return res.body.phase === 'workflowSuspending' ? res.body : undefined;
      },
      () => whatHappened('custom'),
    );
    const configMap = JSON.parse(
      await local.kubectl(['get', 'configmap', 'custom-server-team', '-o', 'json']),
    );
    expect(configMap.data).toEqual({ team: 'payments' });
    expect(configMap.metadata.labels['app.oam.dev/component']).toBe(
      'custom-server',
    );
    expect(await exists(local, 'deployment', 'custom-server')).toBe(true);
    expect(await exists(local, 'deployment', 'later')).toBe(false);
    expect(
      details.workflow.steps.map((s: any) => [s.name, s.type, s.phase]),
    ).toEqual([
      ['first', 'deploy-listed', 'succeeded'],
      ['hold', 'suspend', 'suspending'],
    ]);
  });

  it('prunes the cluster an Application leaves when it drops its topology and its workflow', async () => {
    const app = webserviceApp('roaming');
    await applyApp({
      ...app,
      spec: {
        ...app.spec,
        policies: [
          {
            name: 'everywhere',
            type: 'topology',
            properties: { clusters: ['local', 'prod'] },
          },
        ],
      },
    });
    await waitUntil(
      'roaming to run on both clusters',
      async () =>
        (await exists(local, 'deployment', 'roaming-server')) &&
        (await exists(prod, 'deployment', 'roaming-server')) &&
        (await api('roaming')).body.phase === 'running'
          ? true
          : undefined,
      () => whatHappened('roaming'),
    );

    // Back to no policy and no workflow: KubeVela's implicit deploy, on the local cluster only.
    await applyApp(app);
    await waitUntil(
      'roaming to leave prod',
      async () =>
        !(await exists(prod, 'deployment', 'roaming-server')) &&
        !(await exists(prod, 'service', 'roaming-server'))
          ? true
          : undefined,
      () => whatHappened('roaming'),
    );
    expect(await exists(local, 'deployment', 'roaming-server')).toBe(true);
    const status = JSON.parse(
      await local.kubectl(['get', 'application', 'roaming', '-o', 'json']),
    ).status;
    expect(status.services.map((s: any) => s.cluster)).toEqual(['local']);
    expect(
      new Set(status.appliedResources.map((r: any) => r.cluster)),
    ).toEqual(new Set(['local']));
  });

  it('stamps every image-history milestone of a workflow Application, each when it happens', async () => {
    const image = `${registry.host}/pipeline/web`;
    await pushImage(registry, 'pipeline/web', 'build-1');
    const fixture = fs.mkdtempSync(path.join(os.tmpdir(), 'pipeline-repo-'));
    fs.writeFileSync(
      path.join(fixture, 'deployment.yaml'),
      markedDeployment(`${image}:build-1`),
    );
    await git.createRepo('pipeline', { fixtureDir: fixture, branch: 'main' });
    fs.rmSync(fixture, { recursive: true });
    await createSourceSecrets(local, git, registry, {
      git: 'git-creds',
      registry: 'registry-creds',
    });
    const app = kustomizeApp('delivered', git.repoUrl('pipeline'), image);
    await applyApp({
      ...app,
      spec: {
        ...app.spec,
        workflow: { steps: [{ name: 'ship', type: 'deploy' }] },
      },
    });
    await waitUntil(
      'delivered to run',
      async () =>
        (await api('delivered')).body.phase === 'running' ? true : undefined,
      () => whatHappened('delivered'),
    );

    await pushImage(registry, 'pipeline/web', 'build-2');
    await request(backend!.server)
      .post('/api/gitops/applications/default/delivered/sync')
      .set('Authorization', mockCredentials.user.header())
      .expect(202);
    const row = await waitUntil(
      'the update to be healthy',
      async () => {
        const item = (await api('delivered/image-history')).body.items?.[0];
        return item?.healthyAt ? item : undefined;
      },
      () => whatHappened('delivered'),
    );
    expect(row).toMatchObject({ oldTag: 'build-1', newTag: 'build-2' });
    const [detected, pushed, applied, healthy] = [
      row.detectedAt,
      row.pushedAt,
      row.appliedAt,
      row.healthyAt,
    ].map(Date.parse);
    // The tag is picked before the commit is pushed, and applied after it.
    expect(detected).toBeLessThan(pushed);
    expect(pushed).toBeLessThanOrEqual(applied);
    expect(applied).toBeLessThanOrEqual(healthy);
    const deployment = JSON.parse(
      await local.kubectl(['get', 'deployment', 'web', '-o', 'json']),
    );
    expect(deployment.spec.template.spec.containers[0].image).toBe(
      `${image}:build-2`,
    );
  });

  it('still prunes what left Git after the database is lost, from status.appliedResources', async () => {
    const withSettings = {
      apiVersion: 'core.oam.dev/v1beta1',
      kind: 'Application',
      metadata: { name: 'settings', namespace: 'default' },
      spec: {
        components: [
          {
            name: 'config',
            type: 'k8s-objects',
            properties: {
              objects: ['keep', 'drop'].map(name => ({
                apiVersion: 'v1',
                kind: 'ConfigMap',
                metadata: { name: `settings-${name}` },
                data: { name },
              })),
            },
          },
        ],
      },
    };
    await applyApp(withSettings);
    await waitUntil(
      'both ConfigMaps',
      async () =>
        (await exists(local, 'configmap', 'settings-drop')) &&
        (await api('settings')).body.phase === 'running'
          ? true
          : undefined,
      () => whatHappened('settings'),
    );

    // A new backend with an empty database: nothing of the store survives.
    await backend!.stop();
    backend = await start();
    const objects = withSettings.spec.components[0].properties.objects;
    await applyApp({
      ...withSettings,
      spec: {
        components: [
          {
            ...withSettings.spec.components[0],
            properties: { objects: [objects[0]] },
          },
        ],
      },
    });
    await waitUntil(
      'settings-drop to be pruned',
      async () =>
        !(await exists(local, 'configmap', 'settings-drop')) ? true : undefined,
      () => whatHappened('settings'),
    );
    expect(await exists(local, 'configmap', 'settings-keep')).toBe(true);
  });
});
