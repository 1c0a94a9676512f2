import { createTwoFilesPatch } from 'diff';
import { stringify } from 'yaml';
import { groupOf, type KubeObject } from '../kube/objects';
import { comparable } from './apply';

/** What a Secret's value shows in a diff. */
export const HIDDEN_VALUE = '<hidden>';
/** What a Secret's value shows in a diff where it would change. */
export const HIDDEN_CHANGED_VALUE = '<hidden, changed>';

/** Annotations that carry a copy of the object, data included (kubectl's). */
const COPIES = ['kubectl.kubernetes.io/last-applied-configuration'];

const isSecret = (object: KubeObject | undefined) =>
  object !== undefined &&
  object.kind === 'Secret' &&
  groupOf(object.apiVersion) === '';

/**
 * A Secret's values replaced by {@link HIDDEN_VALUE}, and by
 * {@link HIDDEN_CHANGED_VALUE} on the side whose value differs from the
 * other's: a reader sees which keys change, never a value (nor its length).
 */
function masked(
  object: KubeObject | undefined,
  other: KubeObject | undefined,
  side: 'before' | 'after',
): KubeObject | undefined {
  if (!object || !isSecret(object)) return object;
  const copy = structuredClone(object);
  for (const field of ['data', 'stringData']) {
    const values = copy[field] as Record<string, unknown> | undefined;
    if (!values || typeof values !== 'object') continue;
    const others = (other?.[field] ?? {}) as Record<string, unknown>;
    for (const key of Object.keys(values)) {
      const changed =
        side === 'after' && other !== undefined && others[key] !== values[key];
      values[key] = changed ? HIDDEN_CHANGED_VALUE : HIDDEN_VALUE;
    }
  }
  const annotations = copy.metadata.annotations;
  for (const annotation of COPIES) {
    if (annotations?.[annotation] !== undefined)
      annotations[annotation] = HIDDEN_VALUE;
  }
  return copy;
}

/** An object as YAML without server bookkeeping and status, as a diff shows it. */
function yamlOf(object: KubeObject | undefined): string {
  return object ? stringify(comparable(object), { sortMapEntries: true }) : '';
}

/**
 * A unified diff (3 lines of context) of an object's YAML from `before` (the
 * live object; undefined when it would be created) to `after` (the
 * server's dry-run result), without managedFields, resourceVersion,
 * generation, uid, creationTimestamp and status. The values of Secrets are
 * masked on both sides. Empty when they do not differ.
 */
export function objectDiff(
  before: KubeObject | undefined,
  after: KubeObject,
): string {
  const from = yamlOf(masked(before, after, 'before'));
  const to = yamlOf(masked(after, before, 'after'));
  if (from === to) return '';
  const patch = createTwoFilesPatch(
    'live',
    'after sync',
    from,
    to,
    undefined,
    undefined,
    { context: 3 },
  );
  // The `===` rule above the ---/+++ lines says nothing here.
  return patch.slice(patch.indexOf('--- live'));
}
