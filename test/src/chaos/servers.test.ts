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
import { HUMAN_AUTHOR } from '../infra/git-server';
import {
  installCrd,
  kustomizeApp,
  startGitopsBackend,
  waitUntil,
} from '../backend/support';
import { Proxy, startProxy } from '../registry/proxy';
import { startTcpProxy, TcpProxy } from './tcpProxy';

/*
 * Chaos on the servers one backend depends on, each behind a proxy the test
 * controls: the registry (answering 500, 429, 401), the Git server (down,
 * then back; pushes refused by a pre-receive hook) and the API server
 * (restarted in the middle of an apply). Each time: nothing is lost, the
 * Application's status or its runs say what is wrong while it is wrong, and
 * it recovers by itself, no sync asked for.
 */

const MARKER = '# {"$imagepolicy": "default:deploy"}';
/** Makes the Deployment's apply the only large write (see tcpProxy's trap). */
const PADDING = 'x'.repeat(6000);
const TRAP_BYTES = 4000;

function deploymentYaml(image: string, note: string): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  replicas: 1
  selector:
    matchLabels: { app: web }
  template:
    metadata:
      labels: { app: web }
      annotations:
        chaos.example/padding: ${PADDING}
        chaos.example/note: ${note}
    spec:
      containers:
        - name: web
          image: ${image} ${MARKER}
`;
}

describe('chaos: the servers a backend depends on', () => {
  let cluster: Cluster;
  let registry: Registry;
  let git: GitServer;
  let registryProxy: Proxy;
  let gitProxy: TcpProxy;
  let apiProxy: TcpProxy;
  let backend: Awaited<ReturnType<typeof startTestBackend>> | undefined;
  let cacheDir: string;
  let image: string;
  let build = 1;

  beforeAll(async () => {
    [cluster, registry, git] = await Promise.all([
      startCluster(),
      startRegistry(),
      startGitServer(),
    ]);
    await installCrd(cluster);
    cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitops-chaos-'));
    registryProxy = await startProxy(registry);
    const gitUrl = new URL(git.url);
    gitProxy = await startTcpProxy({
      host: gitUrl.hostname,
      port: Number(gitUrl.port),
    });
    const apiUrl = new URL(cluster.server);
    apiProxy = await startTcpProxy({
      host: apiUrl.hostname,
      port: Number(apiUrl.port),
    });
    const kubeconfig = path.join(cacheDir, 'through-proxy.kubeconfig');
    fs.writeFileSync(
      kubeconfig,
      cluster.kubeconfig.replace(
        `server: ${cluster.server}`,
        `server: https://${apiProxy.host}`,
      ),
      { mode: 0o600 },
    );

    image = `${registryProxy.host}/chaos/web`;
    await pushImage(registry, 'chaos/web', 'build-1');
    const fixture = fs.mkdtempSync(path.join(os.tmpdir(), 'chaos-repo-'));
    fs.writeFileSync(
      path.join(fixture, 'deployment.yaml'),
      deploymentYaml(`${image}:build-1`, 'first'),
    );
    await git.createRepo('chaos', { fixtureDir: fixture, branch: 'main' });
    fs.rmSync(fixture, { recursive: true });
    await cluster.kubectl([
      'create',
      'secret',
      'generic',
      'git-creds',
      `--from-literal=username=${git.username}`,
      `--from-literal=password=${git.password}`,
    ]);
    const auth = {
      username: registry.username,
      password: registry.password,
      auth: Buffer.from(`${registry.username}:${registry.password}`).toString(
        'base64',
      ),
    };
    await cluster.kubectl([
      'create',
      'secret',
      'generic',
      'registry-creds',
      '--type=kubernetes.io/dockerconfigjson',
      `--from-literal=.dockerconfigjson=${JSON.stringify({
        auths: { [registryProxy.host]: auth },
      })}`,
    ]);
    const app = kustomizeApp(
      'chaos',
      `http://${gitProxy.host}/chaos.git`,
      image,
    );
    const component = app.spec.components[0].properties;
    // Polled every 10 s: recovering by itself takes seconds, not minutes.
    component.pullInterval = '10s';
    component.imageRepository.interval = '10s';
    await cluster.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify(app),
    });
    backend = await startGitopsBackend({
      clusters: [{ name: 'local', kubeconfig }],
      cacheDir,
      tickSeconds: 1,
      shards: 1,
      timeouts: { gitSeconds: 15, registrySeconds: 10, kubernetesSeconds: 15 },
    });
  }, 240_000);

  afterAll(async () => {
    await backend?.stop();
    await Promise.all([
      registryProxy?.close(),
      gitProxy?.close(),
      apiProxy?.close(),
    ]);
    await Promise.all([cluster?.stop(), registry?.stop(), git?.stop()]);
    fs.rmSync(cacheDir, { recursive: true, force: true });
  }, 60_000);

  const api = async (url = '') =>
    (
      await request(backend!.server)
        .get(`/api/gitops/applications/default/chaos${url}`)
        .set('Authorization', mockCredentials.user.header())
    ).body;
  const deployment = async () => {
    const d = JSON.parse(
      await cluster.kubectl(['get', 'deployment', 'web', '-o', 'json']),
    );
    return {
      image: d.spec.template.spec.containers[0].image as string,
      note: d.spec.template.metadata.annotations['chaos.example/note'],
    };
  };
  const whatHappened = async () =>
    `${JSON.stringify(await api().catch(String))}\n${JSON.stringify(
      await api('/runs').catch(String),
    )}`;
  const condition = (app: any, type: string) =>
    app.conditions?.find((c: any) => c.type === type);
  /** Running with `tag` deployed, no warning, and its last pass recorded a success. */
  const convergedAt = async (tag: string, note?: string) => {
    const app = await api();
    const now = await deployment().catch(() => undefined);
    const lastRun = (await api('/runs')).items?.[0];
    return app.phase === 'running' &&
      lastRun?.result === 'succeeded' &&
      condition(app, 'Applied')?.status === 'True' &&
      !condition(app, 'Warning') &&
      now?.image === `${image}:${tag}` &&
      (note === undefined || now.note === note)
      ? app
      : undefined;
  };
  const imageHistory = async () => (await api('/image-history')).items ?? [];
  const botCommits = async () =>
    (await git.log('chaos')).filter(c => c.authorName !== HUMAN_AUTHOR.name);

  it('starts from a deployed Application', async () => {
    const app = await waitUntil(
      'chaos to run build-1',
      () => convergedAt('build-1'),
      whatHappened,
      120_000,
    );
    expect(condition(app, 'Render').status).toBe('True');
  }, 150_000);

  it.each([500, 429, 401])(
    'keeps the last good tag while the registry answers %i, says so, and recovers',
    async status => {
      const good = `build-${build}`;
      const historyBefore = (await imageHistory()).length;
      const commitsBefore = (await botCommits()).length;
      registryProxy.failWith(status);
      build++;
      const next = `build-${build}`;
      await pushImage(registry, 'chaos/web', next);
      try {
        const warned = await waitUntil(
          `the registry's ${status} in the status`,
          async () => {
            const app = await api();
            return condition(app, 'Warning') ? app : undefined;
          },
          whatHappened,
          90_000,
        );
        expect(condition(warned, 'Warning').message).toContain(
          `HTTP ${status}`,
        );
        // The last good tag stays in force: nothing deployed, committed or recorded.
        expect(warned.phase).toBe('running');
        expect((await deployment()).image).toBe(`${image}:${good}`);
        expect((await imageHistory()).length).toBe(historyBefore);
        expect((await botCommits()).length).toBe(commitsBefore);
      } finally {
        registryProxy.failWith(false);
      }
      await waitUntil(
        `${next} once the registry answers again`,
        () => convergedAt(next),
        whatHappened,
        90_000,
      );
      const history = await imageHistory();
      expect(history.length).toBe(historyBefore + 1);
      expect(history[0]).toMatchObject({ oldTag: good, newTag: next });
      expect((await botCommits()).length).toBe(commitsBefore + 1);
    },
    240_000,
  );

  it('says why the bot cannot push, keeps its one commit, and pushes it once allowed', async () => {
    const hook = path.join(git.root, 'chaos.git', 'hooks', 'pre-receive');
    fs.mkdirSync(path.dirname(hook), { recursive: true });
    fs.writeFileSync(
      hook,
      '#!/bin/sh\necho "chaos: main is frozen" >&2\nexit 1\n',
      { mode: 0o755 },
    );
    const good = `build-${build}`;
    const commitsBefore = (await botCommits()).length;
    const historyBefore = (await imageHistory()).length;
    build++;
    const next = `build-${build}`;
    try {
      await pushImage(registry, 'chaos/web', next);
      const refused = await waitUntil(
        'the refused push in the status',
        async () => {
          const app = await api();
          const render = condition(app, 'Render');
          return render?.status === 'False' ? render : undefined;
        },
        whatHappened,
        90_000,
      );
      expect(refused.message).toMatch(/frozen|declined/);
      expect((await deployment()).image).toBe(`${image}:${good}`);
      expect((await botCommits()).length).toBe(commitsBefore);
      // Refused again at the next retries, its status still says why.
      await new Promise(r => setTimeout(r, 12_000));
      expect(condition(await api(), 'Render')).toMatchObject({
        status: 'False',
        message: expect.stringMatching(/frozen|declined/),
      });
    } finally {
      fs.rmSync(hook, { force: true });
    }
    await waitUntil(
      `${next} pushed and deployed once pushes are allowed`,
      () => convergedAt(next),
      whatHappened,
      90_000,
    );
    // One commit of the bot for the update, not one per refused attempt; none lost.
    const commits = await botCommits();
    expect(commits.length).toBe(commitsBefore + 1);
    expect(await git.readFile('chaos', 'deployment.yaml')).toContain(
      `${image}:${next}`,
    );
    const history = await imageHistory();
    expect(history.filter((h: any) => h.newTag === next)).toHaveLength(1);
    expect(history.length).toBe(historyBefore + 1);
  }, 240_000);

  it('says what the Git error is while the Git server is down, and recovers by itself', async () => {
    const tag = `build-${build}`;
    await gitProxy.down();
    let note: string;
    try {
      const failed = await waitUntil(
        'the Git error in the status',
        async () => {
          const app = await api();
          const render = condition(app, 'Render');
          return render?.status === 'False' ? app : undefined;
        },
        whatHappened,
        90_000,
      );
      expect(failed.phase).toBe('rendering');
      expect(condition(failed, 'Render').message).toContain(gitProxy.host);
      // What was deployed stays.
      expect((await deployment()).image).toBe(`${image}:${tag}`);
      // A person's commit meanwhile is not lost: it lands once Git is back.
      note = 'while-git-was-down';
      await git.pushAsHuman('chaos', {
        change: dir => {
          const file = path.join(dir, 'deployment.yaml');
          fs.writeFileSync(
            file,
            fs
              .readFileSync(file, 'utf8')
              .replace(
                /chaos.example\/note: .*/,
                `chaos.example/note: ${note}`,
              ),
          );
        },
        message: 'A note while Git is unreachable for the backend',
        branch: 'main',
      });
    } finally {
      await gitProxy.up();
    }
    await waitUntil(
      'the Application to recover once Git is back',
      () => convergedAt(tag, note),
      whatHappened,
      90_000,
    );
    expect(condition(await api(), 'Render').status).toBe('True');
  }, 240_000);

  it('converges after the API server restarts in the middle of an apply, its runs saying what failed', async () => {
    const tag = `build-${build}`;
    let held = false;
    apiProxy.trap(TRAP_BYTES).then(() => {
      held = true;
    });
    const note = 'across-a-restart';
    await git.pushAsHuman('chaos', {
      change: dir => {
        const file = path.join(dir, 'deployment.yaml');
        fs.writeFileSync(
          file,
          fs
            .readFileSync(file, 'utf8')
            .replace(/chaos.example\/note: .*/, `chaos.example/note: ${note}`),
        );
      },
      message: 'A note applied across an API server restart',
      branch: 'main',
    });
    await waitUntil(
      'the backend to apply the Deployment (held by the proxy)',
      async () => (held ? true : undefined),
      whatHappened,
      90_000,
    );
    const runsBefore = (await api('/runs')).totalCount as number;
    await cluster.stopApiServer();
    // The apply in flight reaches a dead server: its connection is reset.
    apiProxy.lift();
    try {
      const failed = await waitUntil(
        'the failed pass in the runs',
        async () => {
          const runs = await api('/runs');
          const last = runs.items?.[0];
          return runs.totalCount > runsBefore && last?.result === 'failed'
            ? last
            : undefined;
        },
        whatHappened,
        90_000,
      );
      expect(failed.error).toMatch(/Kubernetes API server/);
    } finally {
      await cluster.startApiServer();
    }
    await waitUntil(
      'the Application to converge after the restart',
      () => convergedAt(tag, note),
      whatHappened,
      120_000,
    );
    expect((await api('/runs')).items[0].result).toBe('succeeded');
  }, 300_000);
});
