import { NotAllowedError } from '@backstage/errors';
import { groupOf, type KubeObject } from '../kube/objects';
import { kindMatches, matchesAny, type Project } from '../model/project';

/** What one cluster's share of a pass would apply, for the project to judge. */
export interface AdmissionInput {
  project: Project;
  cluster: string;
  objects: KubeObject[];
  /** The namespace a namespaced object that names none lands in. */
  defaultNamespace: string;
  /** Whether a kind is namespaced on that cluster (its discovery, or a CRD in the same set). */
  namespaced(object: KubeObject): boolean;
}

const kindName = (group: string, kind: string) =>
  group ? `${group}/${kind}` : kind;

const list = (items: string[]) =>
  items.length > 0 ? items.join(', ') : 'none';

/**
 * Why the project refuses one of these objects, as one sentence naming the
 * object, the rule and the project; undefined when it allows them all. Pure:
 * the workflow calls it for every cluster of a pass before anything is
 * applied, so a refused object stops the whole pass.
 */
export function admissionRefusal(input: AdmissionInput): string | undefined {
  const { project, cluster } = input;
  for (const object of input.objects) {
    const group = groupOf(object.apiVersion);
    const kind = kindName(group, object.kind);
    const refuse = (what: string, rule: string) =>
      `Project "${project.name}" refuses ${what} on cluster ${cluster}: ${rule}.`;
    if (!input.namespaced(object)) {
      if (
        !kindMatches(project.clusterScopedKinds, { group, kind: object.kind })
      )
        return refuse(
          `${object.kind} ${object.metadata.name} (cluster-scoped)`,
          `cluster-scoped kind ${kind} is not among its clusterScopedKinds (${list(
            project.clusterScopedKinds.map(r => kindName(r.group, r.kind)),
          )})`,
        );
      continue;
    }
    const namespace = object.metadata.namespace ?? input.defaultNamespace;
    const what = `${object.kind} ${namespace}/${object.metadata.name}`;
    if (
      kindMatches(project.deniedNamespacedKinds, { group, kind: object.kind })
    )
      return refuse(what, `kind ${kind} is among its deniedNamespacedKinds`);
    const allowed = project.destinations.some(
      d =>
        matchesAny([d.cluster], cluster) &&
        matchesAny([d.namespace], namespace),
    );
    if (!allowed)
      return refuse(
        what,
        `destination ${cluster}/${namespace} is not among its destinations (${list(
          project.destinations.map(d => `${d.cluster}/${d.namespace}`),
        )})`,
      );
  }
  return undefined;
}

/** Throws a NotAllowedError with the refusal, if any. */
export function admitObjects(input: AdmissionInput): void {
  const refusal = admissionRefusal(input);
  if (refusal) throw new NotAllowedError(refusal);
}
