import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  mockCredentials,
  startTestBackend,
} from '@backstage/backend-test-utils';
import request from 'supertest';
import { Cluster, GitServer, startCluster, startGitServer } from '../infra';
import {
  installCrd,
  startGitopsBackend,
  waitUntil,
  webserviceApp,
} from './support';

/*
 * The resource tree and the diff preview on the real servers: kwok runs the
 * Pods of a webservice's Deployment, which the tree shows under its
 * ReplicaSet with their health; a change pushed to Git is previewed by
 * server-side dry-run before any sync picks it up, field by field, with the
 * Secret's values masked, and the cluster and Git stay exactly as they were.
 */

const OLD_PASSWORD = 'old-password-7b1e';
const NEW_PASSWORD = 'new-password-9c4d';

const deployment = (replicas: number) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
spec:
  replicas: ${replicas}
  selector:
    matchLabels: { app: shop }
  template:
    metadata:
      labels: { app: shop }
    spec:
      containers:
        - name: shop
          image: registry.local/shop:1.0.0
`;

const secret = (password: string) => `apiVersion: v1
kind: Secret
metadata:
  name: shop-db
stringData:
  password: ${password}
  user: shop
`;

const configMap = (name: string) => `apiVersion: v1
kind: ConfigMap
metadata:
  name: ${name}
data:
  level: info
`;

describe('resource tree and diff preview', () => {
  let cluster: Cluster;
  let git: GitServer;
  let cacheDir: string;
  let backend: Awaited<ReturnType<typeof startTestBackend>>;

  const api = (method: 'get' | 'post', url: string) =>
    request(backend.server)
      [method](`/api/gitops/applications/default/${url}`)
      .set('Authorization', mockCredentials.user.header());
  const applyApp = (app: object) =>
    cluster.kubectl(['apply', '-f', '-'], { input: JSON.stringify(app) });
  const whatHappened = async (name: string) =>
    `${JSON.stringify(
      (await api('get', `${name}/runs`)).body,
    )}\n${JSON.stringify((await api('get', `${name}/tree`)).body)}`;

  beforeAll(async () => {
    [cluster, git] = await Promise.all([startCluster(), startGitServer()]);
    await installCrd(cluster);
    cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitops-tree-diff-'));
    backend = await startGitopsBackend({
      clusters: [{ name: 'local', kubeconfig: cluster.kubeconfigPath }],
      cacheDir,
      tickSeconds: 1,
      shards: 1,
    });
  }, 180_000);

  afterAll(async () => {
    await backend?.stop();
    await Promise.all([cluster?.stop(), git?.stop()]);
    fs.rmSync(cacheDir, { recursive: true, force: true });
  }, 60_000);

  it("shows a webservice's Deployment → ReplicaSet → Pods with their health", async () => {
    const app = webserviceApp('web');
    app.spec.components[0].traits.push({
      type: 'scaler',
      properties: { replicas: 2 } as any,
    });
    await applyApp(app);

    const tree = await waitUntil(
      'the tree to show the Deployment rolled out on two Pods',
      async () => {
        const res = await api('get', 'web/tree');
        const deploy = res.body.components?.[0]?.objects?.find(
          (o: any) => o.kind === 'Deployment',
        );
        const pods = deploy?.children?.[0]?.children ?? [];
        return deploy?.health === 'Current' &&
          pods.length === 2 &&
          pods.every((p: any) => p.health === 'Current')
          ? res.body
          : undefined;
      },
      () => whatHappened('web'),
      120_000,
    );

    expect(tree).toMatchObject({
      cluster: 'local',
      namespace: 'default',
      name: 'web',
      health: 'Current',
    });
    const [component] = tree.components;
    expect(component).toMatchObject({
      name: 'web-server',
      type: 'webservice',
      health: 'Current',
    });
    expect(component.objects.map((o: any) => o.kind).sort()).toEqual([
      'Deployment',
      'Ingress',
      'Service',
    ]);
    const deploy = component.objects.find((o: any) => o.kind === 'Deployment');
    expect(deploy).toMatchObject({
      apiVersion: 'apps/v1',
      namespace: 'default',
      name: 'web-server',
      cluster: 'local',
      health: 'Current',
      message: 'Ready:2/2',
    });
    expect(deploy.children).toHaveLength(1);
    const [replicaSet] = deploy.children;
    expect(replicaSet).toMatchObject({
      kind: 'ReplicaSet',
      health: 'Current',
      message: 'Ready:2/2',
    });
    expect(replicaSet.name.startsWith('web-server-')).toBe(true);
    for (const pod of replicaSet.children) {
      expect(pod).toMatchObject({
        apiVersion: 'v1',
        kind: 'Pod',
        namespace: 'default',
        health: 'Current',
        message: 'Pod is Ready',
        children: [],
      });
    }
    // The very Pods the cluster runs for that ReplicaSet.
    const pods = JSON.parse(
      await cluster.kubectl(['get', 'pods', '-o', 'json']),
    ).items.filter((p: any) =>
      p.metadata.ownerReferences?.some(
        (o: any) => o.kind === 'ReplicaSet' && o.name === replicaSet.name,
      ),
    );
    expect(replicaSet.children.map((p: any) => p.name).sort()).toEqual(
      pods.map((p: any) => p.metadata.name).sort(),
    );
  }, 180_000);

  it('previews a change pushed to Git, masked and exact, and leaves the cluster and Git as they were', async () => {
    const fixture = fs.mkdtempSync(path.join(os.tmpdir(), 'shop-repo-'));
    fs.writeFileSync(path.join(fixture, 'deployment.yaml'), deployment(1));
    fs.writeFileSync(path.join(fixture, 'secret.yaml'), secret(OLD_PASSWORD));
    fs.writeFileSync(
      path.join(fixture, 'settings.yaml'),
      configMap('shop-settings'),
    );
    await git.createRepo('shop', { fixtureDir: fixture, branch: 'main' });
    fs.rmSync(fixture, { recursive: true });
    await cluster.kubectl([
      'create',
      'secret',
      'generic',
      'shop-git',
      `--from-literal=username=${git.username}`,
      `--from-literal=password=${git.password}`,
    ]);
    await applyApp({
      apiVersion: 'core.oam.dev/v1beta1',
      kind: 'Application',
      metadata: { name: 'shop', namespace: 'default' },
      spec: {
        components: [
          {
            name: 'deploy',
            type: 'kustomize',
            properties: {
              repoType: 'git',
              url: git.repoUrl('shop'),
              secretRef: 'shop-git',
              // The loop looks at Git again only in an hour: the push below stays unsynced.
              pullInterval: '1h',
              git: { branch: 'main' },
              path: '.',
            },
          },
        ],
      },
    });
    await waitUntil(
      'shop to be healthy and its next poll an hour away',
      async () => {
        const { body } = await api('get', 'shop');
        const next = Date.parse(body.sync?.nextSyncAt ?? '');
        return body.phase === 'running' && next - Date.now() > 30 * 60_000
          ? true
          : undefined;
      },
      () => whatHappened('shop'),
      120_000,
    );

    const clusterState = async () =>
      JSON.parse(
        await cluster.kubectl([
          'get',
          'deployments,secrets,configmaps',
          '-l',
          'app.oam.dev/name=shop',
          '-o',
          'json',
        ]),
      ).items.map((o: any) => ({
        kind: o.kind,
        name: o.metadata.name,
        resourceVersion: o.metadata.resourceVersion,
      }));
    const before = await clusterState();
    expect(before.map((o: any) => `${o.kind}/${o.name}`).sort()).toEqual([
      'ConfigMap/shop-settings',
      'Deployment/shop',
      'Secret/shop-db',
    ]);
    const runsBefore = (await api('get', 'shop/runs')).body.totalCount;

    const head = await git.pushAsHuman('shop', {
      branch: 'main',
      message: 'Scale the shop, rotate its password, rename its settings',
      files: {
        'deployment.yaml': deployment(3),
        'secret.yaml': secret(NEW_PASSWORD),
        'features.yaml': configMap('shop-features'),
      },
      change: dir => fs.rmSync(path.join(dir, 'settings.yaml')),
    });
    const commitsBefore = (await git.log('shop', 'main')).length;

    const res = await api('post', 'shop/diff');
    expect(res.status).toBe(200);
    const preview = res.body;
    expect(preview.revisions).toEqual({ deploy: `main@sha1:${head}` });
    const byName = Object.fromEntries(
      preview.objects.map((o: any) => [`${o.kind}/${o.name}`, o]),
    );
    expect(Object.keys(byName).sort()).toEqual([
      'ConfigMap/shop-features',
      'ConfigMap/shop-settings',
      'Deployment/shop',
      'Secret/shop-db',
    ]);
    expect(preview.counts).toEqual({
      created: 1,
      changed: 2,
      unchanged: 0,
      pruned: 1,
    });

    const changedLines = (diff: string) =>
      diff.split('\n').filter(l => /^[-+](?![-+]{2} )/.test(l));
    const deploy = byName['Deployment/shop'];
    expect(deploy).toMatchObject({
      cluster: 'local',
      apiVersion: 'apps/v1',
      namespace: 'default',
      action: 'changed',
      changedFields: ['spec.replicas'],
    });
    expect(changedLines(deploy.diff)).toEqual([
      '-  replicas: 1',
      '+  replicas: 3',
    ]);

    const db = byName['Secret/shop-db'];
    expect(db.action).toBe('changed');
    expect(changedLines(db.diff)).toEqual([
      '-  password: <hidden>',
      '+  password: <hidden, changed>',
    ]);
    expect(db.diff).toContain('  user: <hidden>');
    // No value of the Secret, in any form, anywhere in the answer.
    const text = JSON.stringify(preview);
    for (const value of [OLD_PASSWORD, NEW_PASSWORD]) {
      expect(text).not.toContain(value);
      expect(text).not.toContain(Buffer.from(value).toString('base64'));
    }
    expect(text).not.toContain(Buffer.from('shop').toString('base64')); // user

    expect(byName['ConfigMap/shop-features'].action).toBe('created');
    expect(changedLines(byName['ConfigMap/shop-features'].diff)).toContain(
      '+  level: info',
    );
    expect(byName['ConfigMap/shop-settings']).toMatchObject({
      action: 'pruned',
    });
    expect(byName['ConfigMap/shop-settings'].diff).toBeUndefined();

    // Nothing moved: not one object, not one reconcile, not one commit.
    expect(await clusterState()).toEqual(before);
    expect(
      JSON.parse(
        await cluster.kubectl(['get', 'deployment', 'shop', '-o', 'json']),
      ).spec.replicas,
    ).toBe(1);
    expect((await api('get', 'shop/runs')).body.totalCount).toBe(runsBefore);
    expect((await git.log('shop', 'main')).length).toBe(commitsBefore);
  }, 240_000);
});
