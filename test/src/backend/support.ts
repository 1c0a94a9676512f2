import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  mockCredentials,
  mockServices,
  startTestBackend,
  type TestBackend,
} from '@backstage/backend-test-utils';
import { schedulerServiceFactory } from '@backstage/backend-defaults/scheduler';
import {
  coreServices,
  type BackendFeature,
} from '@backstage/backend-plugin-api';
import type { JsonObject } from '@backstage/types';
import gitopsPlugin from '@gitops-workflow/plugin-gitops-backend';
import fs from 'node:fs';
import {
  freePort,
  startCluster,
  startGitServer,
  startRegistry,
  type Cluster,
  type GitServer,
  type Registry,
} from '../infra';
import type { PostgresConnection } from '../infra/postgres';
import {
  repoRoot,
  waitFor,
  type ManagedProcess,
  type ServiceHandle,
} from '../infra/process';
import { TestLogs } from './testLogger';

const execFileAsync = promisify(execFile);

/** Polls `fn` until it returns a value; on timeout the error carries `context()`, what a person would look at. */
export async function waitUntil<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  context: () => Promise<string> = async () => '',
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `Timed out waiting for ${what}${
          last ? `: ${last}` : ''
        }\n${await context()}${backendLogTails()}`,
      );
    }
    await new Promise(r => setTimeout(r, 250));
  }
}

/** The Secrets {@link kustomizeApp} names unless told others. */
export const SOURCE_SECRETS = { git: 'git-creds', registry: 'registry-creds' };

/**
 * The Secrets a kustomize component names: Git `username`/`password` (its
 * `secretRef`) and a dockerconfigjson for the registry (its image's).
 */
export async function createSourceSecrets(
  cluster: Cluster,
  git: GitServer,
  registry: Registry,
  names: { git: string; registry: string },
): Promise<void> {
  await cluster.kubectl([
    'create',
    'secret',
    'generic',
    names.git,
    `--from-literal=username=${git.username}`,
    `--from-literal=password=${git.password}`,
  ]);
  await cluster.kubectl([
    'create',
    'secret',
    'generic',
    names.registry,
    '--type=kubernetes.io/dockerconfigjson',
    `--from-literal=.dockerconfigjson=${registry.dockerConfigJson()}`,
  ]);
}

/**
 * The gitops backend plugin on Backstage's test backend, with the real
 * scheduler (the test backend's default one runs each task only once) and
 * the given `gitops` config.
 */
/** The logs of the backends running in this test file. */
const runningLogs = new Set<TestLogs>();

/** The last lines each running backend logged: what it was doing when a wait timed out. */
function backendLogTails(): string {
  return [...runningLogs]
    .map(logs => `\n--- the backend's last log lines ---\n${logs.tail()}`)
    .join('');
}

export async function startGitopsBackend(
  gitops: JsonObject,
  /** Backend modules to add, e.g. one that registers definitions. */
  modules: BackendFeature[] = [],
  /** Config beside `gitops`, e.g. `events` for the events backend's modules. */
  config: JsonObject = {},
): Promise<TestBackend> {
  const logs = new TestLogs(
    path.basename(expect.getState().testPath ?? 'backend', '.test.ts'),
  );
  // A test that brings its own logger (to read what was logged) keeps it.
  const ownLogger = modules.some(
    m => (m as { service?: { id: string } }).service?.id === coreServices.rootLogger.id,
  );
  const backend = await startTestBackend({
    features: [
      gitopsPlugin,
      schedulerServiceFactory,
      mockServices.rootConfig.factory({ data: { ...config, gitops } }),
      ...(ownLogger ? [] : [logs.factory()]),
      ...modules,
    ],
  });
  runningLogs.add(logs);
  const stop = backend.stop.bind(backend);
  return Object.assign(backend, {
    stop: () => stop().finally(() => runningLogs.delete(logs)),
  });
}


/** Installs the shipped Application CRD, as a platform team would. */
export async function installCrd(cluster: Cluster): Promise<void> {
  await cluster.kubectl([
    'apply',
    '-f',
    path.join(repoRoot(), 'plugins/gitops-node/crds/application.yaml'),
  ]);
  await cluster.kubectl([
    'wait',
    '--for=condition=Established',
    'crd/applications.core.oam.dev',
    '--timeout=60s',
  ]);
}

/** What {@link useDeliveryStack}'s backend runs with, beside its defaults. */
export interface DeliveryBackendOptions {
  /**
   * `gitops` config over the defaults (the stack's cluster as `local`, its
   * clone cache, a one-second tick): a key given here replaces the default.
   */
  gitops?: JsonObject;
  /** Beside the plugin: modules, or service factories that replace a default service. */
  features?: BackendFeature[];
  /** Config beside `gitops`. */
  config?: JsonObject;
}

export interface DeliveryStackOptions {
  /** The cluster's name in its kubeconfig (startCluster's default otherwise). */
  clusterName?: string;
  /** Secrets with the Git server's and the registry's credentials, created once both run. */
  sourceSecrets?: { git: string; registry: string };
  /** Starts the backend in beforeAll; otherwise a test calls `startBackend`. */
  backend?: DeliveryBackendOptions & {
    /**
     * The registry posts its notifications to this backend's registry
     * webhook with this bearer token (the backend's `webhooks.registrySecret`),
     * so it starts after the backend.
     */
    registryWebhookSecret?: string;
  };
}

/** The real servers of a delivery, and the backend that delivers on them. */
export interface DeliveryStack {
  readonly cluster: Cluster;
  readonly registry: Registry;
  readonly git: GitServer;
  /** The backend's clone cache. */
  readonly cacheDir: string;
  readonly backend: TestBackend;
  /** Starts the backend, which afterAll stops. */
  startBackend(options?: DeliveryBackendOptions): Promise<TestBackend>;
  /** Stops the running backend (a restart: what it kept is in its database). */
  stopBackend(): Promise<void>;
}

/** Waits for every one to settle, so none is lost; then rejects with the first failure. */
async function settleAll(work: Array<Promise<unknown> | undefined>) {
  const failed = (await Promise.allSettled(work)).find(
    (result): result is PromiseRejectedResult => result.status === 'rejected',
  );
  if (failed) throw failed.reason;
}

/**
 * A cluster with the Application CRD, a registry, a Git server and a clone
 * cache for the describe block that calls this, started in its beforeAll and
 * stopped in its afterAll with whatever backend runs on them: all that did
 * start, even when a step failed.
 */
export function useDeliveryStack(
  options: DeliveryStackOptions = {},
): DeliveryStack {
  let cluster: Cluster | undefined;
  let registry: Registry | undefined;
  let git: GitServer | undefined;
  let cacheDir: string | undefined;
  let backend: TestBackend | undefined;
  const running = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(what);
    return value;
  };
  // What a timed-out beforeAll still starts arrives after afterAll: stop it then.
  let tornDown = false;
  const kept = <T extends { stop(): Promise<void> }>(started: T): T => {
    if (tornDown) started.stop().catch(() => {});
    return started;
  };

  const stack: DeliveryStack = {
    get cluster() {
      return running(cluster, 'The cluster is not running');
    },
    get registry() {
      return running(registry, 'The registry is not running');
    },
    get git() {
      return running(git, 'The Git server is not running');
    },
    get cacheDir() {
      return running(cacheDir, 'The clone cache is not created yet');
    },
    get backend() {
      return running(
        backend,
        'No backend is running: pass `backend` or call startBackend',
      );
    },
    async startBackend({ gitops, features, config } = {}) {
      if (backend) throw new Error('The stack runs one backend at a time');
      backend = kept(
        await startGitopsBackend(
          {
            clusters: [
              { name: 'local', kubeconfig: stack.cluster.kubeconfigPath },
            ],
            cacheDir: stack.cacheDir,
            tickSeconds: 1,
            ...gitops,
          },
          features,
          config,
        ),
      );
      return backend;
    },
    async stopBackend() {
      await backend?.stop();
      backend = undefined;
    },
  };

  beforeAll(async () => {
    cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitops-clones-'));
    const notifyWith = options.backend?.registryWebhookSecret;
    // Each is kept as it starts, for afterAll to stop though another failed.
    await settleAll([
      startCluster({ name: options.clusterName }).then(
        c => (cluster = kept(c)),
      ),
      startGitServer().then(g => (git = kept(g))),
      notifyWith === undefined
        ? startRegistry().then(r => (registry = kept(r)))
        : undefined,
    ]);
    await installCrd(stack.cluster);
    if (options.backend) await stack.startBackend(options.backend);
    if (notifyWith !== undefined) {
      const { port } = stack.backend.server.address() as AddressInfo;
      registry = kept(
        await startRegistry({
          notifications: {
            url: `http://127.0.0.1:${port}/api/gitops/webhooks/registry`,
            headers: { Authorization: `Bearer ${notifyWith}` },
          },
        }),
      );
    }
    if (options.sourceSecrets) {
      await createSourceSecrets(
        stack.cluster,
        stack.git,
        stack.registry,
        options.sourceSecrets,
      );
    }
  }, 180_000);

  afterAll(async () => {
    tornDown = true;
    try {
      // First: until it stops, its loop talks to the servers.
      await backend?.stop();
    } finally {
      await settleAll([cluster?.stop(), registry?.stop(), git?.stop()]).finally(
        () => {
          if (cacheDir) fs.rmSync(cacheDir, { recursive: true, force: true });
        },
      );
    }
  }, 60_000);

  return stack;
}

/** A `core.oam.dev/v1beta1` Application with a single webservice component and an ingress trait. */
export function webserviceApp(
  name: string,
  labels: Record<string, string> = {},
) {
  return {
    apiVersion: 'core.oam.dev/v1beta1',
    kind: 'Application',
    metadata: { name, namespace: 'default', labels },
    spec: {
      components: [
        {
          name: `${name}-server`,
          type: 'webservice',
          properties: { image: 'registry.local/hello:1.0.0', port: 8080 },
          traits: [
            {
              type: 'ingress',
              properties: {
                domain: `${name}.example.com`,
                http: { '/': 8080 },
              },
            },
          ],
        },
      ],
    },
  };
}

/** The marker of the image policy of {@link kustomizeApp}'s component `deploy` in `default`. */
const MARKER = '# {"$imagepolicy": "default:deploy"}';

/**
 * A Deployment file whose image the automation rewrites; `podAnnotations` go
 * on its pod template (`test.gitops/never-ready-image: <image:tag>` keeps the
 * pods of that image unready on the kwok node).
 */
export function markedDeployment(
  image: string,
  podAnnotations: Record<string, string> = {},
): string {
  const annotations = Object.entries(podAnnotations)
    .map(([key, value]) => `\n        ${key}: ${value}`)
    .join('');
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
      labels: { app: web }${annotations && `\n      annotations:${annotations}`}
    spec:
      containers:
        - name: web
          image: ${image} ${MARKER}
`;
}

/**
 * An Application with one kustomize component, `deploy`, synced from Git on
 * `main` every minute, with image automation on `build-<n>` tags.
 */
export function kustomizeApp(
  name: string,
  gitUrl: string,
  image: string,
  secrets = SOURCE_SECRETS,
) {
  return {
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
            url: gitUrl,
            secretRef: secrets.git,
            pullInterval: '1m',
            git: { branch: 'main' },
            path: '.',
            imageRepository: {
              image,
              secretRef: secrets.registry,
              interval: '1m',
              insecure: true,
              filterTags: { pattern: '^build-(?P<n>[0-9]+)$', extract: '$n' },
              policy: { numerical: { order: 'asc' } },
            },
          },
        },
      ],
    },
  };
}

/**
 * One backend replica as its own process (`replica.ts`) on a shared
 * PostgreSQL, ready when this resolves: the multi-replica tests kill one
 * with SIGKILL and watch another take over.
 */
export async function startReplica(
  handle: ServiceHandle,
  dir: string,
  name: string,
  database: PostgresConnection,
  gitops: JsonObject,
): Promise<ManagedProcess> {
  const port = await freePort();
  const config = {
    backend: {
      baseUrl: `http://127.0.0.1:${port}`,
      listen: { host: '127.0.0.1', port },
      database: { client: 'pg', connection: database },
    },
    gitops,
  };
  const configFile = path.join(dir, `${name}.yaml`);
  fs.writeFileSync(configFile, JSON.stringify(config));
  const replica = handle.spawn(
    name,
    process.execPath,
    [
      '--require',
      '@backstage/cli/config/nodeTransform.cjs',
      path.join(repoRoot(), 'test/src/backend/replica.ts'),
      '--config',
      configFile,
    ],
    {
      cwd: path.join(repoRoot(), 'test'),
      env: { ...process.env, NODE_ENV: 'development' },
      logFile: path.join(dir, `${name}.log`),
    },
  );
  await waitFor(
    `${name} to be ready`,
    async () =>
      (
        await fetch(`http://127.0.0.1:${port}/.backstage/health/v1/readiness`)
      ).ok,
    { timeoutMs: 180_000, intervalMs: 500, abort: replica.deathError },
  ).catch(error => {
    throw new Error(
      `${(error as Error).message}; its log ends:\n${replica.logTail(40)}`,
    );
  });
  return replica;
}

/**
 * The real `gitops` CLI, as a person runs it (against `backend` when given):
 * its output, or why it failed. Async: the backend it talks to may run in
 * this process.
 */
export async function gitopsCli(
  args: string[],
  backend?: { server: { address(): unknown } },
  /** Who the backend sees: a user entity ref (default: the mock user). */
  user?: string,
): Promise<string> {
  const flags = backend
    ? [
        '--backend',
        `http://127.0.0.1:${(backend.server.address() as AddressInfo).port}`,
        '--token',
        mockCredentials.user.token(user),
      ]
    : [];
  try {
    const { stdout } = await execFileAsync(
      process.execPath,
      [path.join(repoRoot(), 'packages/cli/bin/gitops'), ...args, ...flags],
      { encoding: 'utf8', timeout: 60_000 },
    );
    return stdout;
  } catch (error) {
    throw new Error(
      `gitops ${args.join(' ')}: ${
        (error as { stderr?: string }).stderr ?? error
      }`,
    );
  }
}
