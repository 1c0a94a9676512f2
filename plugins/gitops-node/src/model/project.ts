import type { Application } from './types';

/** KubeVela's annotation naming the ServiceAccount an Application acts as. */
export const ANNOTATION_SERVICE_ACCOUNT = 'app.oam.dev/service-account-name';

/** A kind, by API group (`''` for the core group) and kind; both may be globs. */
export interface KindRule {
  group: string;
  kind: string;
}

/**
 * What the Applications of one project may do (Argo CD's AppProject, in
 * KubeVela's terms). Every list is an allow-list except
 * `deniedNamespacedKinds`; globs take `*` for any run of characters.
 */
export interface Project {
  name: string;
  /** Which Applications belong: in one of these namespaces (globs) and carrying these labels. */
  applications: { namespaces?: string[]; matchLabels?: Record<string, string> };
  /** Git repository URLs the Applications may sync from (globs). */
  sourceRepos: string[];
  /** Where their objects may go: cluster name and namespace (globs). */
  destinations: Array<{ cluster: string; namespace: string }>;
  /** Cluster-scoped kinds they may create; none by default. */
  clusterScopedKinds: KindRule[];
  /** Namespaced kinds they may not create. */
  deniedNamespacedKinds: KindRule[];
  /**
   * Whether a repository without a `secretRef` may use the tokens of
   * Backstage's `integrations` config; otherwise only the Application's own
   * Secrets (in its namespace) are ever used.
   */
  integrationCredentials: boolean;
  /** Hosts `notification` steps may post to (globs). */
  notificationHosts: string[];
  /** Hosts a registry may send its token requests to besides its own (globs). */
  registryTokenHosts: string[];
  /** Whether kustomizations may name remote bases (Flux's `--no-remote-bases` when false). */
  remoteBases: boolean;
  /**
   * Whether Applications may have `terraform` components. OpenTofu runs
   * their configurations on the backend's host with the backend's rights (a
   * `local-exec` provisioner runs any command there), so only a platform
   * team's projects should.
   */
  terraform: boolean;
  /**
   * The ServiceAccount (in the Application's namespace) its reads and writes
   * go as, when the Application's annotation names none.
   */
  serviceAccountName?: string;
}

/** `*` for any run of characters; everything else literal. */
export function globMatch(pattern: string, value: string): boolean {
  const source = pattern
    .split('*')
    .map(part => part.replace(/[.+?^${}()|[\]\\/]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${source}$`, 's').test(value);
}

export const matchesAny = (patterns: string[], value: string) =>
  patterns.some(p => globMatch(p, value));

export const kindMatches = (
  rules: KindRule[],
  ref: { group: string; kind: string },
) =>
  rules.some(r => globMatch(r.group, ref.group) && globMatch(r.kind, ref.kind));

/**
 * The project when none is configured for an Application: namespaced objects
 * in its own namespace on the cluster it lives in, no cluster-scoped kinds
 * (installing CRDs and the like is the platform's job), only its own Secrets,
 * no notification hosts, no remote bases, no terraform components, no
 * impersonation unless the Application asks for it.
 */
export function defaultProject(
  app: Pick<Application, 'metadata'>,
  homeCluster: string,
): Project {
  return {
    name: 'default',
    applications: {},
    sourceRepos: ['*'],
    destinations: [{ cluster: homeCluster, namespace: app.metadata.namespace }],
    clusterScopedKinds: [],
    deniedNamespacedKinds: [],
    integrationCredentials: false,
    notificationHosts: [],
    registryTokenHosts: [],
    remoteBases: false,
    terraform: false,
  };
}

/** The first configured project the Application belongs to, else the default. */
export function projectFor(
  app: Pick<Application, 'metadata'>,
  projects: Project[],
  homeCluster: string,
): Project {
  const labels = app.metadata.labels ?? {};
  const found = projects.find(
    ({ applications: { namespaces, matchLabels } }) =>
      (namespaces === undefined ||
        matchesAny(namespaces, app.metadata.namespace)) &&
      Object.entries(matchLabels ?? {}).every(([k, v]) => labels[k] === v),
  );
  return found ?? defaultProject(app, homeCluster);
}

/**
 * The Kubernetes user an Application's reads and writes go as: its
 * ServiceAccount (annotation, else the project's), or none (the backend's
 * own identity).
 */
export function impersonatedUser(
  app: Pick<Application, 'metadata'>,
  project: Project,
): string | undefined {
  const name =
    app.metadata.annotations?.[ANNOTATION_SERVICE_ACCOUNT] ??
    project.serviceAccountName;
  return name
    ? `system:serviceaccount:${app.metadata.namespace}:${name}`
    : undefined;
}
