import os from 'node:os';
import path from 'node:path';
import { Config } from '@backstage/config';
import { InputError } from '@backstage/errors';
import {
  BuildOptions,
  ClusterConnectionConfig,
  DEFAULT_COMMIT_AUTHOR,
  GitAuthor,
  Project,
} from '@gitops-workflow/plugin-gitops-node';
import { readProjects } from './projects';
import { readClusterConfigs } from './service/ClusterService';

const MIB = 1024 * 1024;

/** `gitops.*` from app-config, checked and with defaults filled in. */
export interface GitopsConfig {
  clusters: ClusterConnectionConfig[];
  matchLabels: Record<string, string>;
  cacheDir: string;
  concurrency: number;
  commitAuthor: GitAuthor;
  kustomizePath?: string;
  /** `gitops.tofuPath` and `gitops.tofuProviderMirror`, for `terraform` components. */
  tofuPath?: string;
  tofuProviderMirror?: string;
  tickSeconds: number;
  shards: number;
  shardLeaseSeconds: number;
  retentionDays: number;
  webhooks: { registrySecret?: string; gitSecret?: string };
  /** `gitops.projects`; an Application in none gets the default project. */
  projects: Project[];
  /** `gitops.timeouts`: the deadline of each kind of external call. */
  timeouts: {
    /** One Kubernetes API request. */
    kubernetesMs: number;
    /** How long past its requested end a watch may stay open. */
    watchGraceMs: number;
    /** One Git remote operation: ref listing, clone, fetch or push. */
    gitMs: number;
    /** Waiting for another reconcile (here or in another replica) holding the same clone. */
    cloneLockMs: number;
    /** One registry HTTP request, body included. */
    registryMs: number;
    /** One kustomize build, killed after. */
    kustomizeMs: number;
    /** One OpenTofu command, stopped after. */
    tofuMs: number;
    /** One whole diff preview: Git, build and every dry-run. */
    previewMs: number;
    /** One analysis call of a progressive rollout (Prometheus query or webhook). */
    analysisMs: number;
  };
  /** `gitops.prometheus.url`: where rollout analysis asks. */
  prometheusUrl?: string;
  /** `gitops.liveUpdates`: the streams to open pages and the cache behind them. */
  liveUpdates: { maxStreams: number; watchSeconds: number };
  /** `gitops.limits`: bounds on what one repository or component may take. */
  limits: {
    maxRepositoryBytes: number;
    maxCloneBytes: number;
    maxCloneAgeMs: number;
    maxFileBytes: number;
    maxManifests: number;
  };
}

function positiveInteger(
  config: Config,
  key: string,
  fallback: number,
  max: number,
): number {
  // getOptionalNumber also takes "8" from an environment substitution, and names the key when it can't.
  const value = config.getOptionalNumber(key);
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new InputError(
      `${key} must be a whole number from 1 to ${max}, got ${JSON.stringify(
        value,
      )}`,
    );
  }
  return value;
}

function stringMap(config: Config, key: string): Record<string, string> {
  const value = config.getOptional(key);
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InputError(`${key} must be a map of label names to values`);
  }
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') {
      throw new InputError(
        `${key}.${k} must be a string, got ${JSON.stringify(v)}`,
      );
    }
  }
  return value as Record<string, string>;
}

function secret(config: Config, key: string): string | undefined {
  const value = config.getOptionalString(key);
  if (value !== undefined && value.length < 16) {
    // A short shared secret is guessable; say so at start-up, not after an attack.
    throw new InputError(`${key} must be at least 16 characters long`);
  }
  return value;
}

/**
 * Reads and checks the plugin's configuration. Bad config fails start-up
 * with an error that names the key, so a typo never becomes a silent default.
 */
export function readGitopsConfig(config: Config): GitopsConfig {
  const author = config.getOptionalConfig('gitops.commitAuthor');
  const commitAuthor = author
    ? { name: author.getString('name'), email: author.getString('email') }
    : DEFAULT_COMMIT_AUTHOR;
  if (!commitAuthor.email.includes('@')) {
    throw new InputError(
      `gitops.commitAuthor.email must be an e-mail address, got "${commitAuthor.email}"`,
    );
  }
  return {
    clusters: readClusterConfigs(config),
    matchLabels: stringMap(config, 'gitops.selector.matchLabels'),
    cacheDir:
      config.getOptionalString('gitops.cacheDir') ??
      path.join(os.tmpdir(), 'backstage-gitops', 'clones'),
    concurrency: positiveInteger(config, 'gitops.concurrency', 4, 64),
    commitAuthor,
    kustomizePath: config.getOptionalString('gitops.kustomizePath'),
    tofuPath: config.getOptionalString('gitops.tofuPath'),
    tofuProviderMirror: config.getOptionalString('gitops.tofuProviderMirror'),
    tickSeconds: positiveInteger(config, 'gitops.tickSeconds', 5, 3600),
    shards: positiveInteger(config, 'gitops.shards', 4, 64),
    shardLeaseSeconds: positiveInteger(
      config,
      'gitops.shardLeaseSeconds',
      600,
      86400,
    ),
    retentionDays: positiveInteger(
      config,
      'gitops.history.retentionDays',
      90,
      36500,
    ),
    webhooks: {
      registrySecret: secret(config, 'gitops.webhooks.registrySecret'),
      gitSecret: secret(config, 'gitops.webhooks.gitSecret'),
    },
    projects: readProjects(config),
    timeouts: {
      kubernetesMs: seconds('kubernetesSeconds', 30),
      watchGraceMs: seconds('watchGraceSeconds', 30),
      gitMs: seconds('gitSeconds', 60),
      cloneLockMs: seconds('cloneLockSeconds', 300),
      registryMs: seconds('registrySeconds', 30),
      kustomizeMs: seconds('kustomizeSeconds', 60),
      tofuMs: seconds('tofuSeconds', 600),
      previewMs: seconds('previewSeconds', 120),
      analysisMs: seconds('analysisSeconds', 10),
    },
    prometheusUrl: prometheusUrlOf(config),
    liveUpdates: {
      maxStreams: positiveInteger(
        config,
        'gitops.liveUpdates.maxStreams',
        1000,
        100_000,
      ),
      watchSeconds: positiveInteger(
        config,
        'gitops.liveUpdates.watchSeconds',
        300,
        3600,
      ),
    },
    limits: {
      maxRepositoryBytes:
        positiveInteger(
          config,
          'gitops.limits.maxRepositoryMiB',
          512,
          1 << 20,
        ) * MIB,
      maxCloneBytes:
        positiveInteger(config, 'gitops.limits.maxCloneMiB', 1024, 1 << 20) *
        MIB,
      maxCloneAgeMs:
        positiveInteger(config, 'gitops.limits.maxCloneAgeHours', 168, 8760) *
        3600_000,
      maxFileBytes:
        positiveInteger(config, 'gitops.limits.maxFileKiB', 4096, 1 << 20) *
        1024,
      maxManifests: positiveInteger(
        config,
        'gitops.limits.maxManifests',
        5000,
        1_000_000,
      ),
    },
  };

  function seconds(key: string, fallback: number): number {
    return (
      positiveInteger(config, `gitops.timeouts.${key}`, fallback, 3600) * 1000
    );
  }
}

function prometheusUrlOf(config: Config): string | undefined {
  const url = config.getOptionalString('gitops.prometheus.url');
  if (url === undefined) return undefined;
  try {
    const parsed = new URL(url);
    if (parsed.protocol === 'http:' || parsed.protocol === 'https:') return url;
  } catch {
    // Reported below with the key's name.
  }
  throw new InputError(
    `gitops.prometheus.url must be an http(s) URL such as http://prometheus:9090, got "${url}"`,
  );
}

/**
 * What `buildManifests` takes from the config: the kustomize binary, its
 * timeout and the per-component limits, to hand on where sources are built.
 */
export function buildOptionsOf(config: GitopsConfig): BuildOptions {
  return {
    kustomizePath: config.kustomizePath,
    timeoutMs: config.timeouts.kustomizeMs,
    maxFileBytes: config.limits.maxFileBytes,
    maxManifests: config.limits.maxManifests,
  };
}
