/*
 * Backstage as `yarn start` runs it (frontend dev server + backend), pointed
 * at a demo stack by an extra config file. The demo and the acceptance test
 * run the same thing.
 */
import { ChildProcess, spawn, StdioOptions } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { k8sBinaries } from '../infra';
import { repoRoot, sleep, waitFor } from '../infra/process';
import type { DemoStack } from './stack';

/** The gitops section that connects the backend to `stack`. */
export function demoGitopsConfig(stack: DemoStack, webhookSecret: string) {
  return {
    clusters: [{ name: 'local', kubeconfig: stack.cluster.kubeconfigPath }],
    kustomizePath: k8sBinaries().kustomize,
    webhooks: { registrySecret: webhookSecret },
  };
}

/** Writes a config file only its owner can read: it holds the webhook secret. */
export function writeConfigFile(file: string, header: string, config: object) {
  // JSON is YAML; the header says who wrote the file.
  fs.writeFileSync(file, `# ${header}\n${JSON.stringify(config, null, 2)}\n`, {
    mode: 0o600,
  });
  fs.chmodSync(file, 0o600);
}

export interface Backstage {
  process: ChildProcess;
  /** Resolves once the backend is ready and the frontend serves its page. */
  ready(options?: { abort?: () => Error | undefined }): Promise<void>;
  /** SIGINT to the whole `yarn start` tree, SIGKILL if it lingers. */
  stop(): Promise<void>;
}

export function startBackstage(options: {
  configFiles: string[];
  frontendUrl: string;
  backendUrl: string;
  stdio: StdioOptions;
}): Backstage {
  const root = repoRoot();
  const child = spawn(
    'yarn',
    [
      'start',
      ...options.configFiles.flatMap(f => ['--config', path.resolve(root, f)]),
    ],
    // Its own process group: stop() reaches every process yarn start spawns.
    {
      cwd: root,
      // Under Jest NODE_ENV is `test`, which no browserslist environment of the app names.
      env: { ...process.env, NODE_ENV: 'development' },
      stdio: options.stdio,
      detached: true,
    },
  );
  const exited = new Promise<void>(r => child.once('exit', () => r()));
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    process: child,
    async ready({ abort } = {}) {
      await waitFor(
        'Backstage to answer',
        async () => {
          const [backend, frontend] = await Promise.all([
            fetch(`${options.backendUrl}/.backstage/health/v1/readiness`),
            fetch(options.frontendUrl),
          ]);
          return backend.ok && frontend.ok;
        },
        {
          timeoutMs: 10 * 60_000,
          intervalMs: 1000,
          abort: () =>
            abort?.() ??
            (running() ? undefined : new Error('Backstage exited')),
        },
      );
    },
    async stop() {
      if (!child.pid || !running()) return;
      process.kill(-child.pid, 'SIGINT');
      await Promise.race([exited, sleep(15_000)]);
      try {
        // Whatever of the group outlived yarn.
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // the group is gone
      }
    },
  };
}
