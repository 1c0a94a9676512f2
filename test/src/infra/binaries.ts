/*
 * Where the Kubernetes-side binaries come from, in order of preference:
 *  1. an explicit variable per binary (GITOPS_KUBE_APISERVER, GITOPS_ETCD, …);
 *  2. $KUBEBUILDER_ASSETS, the envtest convention (kube-apiserver, etcd, kubectl);
 *  3. scripts/build-k8s.sh, which builds them from the Go module proxy once
 *     and caches them by version (a warm call costs milliseconds).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { MissingToolError, repoRoot } from './process';

export interface K8sBinaries {
  kubeApiserver: string;
  kubeControllerManager: string;
  kubeScheduler: string;
  etcd: string;
  kwok: string;
  kubectl: string;
  kustomize: string;
}

const BINARIES: Record<keyof K8sBinaries, { file: string; env: string }> = {
  kubeApiserver: { file: 'kube-apiserver', env: 'GITOPS_KUBE_APISERVER' },
  kubeControllerManager: {
    file: 'kube-controller-manager',
    env: 'GITOPS_KUBE_CONTROLLER_MANAGER',
  },
  kubeScheduler: { file: 'kube-scheduler', env: 'GITOPS_KUBE_SCHEDULER' },
  etcd: { file: 'etcd', env: 'GITOPS_ETCD' },
  kwok: { file: 'kwok', env: 'GITOPS_KWOK' },
  kubectl: { file: 'kubectl', env: 'GITOPS_KUBECTL' },
  kustomize: { file: 'kustomize', env: 'GITOPS_KUSTOMIZE' },
};

const isExecutable = (file: string) => {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
};

let built: string | undefined;

/** Runs the build script (a no-op when the cache is warm) and returns its bin dir. */
export function buildK8sBinaries(): string {
  if (built) return built;
  const script = path.join(repoRoot(), 'scripts', 'build-k8s.sh');
  try {
    // stderr stays attached so a cold build shows its progress.
    const out = execFileSync('bash', [script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    built = out.toString().trim().split('\n').pop()!;
  } catch (e) {
    throw new MissingToolError(
      `scripts/build-k8s.sh failed (${(e as Error).message.split('\n')[0]}); ` +
        'see its output above, or set KUBEBUILDER_ASSETS / GITOPS_KUBE_APISERVER… to prebuilt binaries',
    );
  }
  return built;
}

/** Resolves every binary, building the missing ones. */
export function k8sBinaries(): K8sBinaries {
  const resolved: Partial<K8sBinaries> = {};
  const missing: Array<keyof K8sBinaries> = [];
  const assets = process.env.KUBEBUILDER_ASSETS;
  for (const [key, { file, env }] of Object.entries(BINARIES) as Array<
    [keyof K8sBinaries, { file: string; env: string }]
  >) {
    const explicit = process.env[env];
    if (explicit) {
      if (!isExecutable(explicit)) {
        throw new MissingToolError(
          `${env}=${explicit} is not an executable file`,
        );
      }
      resolved[key] = explicit;
    } else if (assets && isExecutable(path.join(assets, file))) {
      resolved[key] = path.join(assets, file);
    } else {
      missing.push(key);
    }
  }
  if (missing.length > 0) {
    const dir = buildK8sBinaries();
    for (const key of missing)
      resolved[key] = path.join(dir, BINARIES[key].file);
  }
  return resolved as K8sBinaries;
}

let tofu: string | undefined;

/** OpenTofu: `GITOPS_TOFU`, else `scripts/build-k8s.sh --tofu` (built once, cached by version). */
export function tofuBinary(): string {
  const explicit = process.env.GITOPS_TOFU;
  if (explicit) {
    if (!isExecutable(explicit))
      throw new MissingToolError(
        `GITOPS_TOFU=${explicit} is not an executable file`,
      );
    return explicit;
  }
  if (tofu) return tofu;
  const script = path.join(repoRoot(), 'scripts', 'build-k8s.sh');
  try {
    const out = execFileSync('bash', [script, '--tofu'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    tofu = path.join(out.toString().trim().split('\n').pop()!, 'tofu');
  } catch (e) {
    throw new MissingToolError(
      `scripts/build-k8s.sh --tofu failed (${
        (e as Error).message.split('\n')[0]
      }); see its output above, or set GITOPS_TOFU to an OpenTofu binary`,
    );
  }
  return tofu;
}
