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
  firstVelaWorkflowFile,
  gitAppApplication,
  IMAGE_REPO,
  REPO,
} from '../demo/stack';

/*
 * The seed's story through the real backend plugin: git-app (a kustomize
 * component with image automation) applies first-vela-workflow from Git; a
 * new image tag becomes a kubevelabot commit, the nested Application rolls
 * out the new image, and image history records every milestone.
 */

describe('the seed story through the backend plugin', () => {
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
    cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitops-clones-'));
  }, 180_000);

  afterAll(async () => {
    await backend?.stop();
    await Promise.all([cluster?.stop(), registry?.stop(), git?.stop()]);
    fs.rmSync(cacheDir, { recursive: true, force: true });
  }, 60_000);

  it('commits the new tag as kubevelabot, rolls it out, and records the history', async () => {
    const image = `${registry.host}/${IMAGE_REPO}`;
    await pushImage(registry, IMAGE_REPO, 'master-1a2b3c4-1700000000');
    await pushImage(registry, IMAGE_REPO, 'latest');

    const fixture = fs.mkdtempSync(path.join(os.tmpdir(), 'seed-fixture-'));
    fs.writeFileSync(
      path.join(fixture, 'app.yaml'),
      firstVelaWorkflowFile(`${image}:master-1a2b3c4-1700000000`),
    );
    await git.createRepo(REPO, { fixtureDir: fixture, branch: 'master' });
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
    const api = (method: 'get' | 'post', url: string) =>
      request(backend!.server)
        [method](`/api/gitops${url}`)
        .set('Authorization', mockCredentials.user.header());
    // What a person would look at when a wait times out.
    const applications = async () => {
      const runs = await Promise.all(
        ['git-app', 'first-vela-workflow'].map(async name =>
          JSON.stringify(
            (
              await api('get', `/applications/default/${name}/runs`)
            ).body,
          ),
        ),
      );
      return `${runs.join('\n')}\n${await cluster.kubectl([
        'get',
        'applications,deployments',
        '-o',
        'yaml',
      ])}`;
    };

    // First sync: nothing to update, first-vela-workflow is applied from Git and rolls out.
    const deployment = async () =>
      JSON.parse(
        await cluster.kubectl([
          'get',
          'deployment',
          'test-server',
          '-o',
          'json',
        ]),
      );
    // git-app is healthy once the Application it applied runs; its next poll is then a minute away.
    for (const name of ['first-vela-workflow', 'git-app']) {
      await waitUntil(
        `${name} to run`,
        async () => {
          const res = await api('get', `/applications/default/${name}`);
          return res.body.phase === 'running' ? res.body : undefined;
        },
        applications,
      );
    }
    expect((await deployment()).spec.template.spec.containers[0].image).toBe(
      `${image}:master-1a2b3c4-1700000000`,
    );
    expect(
      JSON.parse(
        await cluster.kubectl(['get', 'ingress', 'test-server', '-o', 'json']),
      ).spec.rules[0].host,
    ).toBe('testsvc.example.com');
    expect((await git.log(REPO, 'master')).length).toBe(1);

    // The seed's CI pushes an image for the new commit; a sync picks it up.
    await pushImage(registry, IMAGE_REPO, 'master-5d6e7f8-1700000100');
    const sync = await api('post', '/applications/default/git-app/sync');
    expect(sync.status).toBe(202);

    const newImage = `${image}:master-5d6e7f8-1700000100`;
    await waitUntil(
      'the new image to be available',
      async () => {
        const d = await deployment();
        const rolledOut =
          d.spec.template.spec.containers[0].image === newImage &&
          d.status?.updatedReplicas === 1 &&
          d.status?.availableReplicas === 1 &&
          d.status?.observedGeneration === d.metadata.generation;
        return rolledOut ? d : undefined;
      },
      applications,
    );

    const log = await git.log(REPO, 'master');
    expect(log).toHaveLength(2);
    expect(log[0]).toMatchObject({
      authorName: 'kubevelabot',
      authorEmail: 'kubevelabot@users.noreply.github.com',
      message: `Update image automatically.\nImage: ${newImage}`,
    });
    expect(await git.readFile(REPO, 'app.yaml', 'master')).toBe(
      firstVelaWorkflowFile(newImage),
    );

    const history = await waitUntil(
      'image history to record healthy',
      async () => {
        const res = await api(
          'get',
          '/applications/default/git-app/image-history',
        );
        return res.body.items?.[0]?.healthyAt ? res.body : undefined;
      },
      applications,
    );
    expect(history.totalCount).toBe(1);
    expect(history.items[0]).toMatchObject({
      component: 'gitops',
      image,
      oldTag: 'master-1a2b3c4-1700000000',
      newTag: 'master-5d6e7f8-1700000100',
      policy: 'numerical asc',
      commitSha: log[0].sha,
      trigger: 'manual',
    });
    for (const milestone of [
      'detectedAt',
      'pushedAt',
      'appliedAt',
      'healthyAt',
    ]) {
      expect(Date.parse(history.items[0][milestone])).not.toBeNaN();
    }

    // Further polls make no further commits and no writes.
    const before = JSON.parse(
      await cluster.kubectl([
        'get',
        'deployment,service,ingress,applications',
        '-o',
        'json',
      ]),
    ).items.map((o: any) => o.metadata.resourceVersion);
    await api('post', '/applications/default/git-app/sync');
    await new Promise(r => setTimeout(r, 4000));
    expect(await git.log(REPO, 'master')).toHaveLength(2);
    const after = JSON.parse(
      await cluster.kubectl([
        'get',
        'deployment,service,ingress,applications',
        '-o',
        'json',
      ]),
    ).items.map((o: any) => o.metadata.resourceVersion);
    expect(after).toEqual(before);
  }, 300_000);
});
