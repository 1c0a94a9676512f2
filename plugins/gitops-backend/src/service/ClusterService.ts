import { Config } from '@backstage/config';
import { InputError, NotFoundError } from '@backstage/errors';
import {
  ClusterConnectionConfig,
  clusterServer,
  describeKubeError,
  kubeConfigFor,
  probeCluster,
} from '@gitops-workflow/plugin-gitops-node';
import {
  ApplicationDetails,
  ApplicationRef,
  ClusterStatus,
} from '@gitops-workflow/plugin-gitops-common';
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { ServiceUnavailableError } from '@backstage/errors';

interface Cluster {
  config: ClusterConnectionConfig;
  kubeConfig: KubeConfig;
}

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
    };
    if (!cluster.kubeconfig && !cluster.url) {
      throw new InputError(
        `gitops.clusters[${i}]: cluster "${name}" needs "kubeconfig" or "url"`,
      );
    }
    return cluster;
  });
}

/** The configured clusters, and live reads from them. */
export class ClusterService {
  private readonly clusters: Cluster[];

  constructor(configs: ClusterConnectionConfig[]) {
    this.clusters = configs.map(config => ({
      config,
      kubeConfig: kubeConfigFor(config),
    }));
  }

  /** Every configured cluster, each probed for reachability in parallel. */
  async listClusters(): Promise<ClusterStatus[]> {
    return Promise.all(
      this.clusters.map(async ({ config, kubeConfig }) => ({
        name: config.name,
        labels: config.labels ?? {},
        server: clusterServer(kubeConfig),
        ...(await probeCluster(kubeConfig)),
      })),
    );
  }

  /** The live Application object, summarised in the API's shape. */
  async getApplication(ref: ApplicationRef): Promise<ApplicationDetails> {
    const cluster = this.cluster(ref.cluster);
    const api = cluster.kubeConfig.makeApiClient(CustomObjectsApi);
    let app: any;
    try {
      app = await api.getNamespacedCustomObject({
        group: 'core.oam.dev',
        version: 'v1beta1',
        namespace: ref.namespace,
        plural: 'applications',
        name: ref.name,
      });
    } catch (error) {
      if ((error as { code?: number }).code === 404) {
        throw new NotFoundError(
          `No Application ${ref.namespace}/${ref.name} in cluster "${cluster.config.name}"`,
        );
      }
      throw new ServiceUnavailableError(
        `Could not read Application ${ref.namespace}/${ref.name} from cluster "${cluster.config.name}": ${describeKubeError(error)}`,
      );
    }
    const status = app.status ?? {};
    return {
      cluster: cluster.config.name,
      namespace: ref.namespace,
      name: ref.name,
      createdAt: app.metadata?.creationTimestamp,
      components: (app.spec?.components ?? []).map((c: any) => ({
        name: c.name,
        type: c.type,
        traits: (c.traits ?? []).map((t: any) => t.type),
      })),
      phase: status.status,
      services: status.services ?? [],
      conditions: status.conditions ?? [],
    };
  }

  /** The configured name of a cluster; the default cluster when absent. */
  clusterName(name: string | undefined): string {
    return this.cluster(name).config.name;
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
