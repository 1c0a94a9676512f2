/**
 * Catalog annotation that links an entity to an Application:
 * `[cluster/]namespace/name`, e.g. `default/first-vela-workflow`.
 */
export const GITOPS_APPLICATION_ANNOTATION = 'gitops-workflow.io/application';

/**
 * The annotation's first name, in the `backstage.io` domain that is not ours.
 * Still read, so catalogs keep working while they move to
 * {@link GITOPS_APPLICATION_ANNOTATION}; its users are told to rename it.
 */
export const DEPRECATED_GITOPS_APPLICATION_ANNOTATION =
  'gitops.backstage.io/application';

/** Every annotation that may name an entity's Application, the current one first. */
export const GITOPS_APPLICATION_ANNOTATIONS = [
  GITOPS_APPLICATION_ANNOTATION,
  DEPRECATED_GITOPS_APPLICATION_ANNOTATION,
] as const;

/** The annotation that names an entity's Application, and its value. */
export interface ApplicationAnnotation {
  annotation: (typeof GITOPS_APPLICATION_ANNOTATIONS)[number];
  value: string;
  /** True when only the deprecated annotation names the Application. */
  deprecated: boolean;
}

/**
 * Which annotation of an entity names its Application: the current one when
 * both are set, so renaming it takes effect at once.
 */
export function applicationAnnotationOf(
  annotations: Record<string, string> | undefined,
): ApplicationAnnotation | undefined {
  for (const annotation of GITOPS_APPLICATION_ANNOTATIONS) {
    const value = annotations?.[annotation];
    if (value) {
      return {
        annotation,
        value,
        deprecated: annotation === DEPRECATED_GITOPS_APPLICATION_ANNOTATION,
      };
    }
  }
  return undefined;
}

/** What an entity whose Application is named by the deprecated annotation should change. */
export function deprecatedAnnotationMessage(entityRef: string): string {
  return `${entityRef} names its Application with the deprecated annotation ${DEPRECATED_GITOPS_APPLICATION_ANNOTATION}: rename it to ${GITOPS_APPLICATION_ANNOTATION} in the entity's catalog file (the value stays the same). The old name is still read for now.`;
}

/** A reference to one Application in one cluster. */
export interface ApplicationRef {
  /** The configured cluster name; absent means the default (first) cluster. */
  cluster?: string;
  namespace: string;
  name: string;
}

/**
 * Parses the value of {@link GITOPS_APPLICATION_ANNOTATION} (or of
 * `annotation`, the one it was read from). Returns an error message instead
 * of throwing so the UI can show it next to the entity.
 */
export function parseApplicationRef(
  value: string,
  annotation: string = GITOPS_APPLICATION_ANNOTATION,
): { ref: ApplicationRef } | { error: string } {
  const parts = value.trim().split('/');
  const valid = parts.every(p => /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(p));
  if (!valid || parts.length < 2 || parts.length > 3) {
    return {
      error: `The annotation ${annotation} must be "namespace/name" or "cluster/namespace/name", got "${value}"`,
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
