import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  mockCredentials,
  startTestBackend,
} from '@backstage/backend-test-utils';
import request from 'supertest';
import { Cluster, GitServer, startCluster, startGitServer } from '../infra';
import { installCrd, startGitopsBackend, waitUntil } from './support';

/*
 * A broken Application backs off like Flux: retries at 5 s, 10 s, 20 s … up
 * to its interval, its identical failures are one run row that counts, its
 * status says what is wrong all along, and it recovers by itself once fixed.
 */

describe('a broken Application', () => {
  let cluster: Cluster;
  let git: GitServer;
  let backend: Awaited<ReturnType<typeof startTestBackend>> | undefined;
  let cacheDir: string;

  beforeAll(async () => {
    [cluster, git] = await Promise.all([
      startCluster(),
      startGitServer({ anonymousRead: true }),
    ]);
    await installCrd(cluster);
    cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitops-backoff-'));
  }, 180_000);

  afterAll(async () => {
    await backend?.stop();
    await Promise.all([cluster?.stop(), git?.stop()]);
    fs.rmSync(cacheDir, { recursive: true, force: true });
  }, 60_000);

  it('backs off to its interval, keeps one run row, says why, and recovers once fixed', async () => {
    const fixture = fs.mkdtempSync(path.join(os.tmpdir(), 'backoff-repo-'));
    fs.writeFileSync(path.join(fixture, 'config.yaml'), 'data: [unclosed\n');
    await git.createRepo('broken', { fixtureDir: fixture, branch: 'main' });
    fs.rmSync(fixture, { recursive: true });

    await cluster.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'core.oam.dev/v1beta1',
        kind: 'Application',
        metadata: { name: 'shaky', namespace: 'default' },
        spec: {
          components: [
            {
              name: 'config',
              type: 'kustomize',
              properties: {
                repoType: 'git',
                url: git.repoUrl('broken'),
                pullInterval: '20s',
                git: { branch: 'main' },
                path: '.',
              },
            },
          ],
        },
      }),
    });
    backend = await startGitopsBackend({
      clusters: [{ name: 'local', kubeconfig: cluster.kubeconfigPath }],
      cacheDir,
      tickSeconds: 1,
      shards: 1,
    });
    const api = (url: string) =>
      request(backend!.server)
        .get(`/api/gitops/applications/default/shaky${url}`)
        .set('Authorization', mockCredentials.user.header());
    const refsBefore = git.requests['git-upload-pack'] ?? 0;

    // 50 s broken: without backoff (every 5 s while not healthy) about ten passes; with it 5, 10, 20, 20 s.
    const window = 50_000;
    const started = Date.now();
    const status = await waitUntil('the failure in status', async () => {
      const app = (await api('')).body;
      return app.phase === 'rendering' ? app : undefined;
    });
    expect(
      status.conditions.find((c: any) => c.type === 'Render'),
    ).toMatchObject({
      status: 'False',
      reason: 'RenderFailed',
      message: expect.stringContaining('config.yaml'),
    });
    await new Promise(r =>
      setTimeout(r, Math.max(0, window - (Date.now() - started))),
    );
    const runs = (await api('/runs')).body;
    expect(runs.totalCount).toBe(1);
    expect(runs.items[0]).toMatchObject({
      result: 'failed',
      error: expect.stringContaining('config.yaml'),
    });
    const passes = runs.items[0].repeats;
    expect(passes).toBeGreaterThanOrEqual(3);
    expect(passes).toBeLessThanOrEqual(6);
    // One ref listing per pass, plus the first clone's fetch.
    const gitRequests = (git.requests['git-upload-pack'] ?? 0) - refsBefore;
    expect(gitRequests).toBeLessThanOrEqual(passes + 2);

    // Fixed in Git: the next retry (at most the 20 s interval away) deploys it.
    await git.pushAsHuman('broken', {
      files: { 'config.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shaky-config}\ndata: {fixed: "yes"}\n' },
      message: 'Fix the config',
      branch: 'main',
    });
    await waitUntil(
      'shaky to recover',
      async () => ((await api('')).body.phase === 'running' ? true : undefined),
      async () => JSON.stringify((await api('/runs')).body),
    );
    const configMap = JSON.parse(
      await cluster.kubectl(['get', 'configmap', 'shaky-config', '-o', 'json']),
    );
    expect(configMap.data).toEqual({ fixed: 'yes' });
    expect((await api('/runs')).body.items[0].result).toBe('succeeded');
  }, 180_000);
});
