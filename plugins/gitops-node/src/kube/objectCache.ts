import type { KubeObject } from './objects';

/** kubectl's copy of the last applied object: as large as the object itself, and of no use to a reader of status. */
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/**
 * What a cache keeps of an object: everything a status page and kstatus
 * health read (metadata, spec, status), without what only writers use
 * (`managedFields`, kubectl's last-applied copy) and without the payload of
 * Secrets and ConfigMaps, which health never reads and which must not sit
 * in the backend's memory for the life of the process.
 */
export function compactObject(object: KubeObject): KubeObject {
  const compact: KubeObject = {
    ...object,
    metadata: withoutWriterMetadata(object.metadata),
  };
  if (keepsPayload(object)) return compact;
  delete compact.data;
  delete compact.stringData;
  delete compact.binaryData;
  return compact;
}

/** `metadata` without what only writers use: `managedFields` and kubectl's last-applied copy. */
export function withoutWriterMetadata(
  metadata: KubeObject['metadata'],
): KubeObject['metadata'] {
  const { managedFields: _managedFields, ...rest } = metadata;
  if (rest.annotations?.[LAST_APPLIED] === undefined) return rest;
  const { [LAST_APPLIED]: _lastApplied, ...annotations } = rest.annotations;
  if (Object.keys(annotations).length > 0) return { ...rest, annotations };
  const { annotations: _annotations, ...bare } = rest;
  return bare;
}

/** Whether a cache keeps the whole object: all but Secrets' and ConfigMaps' payload. */
export function keepsPayload(object: {
  apiVersion: string;
  kind: string;
}): boolean {
  return !(
    object.apiVersion === 'v1' &&
    (object.kind === 'Secret' || object.kind === 'ConfigMap')
  );
}

/** A change a cache saw; `ADDED` also for an object first seen in a re-list. */
export interface CacheEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  /** The object as it is now (for `DELETED`, as it was last). */
  object: KubeObject;
  /** For `MODIFIED`: the object as the cache held it before. */
  previous?: KubeObject;
}

const keyOf = (namespace: string | undefined, name: string) =>
  `${namespace ?? ''}/${name}`;

/**
 * The objects of one kind as the API server last told them, by namespace
 * and name. Knows nothing of lists or watches: an informer feeds it events
 * and full lists, and it says what changed.
 */
export class ObjectCache {
  private readonly objects = new Map<string, KubeObject>();
  /** Every object, as `list` last gave them: the same array until one changes. */
  private snapshot?: readonly KubeObject[];

  constructor(
    private readonly compact: (
      object: KubeObject,
    ) => KubeObject = compactObject,
  ) {}

  get size(): number {
    return this.objects.size;
  }

  get(namespace: string | undefined, name: string): KubeObject | undefined {
    return this.objects.get(keyOf(namespace, name));
  }

  /**
   * Every object, or those in one namespace. Without a namespace it is the
   * same (frozen) array from one change to the next, so a reader that works
   * out something from all of them can tell when it needs to again.
   */
  list(namespace?: string): readonly KubeObject[] {
    this.snapshot ??= Object.freeze([...this.objects.values()]);
    return namespace === undefined
      ? this.snapshot
      : this.snapshot.filter(o => o.metadata.namespace === namespace);
  }

  /**
   * Applies one watch event. Undefined when it changes nothing (an object
   * at the resourceVersion already held, or a deletion of one never seen).
   */
  apply(type: string, object: KubeObject): CacheEvent | undefined {
    const key = keyOf(object.metadata.namespace, object.metadata.name);
    const held = this.objects.get(key);
    if (type === 'DELETED') {
      if (!held) return undefined;
      this.objects.delete(key);
      this.snapshot = undefined;
      return { type: 'DELETED', object: this.compact(object) };
    }
    if (type !== 'ADDED' && type !== 'MODIFIED') return undefined;
    if (
      held &&
      held.metadata.resourceVersion === object.metadata.resourceVersion
    ) {
      return undefined;
    }
    const kept = this.compact(object);
    this.objects.set(key, kept);
    this.snapshot = undefined;
    return held
      ? { type: 'MODIFIED', object: kept, previous: held }
      : { type: 'ADDED', object: kept };
  }

  /**
   * Replaces everything with a full list (after a 410 Gone, a restart or a
   * resync) and returns what changed since: objects new, changed and gone.
   */
  replace(objects: KubeObject[]): CacheEvent[] {
    const events: CacheEvent[] = [];
    const listed = new Set<string>();
    for (const object of objects) {
      listed.add(keyOf(object.metadata.namespace, object.metadata.name));
      const event = this.apply('MODIFIED', object);
      if (event) events.push(event);
    }
    for (const [key, object] of this.objects) {
      if (listed.has(key)) continue;
      this.objects.delete(key);
      this.snapshot = undefined;
      events.push({ type: 'DELETED', object });
    }
    return events;
  }
}
