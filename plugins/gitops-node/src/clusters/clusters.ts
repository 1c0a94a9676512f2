import { KubeConfig } from '@kubernetes/client-node';
import { InputError } from '@backstage/errors';

/**
 * How to reach one cluster: a kubeconfig file (optionally a context in it),
 * or an API server URL with a bearer token and CA.
 */
export interface ClusterConnectionConfig {
  name: string;
  labels?: Record<string, string>;
  kubeconfig?: string;
  context?: string;
  url?: string;
  token?: string;
  caData?: string;
  caFile?: string;
  skipTLSVerify?: boolean;
  /** Client-side limit of requests per second to this cluster (default 200). */
  qps?: number;
  /** Requests that may go at once after a quiet spell (default 500). */
  burst?: number;
}

/** Builds a client-node KubeConfig for a configured cluster. */
export function kubeConfigFor(cluster: ClusterConnectionConfig): KubeConfig {
  const kc = new KubeConfig();
  if (cluster.kubeconfig) {
    kc.loadFromFile(cluster.kubeconfig);
    if (cluster.context) kc.setCurrentContext(cluster.context);
    return kc;
  }
  if (!cluster.url) {
    throw new InputError(
      `Cluster "${cluster.name}" needs either "kubeconfig" or "url" in gitops.clusters`,
    );
  }
  kc.loadFromOptions({
    clusters: [
      {
        name: cluster.name,
        server: cluster.url,
        caData: cluster.caData,
        caFile: cluster.caFile,
        skipTLSVerify: cluster.skipTLSVerify ?? false,
      },
    ],
    users: [{ name: cluster.name, token: cluster.token }],
    contexts: [
      { name: cluster.name, cluster: cluster.name, user: cluster.name },
    ],
    currentContext: cluster.name,
  });
  return kc;
}

/** The API server URL of a cluster, without credentials. */
export function clusterServer(kc: KubeConfig): string {
  const server = kc.getCurrentCluster()?.server ?? '';
  try {
    const url = new URL(server);
    url.username = '';
    url.password = '';
    return url.toString().replace(/\/$/, '');
  } catch {
    return server;
  }
}

/** The outcome of asking a cluster's API server for its version. */
export interface ClusterProbe {
  reachable: boolean;
  version?: string;
  error?: string;
}

/**
 * Asks the API server for its version; never throws. Through our client,
 * so the probe has the same deadline as every other request.
 */
export async function probeCluster(client: {
  request<T>(method: string, path: string): Promise<{ body: T }>;
}): Promise<ClusterProbe> {
  try {
    const { body } = await client.request<{ gitVersion?: string }>(
      'GET',
      '/version',
    );
    return { reachable: true, version: body.gitVersion };
  } catch (error) {
    return { reachable: false, error: describeKubeError(error) };
  }
}

/**
 * Turns a client-node or network error into one sentence a person can act
 * on. Response bodies are not echoed, so tokens in them can't leak.
 */
export function describeKubeError(error: unknown): string {
  const e = error as {
    code?: number;
    cause?: { code?: string };
    message?: string;
  };
  if (typeof e?.code === 'number') {
    if (e.code === 401)
      return 'The API server rejected the credentials (401 Unauthorized)';
    if (e.code === 403)
      return 'The credentials are not allowed to do this (403 Forbidden)';
    return `The API server answered HTTP ${e.code}`;
  }
  const code = e?.cause?.code ?? (e as { code?: string })?.code;
  if (code === 'ECONNREFUSED')
    return 'Connection refused: is the API server running at this address?';
  if (code === 'ENOTFOUND') return 'The API server host name does not resolve';
  if (typeof code === 'string' && code.includes('CERT'))
    return `TLS verification failed (${code}): check the cluster's CA`;
  return e?.message ?? String(error);
}
