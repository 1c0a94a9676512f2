import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mockCredentials } from '@backstage/backend-test-utils';
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
} from './support';

/*
 * Digests through the backend on a real cluster, registry and Git server:
 * with `digestReflectionPolicy: Always` the bot commits `image:tag@digest`,
 * and again when the tag is re-pushed with other content; an image rollback
 * writes back the digest that ran, not the one the tag names today.
 */

describe('image digests in Git', () => {
  let cluster: Cluster;
  let registry: Registry;
  let git: GitServer;
  let backend: Awaited<ReturnType<typeof startGitopsBackend>> | undefined;
  let cacheDir: string;

  beforeAll(async () => {
    [cluster, registry, git] = await Promise.all([
      startCluster({ name: 'local' }),
      startRegistry(),
      startGitServer(),
    ]);
    await installCrd(cluster);
    cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitops-digests-'));
  }, 180_000);

  afterAll(async () => {
    await backend?.stop();
    await Promise.all([cluster?.stop(), registry?.stop(), git?.stop()]);
    if (cacheDir) fs.rmSync(cacheDir, { recursive: true, force: true });
  }, 60_000);

  const api = (method: 'get' | 'post', url: string, body?: object) =>
    request(backend!.server)
      [method](`/api/gitops/applications/default/digests${url}`)
      .set('Authorization', mockCredentials.user.header())
      .send(body);
  const running = async () =>
    JSON.parse(
      await cluster.kubectl(['get', 'deployment', 'web', '-o', 'json']),
    ).spec.template.spec.containers[0].image;
  const whatHappened = async () =>
    `${await running().catch(e => String(e))}\n${JSON.stringify(
      (await api('get', '/image-history')).body,
    )}\n${await cluster.kubectl([
      'get',
      'application',
      'digests',
      '-o',
      'yaml',
    ])}`;
  const untilRunning = (reference: string) =>
    waitUntil(
      `the Deployment to run ${reference}`,
      async () => ((await running()) === reference ? true : undefined),
      whatHappened,
      120_000,
    );
  const push = (tag: string, content: string) =>
    pushImage(registry, 'digests/web', tag, { fileContent: `${content}\n` });

  it('commits image:tag@digest, follows a re-pushed tag with Always, and rolls back to the digest that ran', async () => {
    const image = `${registry.host}/digests/web`;
    const first = await push('build-1', 'first build');
    const fixture = fs.mkdtempSync(path.join(os.tmpdir(), 'digests-repo-'));
    fs.writeFileSync(
      path.join(fixture, 'deployment.yaml'),
      markedDeployment(`${image}:build-1`),
    );
    await git.createRepo('digests', { fixtureDir: fixture, branch: 'main' });
    fs.rmSync(fixture, { recursive: true });
    await createSourceSecrets(cluster, git, registry, {
      git: 'git-creds',
      registry: 'registry-creds',
    });
    backend = await startGitopsBackend({
      clusters: [{ name: 'local', kubeconfig: cluster.kubeconfigPath }],
      cacheDir,
      tickSeconds: 1,
      shards: 1,
    });
    const app = kustomizeApp('digests', git.repoUrl('digests'), image);
    const component = app.spec.components[0];
    (
      component.properties.imageRepository as Record<string, unknown>
    ).digestReflectionPolicy = 'Always';
    await cluster.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify(app),
    });

    await untilRunning(`${image}:build-1@${first.digest}`);
    expect(await git.readFile('digests', 'deployment.yaml')).toContain(
      `image: ${image}:build-1@${first.digest} # {"$imagepolicy": "default:deploy"}`,
    );
    const config = (await api('get', '/sync-config')).body;
    expect(config.components[0].image.digestReflectionPolicy).toBe('Always');

    // The same tag, rebuilt: a new commit with its new digest.
    const rebuilt = await push('build-1', 'second build of the same tag');
    await api('post', '/sync').expect(202);
    await untilRunning(`${image}:build-1@${rebuilt.digest}`);
    const history = (await api('get', '/image-history')).body.items;
    expect(
      history.map((row: any) => [row.oldTag, row.newTag, row.digest]),
    ).toEqual([
      ['build-1', 'build-1', rebuilt.digest],
      ['build-1', 'build-1', first.digest],
    ]);
    const [top] = await git.log('digests');
    expect(top.authorName).toBe('kubevelabot');

    const second = await push('build-2', 'build two');
    await api('post', '/sync').expect(202);
    await untilRunning(`${image}:build-2@${second.digest}`);

    // build-1 is rebuilt once more; rolling back restores what ran, not what the tag names now.
    const rebuiltAgain = await push('build-1', 'third build of the same tag');
    expect(rebuiltAgain.digest).not.toBe(rebuilt.digest);
    const rollback = await api('post', '/images/deploy/rollback', {
      to: 'build-1',
      reason: 'build-2 is broken',
    });
    expect(rollback.status).toBe(200);
    expect(rollback.body.hold).toMatchObject({
      tag: 'build-1',
      digest: rebuilt.digest,
    });
    await untilRunning(`${image}:build-1@${rebuilt.digest}`);
    expect(await git.readFile('digests', 'deployment.yaml')).toContain(
      `${image}:build-1@${rebuilt.digest}`,
    );
  });
});
