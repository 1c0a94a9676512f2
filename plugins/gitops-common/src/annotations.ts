/**
 * Catalog annotation that links an entity to an Application:
 * `[cluster/]namespace/name`, e.g. `default/first-vela-workflow`.
 */
export const GITOPS_APPLICATION_ANNOTATION = 'gitops.backstage.io/application';

/** A reference to one Application in one cluster. */
export interface ApplicationRef {
  /** The configured cluster name; absent means the default (first) cluster. */
  cluster?: string;
  namespace: string;
  name: string;
}

/**
 * Parses the value of {@link GITOPS_APPLICATION_ANNOTATION}. Returns an error
 * message instead of throwing so the UI can show it next to the entity.
 */
export function parseApplicationRef(
  value: string,
): { ref: ApplicationRef } | { error: string } {
  const parts = value.trim().split('/');
  const valid = parts.every(p => /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(p));
  if (!valid || parts.length < 2 || parts.length > 3) {
    return {
      error: `The annotation ${GITOPS_APPLICATION_ANNOTATION} must be "namespace/name" or "cluster/namespace/name", got "${value}"`,
    };
  }
  const [namespace, name] = parts.slice(-2);
  const cluster = parts.length === 3 ? parts[0] : undefined;
  return { ref: { cluster, namespace, name } };
}

/** The canonical string form of an {@link ApplicationRef}. */
export function stringifyApplicationRef(ref: ApplicationRef): string {
  return [ref.cluster, ref.namespace, ref.name].filter(Boolean).join('/');
}
