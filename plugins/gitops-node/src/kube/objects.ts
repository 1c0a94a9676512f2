/** Any Kubernetes object, as rendered or as read from the API server. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

/** The API group of an `apiVersion` (`apps/v1` → `apps`, `v1` → ``). */
export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/**
 * One object's identity regardless of API version (`apps/Deployment/default/web`),
 * so the same object written as `v1beta1` and `v1` is still one object.
 */
export function objectKey(object: {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
}): string {
  const { namespace = '', name } = object.metadata;
  return `${groupOf(object.apiVersion)}/${object.kind}/${namespace}/${name}`;
}

/** `Deployment default/web` or `Namespace prod`, for messages a person reads. */
export function describeObject(object: {
  kind: string;
  metadata: { name: string; namespace?: string };
}): string {
  const { namespace, name } = object.metadata;
  return `${object.kind} ${namespace ? `${namespace}/` : ''}${name}`;
}

/**
 * Kinds that are never namespaced, so rendering does not stamp a namespace on
 * them; the apply step also checks discovery for kinds this list misses.
 */
export const CLUSTER_SCOPED_KINDS: ReadonlySet<string> = new Set([
  'Namespace',
  'CustomResourceDefinition',
  'ClusterRole',
  'ClusterRoleBinding',
  'PersistentVolume',
  'StorageClass',
  'PriorityClass',
  'IngressClass',
  'RuntimeClass',
  'MutatingWebhookConfiguration',
  'ValidatingWebhookConfiguration',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
  'APIService',
  'CSIDriver',
  'Node',
]);

/** A reference to one object: what an inventory holds. */
export interface ObjectRef {
  group: string;
  version: string;
  kind: string;
  namespace?: string;
  name: string;
}

export function refOf(object: KubeObject): ObjectRef {
  const slash = object.apiVersion.indexOf('/');
  const ref: ObjectRef = {
    group: groupOf(object.apiVersion),
    version: slash < 0 ? object.apiVersion : object.apiVersion.slice(slash + 1),
    kind: object.kind,
    name: object.metadata.name,
  };
  if (object.metadata.namespace) ref.namespace = object.metadata.namespace;
  return ref;
}

export function apiVersionOf(ref: ObjectRef): string {
  return ref.group ? `${ref.group}/${ref.version}` : ref.version;
}

/** The same identity as `objectKey`, from a reference. */
export function refKey(ref: ObjectRef): string {
  return `${ref.group}/${ref.kind}/${ref.namespace ?? ''}/${ref.name}`;
}

export function describeRef(ref: ObjectRef): string {
  return `${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`;
}
