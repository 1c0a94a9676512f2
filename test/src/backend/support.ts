import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  mockCredentials,
  mockServices,
  startTestBackend,
} from '@backstage/backend-test-utils';
import { schedulerServiceFactory } from '@backstage/backend-defaults/scheduler';
import type { BackendFeature } from '@backstage/backend-plugin-api';
import type { JsonObject } from '@backstage/types';
import gitopsPlugin from '@gitops-workflow/plugin-gitops-backend';
import fs from 'node:fs';
import {
  freePort,
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
        }\n${await context()}`,
      );
    }
    await new Promise(r => setTimeout(r, 250));
  }
}

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
export function startGitopsBackend(
  gitops: JsonObject,
  /** Backend modules to add, e.g. one that registers definitions. */
  modules: BackendFeature[] = [],
  /** Config beside `gitops`, e.g. `events` for the events backend's modules. */
  config: JsonObject = {},
) {
  return startTestBackend({
    features: [
      gitopsPlugin,
      schedulerServiceFactory,
      mockServices.rootConfig.factory({ data: { ...config, gitops } }),
      ...modules,
    ],
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
  secrets = { git: 'git-creds', registry: 'registry-creds' },
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
    { timeoutMs: 120_000, intervalMs: 500, abort: replica.deathError },
  );
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
