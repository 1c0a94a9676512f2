import { Config } from '@backstage/config';
import {
  InputError,
  NotFoundError,
  ServiceUnavailableError,
  stringifyError,
} from '@backstage/errors';
import {
  APPLICATION_GVK,
  ClusterConnectionConfig,
  clusterServer,
  kubeConfigFor,
  KubeClient,
  KubeClientOptions,
  KubeObject,
  labelMatcher,
  probeCluster,
} from '@gitops-workflow/plugin-gitops-node';
import {
  ApplicationRef,
  ClusterStatus,
} from '@gitops-workflow/plugin-gitops-common';
import { KubeConfig } from '@kubernetes/client-node';
import type { ApplicationCache } from './LiveCache';

interface Cluster {
  config: ClusterConnectionConfig;
  kubeConfig: KubeConfig;
  client: KubeClient;
  /** The last probe and when it was asked: every open page asks, the API server is asked once in a while. */
  probe?: { at: number; result: ReturnType<typeof probeCluster> };
}

/** How long one probe of a cluster answers for. */
const PROBE_TTL_MS = 15_000;

/** Reads `gitops.clusters`, failing start-up with the offending key. */
export function readClusterConfigs(config: Config): ClusterConnectionConfig[] {
  const entries = config.getOptionalConfigArray('gitops.clusters') ?? [];
  const seen = new Set<string>();
  return entries.map((c, i) => {
    const name = c.getString('name');
    if (seen.has(name)) {
      throw new InputError(
        `gitops.clusters[${i}].name: the cluster name "${name}" is used twice`,
      );
    }
    seen.add(name);
    const cluster: ClusterConnectionConfig = {
      name,
      labels: c.getOptional<Record<string, string>>('labels'),
      kubeconfig: c.getOptionalString('kubeconfig'),
      context: c.getOptionalString('context'),
      url: c.getOptionalString('url'),
      token: c.getOptionalString('token'),
      caData: c.getOptionalString('caData'),
      caFile: c.getOptionalString('caFile'),
      skipTLSVerify: c.getOptionalBoolean('skipTLSVerify'),
      qps: c.getOptionalNumber('qps'),
      burst: c.getOptionalNumber('burst'),
    };
    if (!cluster.kubeconfig && !cluster.url) {
      throw new InputError(
        `gitops.clusters[${i}]: cluster "${name}" needs "kubeconfig" or "url"`,
      );
    }
    return cluster;
  });
}

/** An Application object and the configured cluster it was read from. */
export interface ClusterApplication {
  cluster: string;
  object: KubeObject;
}

/**
 * The configured clusters, each with one `KubeClient` that every read and
 * the reconcile loop share (one connection pool, one discovery cache).
 */
export class ClusterService {
  private readonly clusters: Cluster[];
  private cache?: ApplicationCache;

  /** `kube`: deadlines of every request to the clusters (`gitops.timeouts`). */
  constructor(
    configs: ClusterConnectionConfig[],
    options: { kube?: KubeClientOptions } = {},
  ) {
    this.clusters = configs.map(config => {
      const kubeConfig = kubeConfigFor(config);
      return {
        config,
        kubeConfig,
        client: KubeClient.fromKubeConfig(kubeConfig, {
          ...options.kube,
          qps: config.qps,
          burst: config.burst,
        }),
      };
    });
  }

  /**
   * Answers reads of Applications from `cache` wherever it has listed them,
   * instead of asking the API server each time.
   */
  readApplicationsFrom(cache: ApplicationCache): void {
    this.cache = cache;
  }

  /** The default cluster (where Applications live), or undefined when none is configured. */
  get home(): { name: string; client: KubeClient } | undefined {
    const home = this.clusters[0];
    return home && { name: home.config.name, client: home.client };
  }

  /** Every configured cluster's connection settings (topology policies choose among them). */
  get configs(): ClusterConnectionConfig[] {
    return this.clusters.map(c => c.config);
  }

  /** The shared client of a configured cluster. */
  clientFor(name: string): KubeClient {
    const cluster = this.clusters.find(c => c.config.name === name);
    if (!cluster) throw new NotFoundError(`Unknown cluster "${name}"`);
    return cluster.client;
  }

  /** Every configured cluster, each probed for reachability in parallel (at most every 15 s). */
  async listClusters(): Promise<ClusterStatus[]> {
    return Promise.all(
      this.clusters.map(async cluster => {
        const { config, kubeConfig, client } = cluster;
        if (!cluster.probe || Date.now() - cluster.probe.at > PROBE_TTL_MS)
          cluster.probe = { at: Date.now(), result: probeCluster(client) };
        return {
          name: config.name,
          labels: config.labels ?? {},
          server: clusterServer(kubeConfig),
          ...(await cluster.probe.result),
        };
      }),
    );
  }

  /**
   * The Applications carrying the selector's labels, in every cluster
   * (from the cache where it has listed them). A cluster that can't be read
   * is reported beside the others, not in place of them.
   */
  async listApplications(matchLabels: Record<string, string>): Promise<{
    items: ClusterApplication[];
    errors: Array<{ cluster: string; error: string }>;
  }> {
    const labelSelector =
      Object.entries(matchLabels)
        .map(([k, v]) => `${k}=${v}`)
        .join(',') || undefined;
    const matches = labelMatcher(labelSelector ?? '')!;
    const results = await Promise.all(
      this.clusters.map(
        async ({
          config,
          client,
        }): Promise<{
          items?: ClusterApplication[];
          error?: { cluster: string; error: string };
        }> => {
          const cached = this.cache?.applications(config.name);
          if (cached) {
            const stale = this.cache?.applicationsError(config.name);
            return {
              items: cached
                .filter(object => matches(object.metadata.labels))
                .map(object => ({ cluster: config.name, object })),
              ...(stale && {
                error: {
                  cluster: config.name,
                  error: `Showing the Applications as last seen; watching them fails: ${describeReadError(
                    stale,
                  )}`,
                },
              }),
            };
          }
          try {
            const objects = await client.list(APPLICATION_GVK, {
              labelSelector,
            });
            return {
              items: objects.map(object => ({ cluster: config.name, object })),
            };
          } catch (error) {
            // A deploy-target cluster without the Application CRD simply has none.
            if (error instanceof NotFoundError) return { items: [] };
            return {
              error: { cluster: config.name, error: describeReadError(error) },
            };
          }
        },
      ),
    );
    return {
      items: results.flatMap(r => r.items ?? []),
      errors: results.flatMap(r => (r.error ? [r.error] : [])),
    };
  }

  /**
   * The Application object, from the cache once it has listed the cluster's
   * Applications, else read live; NotFoundError when it does not exist.
   */
  async getApplication(ref: ApplicationRef): Promise<ClusterApplication> {
    const cluster = this.cluster(ref.cluster);
    const cached = this.cache?.application(
      cluster.config.name,
      ref.namespace,
      ref.name,
    );
    let object: KubeObject | undefined = cached?.object;
    try {
      if (!cached)
        object = await cluster.client.get({
          ...APPLICATION_GVK,
          namespace: ref.namespace,
          name: ref.name,
        });
    } catch (error) {
      // The CRD is not installed: there is no such Application either.
      if (error instanceof NotFoundError) object = undefined;
      else {
        throw new ServiceUnavailableError(
          `Could not read Application ${ref.namespace}/${
            ref.name
          } from cluster "${cluster.config.name}": ${describeReadError(error)}`,
        );
      }
    }
    if (!object) {
      throw new NotFoundError(
        `No Application ${ref.namespace}/${ref.name} in cluster "${cluster.config.name}"`,
      );
    }
    return { cluster: cluster.config.name, object };
  }

  /** The client of a configured cluster; the default cluster when the name is absent. */
  client(name: string | undefined): KubeClient {
    return this.cluster(name).client;
  }

  /** Whether a cluster of that name is configured. */
  has(name: string): boolean {
    return this.clusters.some(c => c.config.name === name);
  }

  /** The configured name of a cluster; the default cluster when absent. */
  clusterName(name: string | undefined): string {
    return this.cluster(name).config.name;
  }

  /** Closes pooled connections, at plugin shutdown. */
  close(): void {
    for (const cluster of this.clusters) cluster.client.close();
  }

  private cluster(name: string | undefined): Cluster {
    if (this.clusters.length === 0) {
      throw new NotFoundError(
        'No clusters are configured: add gitops.clusters to app-config.yaml',
      );
    }
    if (!name) return this.clusters[0];
    const cluster = this.clusters.find(c => c.config.name === name);
    if (!cluster) {
      throw new NotFoundError(
        `Unknown cluster "${name}"; configured: ${this.clusters
          .map(c => c.config.name)
          .join(', ')}`,
      );
    }
    return cluster;
  }
}

/** KubeClient errors carry the API server's message, never the request's credentials. */
function describeReadError(error: unknown): string {
  return error instanceof Error ? error.message : stringifyError(error);
}
