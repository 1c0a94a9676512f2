import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  mockCredentials,
  startTestBackend,
} from '@backstage/backend-test-utils';
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
  startGitopsBackend,
  waitUntil,
} from '../backend/support';
import {
  BRANCH,
  firstVelaWorkflowFile,
  gitAppApplication,
  IMAGE_REPO,
  REPO,
} from '../demo/stack';

/*
 * Nested Applications of the seed: git-app applies first-vela-workflow from
 * Git. Removing app.yaml from Git deletes first-vela-workflow, and its own
 * objects are collected in turn; deleting git-app collects the child and the
 * child's objects.
 */

describe('the seed nested Applications, deleted', () => {
  let cluster: Cluster;
  let registry: Registry;
  let git: GitServer;
  let backend: Awaited<ReturnType<typeof startTestBackend>> | undefined;
  let cacheDir: string;

  beforeAll(async () => {
    [cluster, registry, git] = await Promise.all([
      startCluster(),
      startRegistry(),
      startGitServer(),
    ]);
    cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitops-nested-'));
  }, 180_000);

  afterAll(async () => {
    await backend?.stop();
    await Promise.all([cluster?.stop(), registry?.stop(), git?.stop()]);
    fs.rmSync(cacheDir, { recursive: true, force: true });
  }, 60_000);

  const getApp = async (name: string) => {
    const out = await cluster.kubectl([
      'get',
      'application',
      name,
      '--ignore-not-found',
      '-o',
      'json',
    ]);
    return out.trim() ? JSON.parse(out) : undefined;
  };
  const exists = async (kind: string, name: string) =>
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
  const state = async () =>
    cluster.kubectl(['get', 'applications,deployments', '-o', 'yaml']);
  const running = (name: string) =>
    waitUntil(
      `${name} to run`,
      async () =>
        (await getApp(name))?.status?.status === 'running' ? true : undefined,
      state,
    );
  const collected = (what: string, names: string[]) =>
    waitUntil(
      what,
      async () => {
        for (const name of names) if (await getApp(name)) return undefined;
        for (const kind of ['deployment', 'service', 'ingress'])
          if (await exists(kind, 'test-server')) return undefined;
        return true;
      },
      state,
    );

  it('collects first-vela-workflow when app.yaml leaves Git, and both when git-app is deleted', async () => {
    const image = `${registry.host}/${IMAGE_REPO}`;
    const tag = 'master-1a2b3c4-1700000000';
    await pushImage(registry, IMAGE_REPO, tag);
    const fixture = fs.mkdtempSync(path.join(os.tmpdir(), 'nested-fixture-'));
    fs.writeFileSync(
      path.join(fixture, 'app.yaml'),
      firstVelaWorkflowFile(`${image}:${tag}`),
    );
    await git.createRepo(REPO, { fixtureDir: fixture, branch: BRANCH });
    fs.rmSync(fixture, { recursive: true });
    await installCrd(cluster);
    await createSourceSecrets(cluster, git, registry, {
      git: 'my-secret',
      registry: 'imagesecret',
    });
    await cluster.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify(gitAppApplication(git.repoUrl(REPO), image)),
    });
    backend = await startGitopsBackend({
      clusters: [{ name: 'local', kubeconfig: cluster.kubeconfigPath }],
      cacheDir,
      tickSeconds: 1,
    });
    const sync = () =>
      request(backend!.server)
        .post('/api/gitops/applications/default/git-app/sync')
        .set('Authorization', mockCredentials.user.header())
        .expect(202);
    await running('first-vela-workflow');
    await running('git-app');
    expect((await getApp('first-vela-workflow')).metadata.finalizers).toContain(
      'gitops.backstage.io/finalizer',
    );

    // app.yaml leaves Git: git-app prunes the child, which collects its own objects.
    await git.pushAsHuman(REPO, {
      branch: BRANCH,
      change: dir => fs.rmSync(path.join(dir, 'app.yaml')),
      message: 'Remove first-vela-workflow',
    });
    await sync();
    await collected('first-vela-workflow and its objects to be gone', [
      'first-vela-workflow',
    ]);
    expect(await getApp('git-app')).toBeDefined();

    // Back in Git, then the parent is deleted: the child and its objects go too.
    await git.pushAsHuman(REPO, {
      branch: BRANCH,
      files: { 'app.yaml': firstVelaWorkflowFile(`${image}:${tag}`) },
      message: 'Deploy first-vela-workflow again',
    });
    await sync();
    await running('first-vela-workflow');
    await cluster.kubectl(['delete', 'application', 'git-app', '--wait=false']);
    await collected('git-app, first-vela-workflow and its objects to be gone', [
      'git-app',
      'first-vela-workflow',
    ]);
    // The last Application using the repository is gone: so is its working clone.
    expect(
      fs.readdirSync(cacheDir).filter(d => !d.endsWith('.clone-lock')),
    ).toEqual([]);
  }, 300_000);
});
