import type { KubeObject } from './types';

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

