import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestBackend } from '@backstage/backend-test-utils';
import { Cluster, GitServer, startCluster, startGitServer } from '../infra';
import {
  installCrd,
  startGitopsBackend,
  waitUntil,
  webserviceApp,
} from './support';

/*
 * Tenancy on a real API server with real RBAC: what an Application may do is
 * bounded by its project (the default one when none is configured), checked
 * before anything of a pass is applied; an Application with a ServiceAccount
 * acts as it, so the cluster's RBAC decides; Git paths stay inside the clone
 * and remote bases are off.
 */

type Condition = {
  type: string;
  status: string;
  reason?: string;
  message?: string;
};

const objectsApp = (
  name: string,
  namespace: string,
  objects: unknown[],
  annotations: Record<string, string> = {},
) => ({
  apiVersion: 'core.oam.dev/v1beta1',
  kind: 'Application',
  metadata: { name, namespace, annotations },
  spec: {
    components: [
      { name: `${name}-objects`, type: 'k8s-objects', properties: { objects } },
    ],
  },
});

const configMap = (name: string, namespace?: string) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: namespace ? { name, namespace } : { name },
  data: { owner: name },
});

describe('tenancy', () => {
  let cluster: Cluster;
  let git: GitServer;
  let cacheDir: string;
  let backend: Awaited<ReturnType<typeof startTestBackend>> | undefined;

  beforeAll(async () => {
    [cluster, git] = await Promise.all([startCluster(), startGitServer()]);
    await installCrd(cluster);
    cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitops-tenancy-'));
    for (const ns of ['team-a', 'team-b', 'shared-x', 'elsewhere'])
      await cluster.kubectl(['create', 'namespace', ns]);
    for (const ns of ['default', 'team-b'])
      await cluster.kubectl([
        'create',
        'secret',
        'generic',
        'git-creds',
        '-n',
        ns,
        `--from-literal=username=${git.username}`,
        `--from-literal=password=${git.password}`,
      ]);
  }, 180_000);

  afterAll(async () => {
    await backend?.stop();
    await Promise.all([cluster?.stop(), git?.stop()]);
    if (cacheDir) fs.rmSync(cacheDir, { recursive: true, force: true });
  }, 60_000);

  const start = async (extra: Record<string, unknown> = {}) => {
    await backend?.stop();
    backend = await startGitopsBackend({
      clusters: [{ name: 'local', kubeconfig: cluster.kubeconfigPath }],
      cacheDir,
      kustomizePath: cluster.binaries.kustomize,
      tickSeconds: 1,
      shards: 1,
      ...extra,
    });
  };

  const create = (app: object) =>
    cluster.kubectl(['apply', '-f', '-'], { input: JSON.stringify(app) });

  const exists = async (args: string[]) =>
    cluster.kubectl(['get', ...args, '-o', 'name']).then(
      () => true,
      () => false,
    );

  const application = async (namespace: string, name: string) =>
    JSON.parse(
      await cluster.kubectl([
        'get',
        'application',
        name,
        '-n',
        namespace,
        '-o',
        'json',
      ]),
    ) as { status?: { status?: string; conditions?: Condition[] } };

  /** The first false condition of the Application once its message has `text`. */
  const refusal = (namespace: string, name: string, text: string) =>
    waitUntil(
      `${namespace}/${name} refused with "${text}"`,
      async () =>
        (await application(namespace, name)).status?.conditions?.find(
          c => c.status === 'False' && c.message?.includes(text),
        ),
      async () =>
        JSON.stringify((await application(namespace, name)).status, null, 2),
    );

  const running = (namespace: string, name: string) =>
    waitUntil(
      `${namespace}/${name} running`,
      async () =>
        (await application(namespace, name)).status?.status === 'running'
          ? true
          : undefined,
      async () =>
        JSON.stringify((await application(namespace, name)).status, null, 2),
    );

  describe('with no project configured (the default)', () => {
    beforeAll(() => start(), 60_000);

    it('refuses the escalation with a sentence naming object, rule and project, applies nothing of it, and still deploys a plain webservice', async () => {
      await create(
        objectsApp('escalate', 'default', [
          configMap('escalate-innocent'),
          {
            apiVersion: 'rbac.authorization.k8s.io/v1',
            kind: 'ClusterRoleBinding',
            metadata: { name: 'escalate-admin' },
            roleRef: {
              apiGroup: 'rbac.authorization.k8s.io',
              kind: 'ClusterRole',
              name: 'cluster-admin',
            },
            subjects: [
              { kind: 'ServiceAccount', name: 'default', namespace: 'default' },
            ],
          },
          configMap('escalate-system', 'kube-system'),
        ]),
      );
      await create(webserviceApp('plain'));

      const condition = await refusal(
        'default',
        'escalate',
        'Project "default" refuses ClusterRoleBinding escalate-admin (cluster-scoped) on cluster local',
      );
      expect(condition.reason).toBe('Forbidden');
      expect(condition.message).toContain(
        'cluster-scoped kind rbac.authorization.k8s.io/ClusterRoleBinding is not among its clusterScopedKinds (none)',
      );
      await running('default', 'plain');
      expect(
        await exists(['deployment', 'plain-server', '-n', 'default']),
      ).toBe(true);
      // Nothing of the refused pass was written: not even its allowed ConfigMap.
      expect(await exists(['clusterrolebinding', 'escalate-admin'])).toBe(
        false,
      );
      expect(
        await exists(['configmap', 'escalate-system', '-n', 'kube-system']),
      ).toBe(false);
      expect(
        await exists(['configmap', 'escalate-innocent', '-n', 'default']),
      ).toBe(false);

      // Without the cluster-scoped object, the other namespace is the next refusal.
      await create(
        objectsApp('escalate', 'default', [
          configMap('escalate-innocent'),
          configMap('escalate-system', 'kube-system'),
        ]),
      );
      await refusal(
        'default',
        'escalate',
        'Project "default" refuses ConfigMap kube-system/escalate-system on cluster local: destination local/kube-system is not among its destinations (local/default).',
      );
      expect(
        await exists(['configmap', 'escalate-innocent', '-n', 'default']),
      ).toBe(false);
    }, 120_000);

    const kustomizeApp = (
      name: string,
      repo: string,
      componentPath: string,
    ) => ({
      apiVersion: 'core.oam.dev/v1beta1',
      kind: 'Application',
      metadata: { name, namespace: 'default' },
      spec: {
        components: [
          {
            name: 'deploy',
            type: 'kustomize',
            properties: {
              repoType: 'git',
              url: git.repoUrl(repo),
              secretRef: 'git-creds',
              pullInterval: '1m',
              git: { branch: 'main' },
              path: componentPath,
            },
          },
        ],
      },
    });

    it('keeps Git paths inside the clone and remote bases off, each refused with a message', async () => {
      await git.createRepo('paths', { branch: 'main' });
      await git.pushAsHuman('paths', {
        branch: 'main',
        change: dir => {
          fs.mkdirSync(path.join(dir, 'ok'));
          fs.writeFileSync(
            path.join(dir, 'ok', 'cm.yaml'),
            'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: paths-ok}\ndata: {a: "1"}\n',
          );
          // The backend's clone cache: every other Application's clone lies below it.
          fs.symlinkSync(cacheDir, path.join(dir, 'clones'));
          fs.mkdirSync(path.join(dir, 'remote'));
          fs.writeFileSync(
            path.join(dir, 'remote', 'kustomization.yaml'),
            'resources:\n  - https://github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v3.3.1\n',
          );
          fs.mkdirSync(path.join(dir, 'sneaky'));
          fs.writeFileSync(
            path.join(dir, 'sneaky', 'kustomization.yaml'),
            'resources:\n  - ../clones\n',
          );
        },
      });

      await create(kustomizeApp('paths-ok', 'paths', 'ok'));
      await create(kustomizeApp('paths-symlink', 'paths', 'clones'));
      await create(kustomizeApp('paths-dotdot', 'paths', '../'));
      await create(kustomizeApp('paths-remote', 'paths', 'remote'));
      await create(kustomizeApp('paths-sneaky', 'paths', 'sneaky'));

      await running('default', 'paths-ok');
      await refusal(
        'default',
        'paths-symlink',
        'path clones is a symlink (or passes through one) leading outside the repository',
      );
      await refusal(
        'default',
        'paths-dotdot',
        'path ../ points outside the repository',
      );
      await refusal(
        'default',
        'paths-remote',
        'remote/kustomization.yaml resources entry "https://github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v3.3.1" is not a file or directory in the repository, and remote bases are off (project "default" does not allow remoteBases)',
      );
      await refusal(
        'default',
        'paths-sneaky',
        'sneaky/kustomization.yaml resources entry "../clones": path clones is a symlink (or passes through one) leading outside the repository',
      );
      expect(
        await cluster.kubectl(['get', 'configmap', 'paths-ok', '-o', 'name']),
      ).toContain('configmap/paths-ok');
    }, 120_000);
  });

  describe('with projects', () => {
    beforeAll(async () => {
      // team-a deploys as its ServiceAccount, which may only touch ConfigMaps in team-a.
      await cluster.kubectl([
        'create',
        'serviceaccount',
        'deployer',
        '-n',
        'team-a',
      ]);
      await cluster.kubectl([
        'create',
        'role',
        'configmaps',
        '-n',
        'team-a',
        '--verb=get,list,watch,create,update,patch,delete',
        '--resource=configmaps',
      ]);
      await cluster.kubectl([
        'create',
        'rolebinding',
        'deployer-configmaps',
        '-n',
        'team-a',
        '--role=configmaps',
        '--serviceaccount=team-a:deployer',
      ]);
      await git.createRepo('allowed-repo', { branch: 'main' });
      await git.createRepo('other-repo', { branch: 'main' });
      for (const repo of ['allowed-repo', 'other-repo'])
        await git.pushAsHuman(repo, {
          branch: 'main',
          files: {
            'cm.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${repo}}\ndata: {a: "1"}\n`,
          },
        });
      await start({
        projects: [
          {
            name: 'team-a',
            applications: { namespaces: ['team-a'] },
            destinations: [{ cluster: 'local', namespace: 'team-a' }],
            // The project allows it; the ServiceAccount's RBAC does not.
            clusterScopedKinds: [
              { group: 'rbac.authorization.k8s.io', kind: 'ClusterRole' },
            ],
            serviceAccountName: 'deployer',
          },
          {
            name: 'team-b',
            applications: { namespaces: ['team-b'] },
            sourceRepos: [`${git.url}/allowed-*`],
            destinations: [
              { cluster: 'local', namespace: 'team-b' },
              { cluster: 'local', namespace: 'shared-*' },
            ],
            clusterScopedKinds: [{ kind: 'Namespace' }],
            deniedNamespacedKinds: [
              { group: 'rbac.authorization.k8s.io', kind: 'RoleBinding' },
            ],
          },
        ],
      });
    }, 120_000);

    it('impersonates the ServiceAccount: the API server refuses the cluster-scoped object and the status names verb, kind and scope', async () => {
      await create(
        objectsApp('rbac', 'team-a', [
          configMap('rbac-config'),
          {
            apiVersion: 'rbac.authorization.k8s.io/v1',
            kind: 'ClusterRole',
            metadata: { name: 'team-a-wants-more' },
            rules: [],
          },
        ]),
      );
      const condition = await refusal('team-a', 'rbac', 'is forbidden');
      expect(condition.reason).toBe('Forbidden');
      expect(condition.message).toContain(
        'as system:serviceaccount:team-a:deployer',
      );
      expect(condition.message).toMatch(
        /User "system:serviceaccount:team-a:deployer" cannot (get|patch) resource "clusterroles" in API group "rbac.authorization.k8s.io" at the cluster scope/,
      );
      expect(await exists(['clusterrole', 'team-a-wants-more'])).toBe(false);

      // What its Role allows it gets, through the same impersonation.
      await create(
        objectsApp('rbac', 'team-a', [configMap('rbac-config')], {
          'app.oam.dev/service-account-name': 'deployer',
        }),
      );
      await running('team-a', 'rbac');
      expect(await exists(['configmap', 'rbac-config', '-n', 'team-a'])).toBe(
        true,
      );
    }, 120_000);

    it('a destination rule refuses and allows', async () => {
      await create(
        objectsApp('dest-no', 'team-b', [configMap('dest-no', 'elsewhere')]),
      );
      await create(
        objectsApp('dest-yes', 'team-b', [configMap('dest-yes', 'shared-x')]),
      );
      await refusal(
        'team-b',
        'dest-no',
        'Project "team-b" refuses ConfigMap elsewhere/dest-no on cluster local: destination local/elsewhere is not among its destinations (local/team-b, local/shared-*).',
      );
      await running('team-b', 'dest-yes');
      expect(await exists(['configmap', 'dest-yes', '-n', 'shared-x'])).toBe(
        true,
      );
    }, 120_000);

    it('kind rules refuse and allow', async () => {
      await create(
        objectsApp('kind-denied', 'team-b', [
          {
            apiVersion: 'rbac.authorization.k8s.io/v1',
            kind: 'RoleBinding',
            metadata: { name: 'kind-denied' },
            roleRef: {
              apiGroup: 'rbac.authorization.k8s.io',
              kind: 'ClusterRole',
              name: 'admin',
            },
            subjects: [
              { kind: 'ServiceAccount', name: 'default', namespace: 'team-b' },
            ],
          },
        ]),
      );
      await create(
        objectsApp('kind-cluster', 'team-b', [
          {
            apiVersion: 'rbac.authorization.k8s.io/v1',
            kind: 'ClusterRole',
            metadata: { name: 'team-b-role' },
            rules: [],
          },
        ]),
      );
      await create(
        objectsApp('kind-allowed', 'team-b', [
          {
            apiVersion: 'v1',
            kind: 'Namespace',
            metadata: { name: 'shared-new' },
          },
        ]),
      );
      await refusal(
        'team-b',
        'kind-denied',
        'Project "team-b" refuses RoleBinding team-b/kind-denied on cluster local: kind rbac.authorization.k8s.io/RoleBinding is among its deniedNamespacedKinds.',
      );
      await refusal(
        'team-b',
        'kind-cluster',
        'Project "team-b" refuses ClusterRole team-b-role (cluster-scoped) on cluster local: cluster-scoped kind rbac.authorization.k8s.io/ClusterRole is not among its clusterScopedKinds (Namespace).',
      );
      await running('team-b', 'kind-allowed');
      expect(await exists(['namespace', 'shared-new'])).toBe(true);
    }, 120_000);

    it('a repository rule refuses and allows', async () => {
      const app = (name: string, repo: string) => ({
        apiVersion: 'core.oam.dev/v1beta1',
        kind: 'Application',
        metadata: { name, namespace: 'team-b' },
        spec: {
          components: [
            {
              name: 'deploy',
              type: 'kustomize',
              properties: {
                repoType: 'git',
                url: git.repoUrl(repo),
                secretRef: 'git-creds',
                git: { branch: 'main' },
                path: '.',
              },
            },
          ],
        },
      });
      await create(app('repo-no', 'other-repo'));
      await create(app('repo-yes', 'allowed-repo'));
      await refusal(
        'team-b',
        'repo-no',
        `component deploy: project "team-b" does not allow the repository ${git.repoUrl(
          'other-repo',
        )} (sourceRepos: ${git.url}/allowed-*)`,
      );
      await running('team-b', 'repo-yes');
      expect(await exists(['configmap', 'allowed-repo', '-n', 'team-b'])).toBe(
        true,
      );
      expect(await exists(['configmap', 'other-repo', '-n', 'team-b'])).toBe(
        false,
      );
    }, 120_000);
  });
});
