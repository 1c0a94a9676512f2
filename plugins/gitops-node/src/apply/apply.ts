import { createHash } from 'node:crypto';
import {
  ConflictError,
  InputError,
  NotFoundError,
  ServiceUnavailableError,
} from '@backstage/errors';
import {
  describeRef,
  objectKey,
  refKey,
  refOf,
  type ObjectRef,
} from '../kube/objects';
import type { KubeObject } from '../kube/objects';
import { withoutWriterMetadata } from '../kube/objectCache';
import { compareBytes } from '../util/bytes';
import { mapLimited } from '../util/limit';
import type { KubeClient } from '../kube/client';

export const DEFAULT_FIELD_MANAGER = 'gitops-backstage';

/** From this many objects of one kind in one namespace on, one list beats a get each. */
const LIST_THRESHOLD = 16;

/** One applied object, with the hash of what we asked for (tells Git changes from drift). */
export interface InventoryEntry extends ObjectRef {
  hash: string;
  /** The group the object belongs to (the value of the owner's `groupLabel`, e.g. a component). */
  component?: string;
}

/**
 * Who the objects belong to. Apply knows no application model: the owner
 * says which labels mark its objects and how to tell whose a live object is.
 */
export interface ObjectOwner {
  /** The owner in words, e.g. `Application default/team-b`; live owners are compared by it. */
  id: string;
  /** Stamped on every object applied. */
  labels: Record<string, string>;
  /** For namespaced objects that name none. */
  namespace: string;
  /** The `id` of whoever owns a live object, undefined when nobody does. */
  ownerOf(object: KubeObject): string | undefined;
  /** The label whose value the inventory keeps as each entry's `component`. */
  groupLabel?: string;
}

export interface ApplyOptions {
  /** Whose objects these are: stamped as labels, checked against live owners. */
  owner: ObjectOwner;
  /** The inventory the last apply returned; pruning and drift detection read it. */
  inventory?: InventoryEntry[];
  /**
   * Delete what the previous inventory has and this set does not (default
   * true); a function decides per entry (e.g. a component with `prune: false`).
   */
  prune?: boolean | ((entry: InventoryEntry) => boolean);
  /**
   * KubeVela's apply-once: an object whose desired state did not change since
   * the last apply is left as it is, even when edited in the cluster.
   */
  allowDrift?: boolean;
  /**
   * KubeVela's apply-once `rules`: the paths of an object (e.g.
   * `spec.replicas`) whose live values are kept when someone changed them in
   * the cluster; everything else is still corrected.
   */
  driftPaths?: (object: KubeObject) => string[];
  /** Plan only: report what would change, write nothing. */
  dryRun?: boolean;
  fieldManager?: string;
  /** Requests in flight at once (default 16). */
  concurrency?: number;
  /** How long to wait for a new CRD to be Established (default 60 s). */
  crdTimeoutMs?: number;
  /**
   * A recent copy of a live object, from a watch cache, read instead of
   * asking the API server. `null`: the cache is current and holds no object
   * of that name that an Application applied, so it is taken to be new and
   * not read first; should the dry-run find it exists after all (someone else
   * made it, or the cache lags), it is read then and whose it is checked.
   * `undefined`: the cache cannot tell; the object is read.
   */
  cached?: (ref: ObjectRef) => KubeObject | null | undefined;
}

export type ChangeAction = 'created' | 'configured' | 'unchanged' | 'pruned';

export interface ObjectChange {
  ref: ObjectRef;
  action: ChangeAction;
  /** The live object had been edited outside Git (its desired state had not changed). */
  drifted?: boolean;
  /** Up to ten field paths that differed, e.g. `spec.replicas`. */
  changedFields?: string[];
  /**
   * With `dryRun`, for an object created or configured: the live object
   * (absent when it would be created) and the API server's dry-run result.
   */
  objects?: { before?: KubeObject; after: KubeObject };
}

export interface ApplyResult {
  inventory: InventoryEntry[];
  changes: ObjectChange[];
  drifted: ObjectRef[];
  /** Writes made (applies and deletes); zero for an unchanged set. */
  writes: number;
  /** The objects as they are in the cluster after the apply (with `dryRun`, as they would be), by the `objectKey` of the object passed in. */
  live: Map<string, KubeObject>;
}

interface Planned {
  /** `objectKey` of the object as the caller passed it, for `ApplyResult.live`. */
  sourceKey: string;
  desired: KubeObject;
  ref: ObjectRef;
  key: string;
  hash: string;
  live?: KubeObject;
  /** Not read: the cache says no Application's object has its name (see `ApplyOptions.cached`). */
  presumedNew?: boolean;
}

export function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => compareBytes(a, b));
    return `{${entries
      .map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

function hashOf(object: KubeObject): string {
  return createHash('sha256')
    .update(stableStringify(object))
    .digest('hex')
    .slice(0, 16);
}

/** What an apply can change: everything but server bookkeeping and status. */
export function comparable(object: KubeObject): Record<string, unknown> {
  const { status: _status, metadata, ...rest } = object;
  // Also what a watch cache leaves out, so a cached copy compares alike.
  const {
    resourceVersion: _r,
    generation: _g,
    creationTimestamp: _c,
    uid: _u,
    selfLink: _s,
    ...meta
  } = withoutWriterMetadata(metadata) as Record<string, unknown>;
  return { ...rest, metadata: meta };
}

/** Field paths where two JSON values differ (at most `limit`). */
function differences(
  a: unknown,
  b: unknown,
  path = '',
  out: string[] = [],
  limit = 10,
): string[] {
  if (out.length >= limit) return out;
  if (stableStringify(a) === stableStringify(b)) return out;
  const bothMaps =
    a &&
    b &&
    typeof a === 'object' &&
    typeof b === 'object' &&
    !Array.isArray(a) &&
    !Array.isArray(b);
  if (!bothMaps) {
    out.push(path || '.');
    return out;
  }
  const keys = new Set([
    ...Object.keys(a as object),
    ...Object.keys(b as object),
  ]);
  for (const key of [...keys].sort()) {
    differences(
      (a as Record<string, unknown>)[key],
      (b as Record<string, unknown>)[key],
      path ? `${path}.${key}` : key,
      out,
      limit,
    );
  }
  return out;
}

/**
 * True when `live` already holds every value of `desired`: maps may have
 * more keys (defaults, others' fields), lists must match item by item.
 */
/** `spec.template.spec.containers[0].image` → `['spec', 'template', 'spec', 'containers', 0, 'image']`. */
function pathSegments(path: string): Array<string | number> {
  return [...path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)].map(m =>
    m[2] !== undefined ? Number(m[2]) : m[1],
  );
}

/**
 * Makes `desired` hold the live value at `path`, where both have one, so the
 * apply leaves it as someone set it. The hash of what Git asked for was taken
 * before, so a drift there is not mistaken for a change in Git.
 */
function keepLiveValue(
  desired: KubeObject,
  live: KubeObject,
  path: string,
): void {
  const segments = pathSegments(path);
  let d: any = desired;
  let l: any = live;
  for (const segment of segments.slice(0, -1)) {
    d = d?.[segment];
    l = l?.[segment];
    if (
      d === null ||
      typeof d !== 'object' ||
      l === null ||
      typeof l !== 'object'
    )
      return;
  }
  const last = segments[segments.length - 1];
  if (last !== undefined && l[last] !== undefined && d[last] !== undefined) {
    d[last] = structuredClone(l[last]);
  }
}

function holds(live: unknown, desired: unknown): boolean {
  if (Array.isArray(desired)) {
    return (
      Array.isArray(live) &&
      live.length === desired.length &&
      desired.every((d, i) => holds(live[i], d))
    );
  }
  if (desired && typeof desired === 'object') {
    if (!live || typeof live !== 'object' || Array.isArray(live)) return false;
    return Object.entries(desired).every(
      ([k, d]) =>
        d === undefined || holds((live as Record<string, unknown>)[k], d),
    );
  }
  return live === desired;
}

/** Namespaces and CRDs go first: other objects live in them or are instances of them. */
const isFirstStageRef = (ref: ObjectRef) =>
  (ref.kind === 'Namespace' && ref.group === '') ||
  (ref.kind === 'CustomResourceDefinition' &&
    ref.group === 'apiextensions.k8s.io');
const isFirstStage = (object: KubeObject) => isFirstStageRef(refOf(object));

/** Waits until the API server serves a CRD just applied, then forgets stale discovery. */
export async function waitForCrd(
  client: KubeClient,
  crd: KubeObject,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const live = await client.get(refOf(crd));
    const conditions =
      (live?.status as { conditions?: Array<{ type: string; status: string }> })
        ?.conditions ?? [];
    if (conditions.some(c => c.type === 'Established' && c.status === 'True')) {
      const spec = crd.spec as {
        group: string;
        names: { kind: string };
        versions?: Array<{ name: string }>;
      };
      // Established can precede discovery by a moment, longer on a busy
      // server: wait until discovery serves the kind, so its objects apply.
      for (const version of spec.versions ?? []) {
        for (;;) {
          client.invalidateDiscovery(`${spec.group}/${version.name}`);
          const served = await client
            .resource({
              group: spec.group,
              version: version.name,
              kind: spec.names.kind,
            })
            .then(
              () => true,
              error => {
                if (error instanceof NotFoundError && Date.now() < deadline)
                  return false;
                throw error;
              },
            );
          if (served) break;
          await new Promise(resolve => setTimeout(resolve, 200));
        }
      }
      return;
    }
    if (Date.now() > deadline) {
      throw new ServiceUnavailableError(
        `CustomResourceDefinition ${
          crd.metadata.name
        } was not Established within ${timeoutMs / 1000}s`,
      );
    }
    await new Promise(resolve => setTimeout(resolve, 200));
  }
}

/** Namespaces and CRDs last: deleting them first would take their contents along unseen. */
function lastStageLast<T extends ObjectRef>(entries: T[]): T[] {
  return [...entries].sort(
    (a, b) => Number(isFirstStageRef(a)) - Number(isFirstStageRef(b)),
  );
}

function refOfEntry(entry: InventoryEntry): ObjectRef {
  const { hash: _hash, component: _component, ...ref } = entry;
  return ref;
}

/**
 * Deletes one inventoried object if it is still the owner's: `gone` when it
 * is not there (or its kind is not served any more), `{ left }` with the
 * reason when someone else owns it now (or nobody does). Errors of the API
 * server are thrown.
 */
async function pruneOne(
  client: KubeClient,
  entry: InventoryEntry,
  owner: ObjectOwner,
  dryRun?: boolean,
): Promise<'deleted' | 'gone' | { left: string }> {
  const current = await client.get(entry).catch(error => {
    if (error instanceof NotFoundError) return undefined; // its kind is gone (CRD removed)
    throw error;
  });
  if (!current) return 'gone';
  const liveOwner = owner.ownerOf(current);
  if (liveOwner !== owner.id) {
    return {
      left: liveOwner
        ? `it belongs to ${liveOwner} now`
        : `it no longer carries ${owner.id}'s labels`,
    };
  }
  if (!dryRun) await client.delete(entry);
  return 'deleted';
}

/** An object a delete did not remove, and why, in words. */
export interface ObjectLeft {
  entry: InventoryEntry;
  reason: string;
}

export interface DeleteOptions {
  owner: ObjectOwner;
  /**
   * How long to wait for deleted objects to be gone (default 1 s); what is
   * still there is reported. Short: a pass holds its shard meanwhile, and
   * objects without finalizers go at once; the next pass looks again.
   */
  waitMs?: number;
  concurrency?: number;
}

export interface DeleteResult {
  /** One `pruned` change per object deleted. */
  changes: ObjectChange[];
  writes: number;
  /** Still there when the wait ended (finalizers, an error): try again later. */
  remaining: ObjectLeft[];
  /** Left alone for good: another owner's now, or nobody's. */
  skipped: ObjectLeft[];
}

/**
 * Deletes every inventoried object that is still the owner's (others are
 * skipped, never deleted), the rest before Namespaces and CRDs, then waits
 * until they are gone. Nothing throws per object: an object that could not
 * be deleted, or is held by finalizers, is reported in `remaining` with the
 * reason, so the caller can say what is stuck and try again.
 */
export async function deleteObjects(
  client: KubeClient,
  inventory: InventoryEntry[],
  options: DeleteOptions,
): Promise<DeleteResult> {
  const concurrency = options.concurrency ?? 16;
  const result: DeleteResult = {
    changes: [],
    writes: 0,
    remaining: [],
    skipped: [],
  };
  const deleted: InventoryEntry[] = [];
  const sorted = lastStageLast(inventory);
  for (const stage of [
    sorted.filter(e => !isFirstStageRef(e)),
    sorted.filter(isFirstStageRef),
  ]) {
    await mapLimited(stage, concurrency, async entry => {
      try {
        const outcome = await pruneOne(client, entry, options.owner);
        if (outcome === 'deleted') {
          result.writes++;
          result.changes.push({ ref: refOfEntry(entry), action: 'pruned' });
          deleted.push(entry);
        } else if (outcome !== 'gone') {
          result.skipped.push({ entry, reason: outcome.left });
        }
      } catch (error) {
        result.remaining.push({
          entry,
          reason: `could not delete it: ${(error as Error).message}`,
        });
      }
    });
  }
  // Most objects are gone at once; finalizers (or a busy garbage collector) take longer.
  const deadline = Date.now() + (options.waitMs ?? 1_000);
  let waiting = deleted;
  for (;;) {
    const still = await mapLimited(waiting, concurrency, async entry => ({
      entry,
      live: await client
        .get(entry)
        .catch(error =>
          error instanceof NotFoundError ? undefined : ({ error } as const),
        ),
    }));
    waiting = still.filter(s => s.live).map(s => s.entry);
    if (waiting.length === 0 || Date.now() >= deadline) {
      for (const { entry, live } of still) {
        if (!live) continue;
        let reason = 'deleted, still terminating';
        if ('error' in live) {
          reason = `could not check it is gone: ${
            (live.error as Error).message
          }`;
        } else {
          const finalizers = live.metadata.finalizers as string[] | undefined;
          if (finalizers?.length)
            reason = `deleted, waiting for its finalizers ${finalizers.join(
              ', ',
            )}`;
        }
        result.remaining.push({ entry, reason });
      }
      return result;
    }
    await new Promise(resolve => setTimeout(resolve, 200));
  }
}

/**
 * Applies a set of objects for one Application with server-side apply:
 * Namespaces and CRDs first, every object checked for ownership and
 * dry-run-applied before any write in its stage, only objects whose dry-run
 * result differs from the live object written, then what left the set pruned.
 * An unchanged set makes zero writes; an object applied unchanged last time
 * whose live state still holds every desired value skips the dry-run too.
 *
 * Applies are forced: Git is the source of truth, so a field someone changed
 * with kubectl is taken back (that is drift correction). Objects of another
 * Application are not forced over: its ownership labels stop us before any
 * write, with a ConflictError naming both.
 */
/** Keeps the live values of drift paths, and refuses an object another owner has. */
function checkLive(
  item: Planned,
  owner: ObjectOwner,
  options: ApplyOptions,
): void {
  if (!item.live) return;
  for (const path of options.driftPaths?.(item.desired) ?? []) {
    keepLiveValue(item.desired, item.live, path);
  }
  const liveOwner = owner.ownerOf(item.live);
  if (liveOwner && liveOwner !== owner.id) {
    throw new ConflictError(
      `${describeRef(item.ref)} belongs to ${liveOwner}; ${
        owner.id
      } cannot take it over`,
    );
  }
}

export async function applyObjects(
  client: KubeClient,
  objects: KubeObject[],
  options: ApplyOptions,
): Promise<ApplyResult> {
  const fieldManager = options.fieldManager ?? DEFAULT_FIELD_MANAGER;
  const concurrency = options.concurrency ?? 16;
  const { owner } = options;
  const previous = new Map(
    (options.inventory ?? []).map(entry => [refKey(entry), entry]),
  );
  const definedCrds = new Set(
    objects
      .filter(isFirstStage)
      .filter(o => o.kind === 'CustomResourceDefinition')
      .map(o => {
        const spec = o.spec as { group?: string; names?: { kind?: string } };
        return `${spec?.group}/${spec?.names?.kind}`;
      }),
  );

  // Resolve kinds and scope first: an unknown kind anywhere fails before any write.
  const planned: Planned[] = [];
  const seen = new Set<string>();
  for (const source of objects) {
    const desired = structuredClone(source);
    desired.metadata.labels = {
      ...desired.metadata.labels,
      ...owner.labels,
    };
    const ref = refOf(desired);
    let namespaced = true;
    try {
      namespaced = (await client.resource(ref)).namespaced;
    } catch (error) {
      if (
        !(error instanceof NotFoundError) ||
        !definedCrds.has(`${ref.group}/${ref.kind}`)
      ) {
        throw new InputError(
          `${describeRef(ref)}: ${(error as Error).message}`,
        );
      }
    }
    if (!namespaced) delete desired.metadata.namespace;
    else if (!desired.metadata.namespace)
      desired.metadata.namespace = owner.namespace;
    const finalRef = refOf(desired);
    const key = refKey(finalRef);
    if (seen.has(key))
      throw new InputError(`${describeRef(finalRef)} is in the set twice`);
    seen.add(key);
    planned.push({
      sourceKey: objectKey(source),
      desired,
      ref: finalRef,
      key,
      hash: hashOf(desired),
    });
  }

  // Live state and ownership, for every object before any write: from the
  // watch cache when it holds the object, else read. Many objects of one kind
  // in one namespace are read with one paginated list, not N gets.
  /** Whose live state is known without a get: from the cache or a list. */
  const resolved = new Set<Planned>();
  // A set that creates Namespaces or CRDs writes them before the rest is
  // dry-run: every object's owner must be known before that, so all are read.
  const oneStage = !planned.some(p => isFirstStage(p.desired));
  for (const item of planned) {
    const cached = options.cached?.(item.ref);
    if (cached) item.live = cached;
    else if (cached === null && oneStage) item.presumedNew = true;
    else continue;
    resolved.add(item);
  }
  const groups = new Map<string, Planned[]>();
  for (const item of planned.filter(p => !resolved.has(p))) {
    const key = `${item.ref.group}/${item.ref.version}/${item.ref.kind}/${
      item.ref.namespace ?? ''
    }`;
    groups.set(key, [...(groups.get(key) ?? []), item]);
  }
  for (const items of groups.values()) {
    if (items.length < LIST_THRESHOLD) continue;
    const { group, version, kind, namespace } = items[0].ref;
    const existing = await client
      .list({ group, version, kind }, { namespace })
      .catch(error => {
        if (
          error instanceof NotFoundError &&
          definedCrds.has(`${group}/${kind}`)
        )
          return [];
        throw error;
      });
    const byName = new Map(existing.map(o => [o.metadata.name, o]));
    for (const item of items) {
      item.live = byName.get(item.ref.name);
      resolved.add(item);
    }
  }
  await mapLimited(planned, concurrency, async item => {
    if (!resolved.has(item)) {
      item.live = await client.get(item.ref).catch(error => {
        // A custom resource whose CRD is in this set and not installed yet cannot exist yet.
        if (
          error instanceof NotFoundError &&
          definedCrds.has(`${item.ref.group}/${item.ref.kind}`)
        )
          return undefined;
        throw error;
      });
    }
    checkLive(item, owner, options);
  });

  const changes: ObjectChange[] = [];
  const live = new Map<string, KubeObject>();
  let writes = 0;
  for (const stage of [
    planned.filter(p => isFirstStage(p.desired)),
    planned.filter(p => !isFirstStage(p.desired)),
  ]) {
    if (stage.length === 0) continue;
    // Dry-run everything in the stage: any rejection means nothing in it is written.
    const decided = await mapLimited(stage, concurrency, async item => {
      // Fast path: what we applied last time is unchanged and the live object still
      // holds all of it, so server-side apply cannot change anything: no dry-run needed.
      // With allowDrift, an unchanged desired state is enough.
      if (
        item.live &&
        previous.get(item.key)?.hash === item.hash &&
        (options.allowDrift || holds(item.live, item.desired))
      ) {
        return { item, action: 'unchanged' as const, result: item.live };
      }
      // Undefined when planning a custom resource whose CRD this set would
      // install first: it cannot be dry-run before that, and would be created as given.
      const dryRun = async (): Promise<KubeObject | undefined> => {
        try {
          return await client.apply(item.desired, {
            fieldManager,
            dryRun: true,
          });
        } catch (error) {
          const e = error as Error;
          if (
            options.dryRun &&
            e instanceof NotFoundError &&
            definedCrds.has(`${item.ref.group}/${item.ref.kind}`)
          )
            return undefined;
          if (
            e instanceof InputError ||
            e instanceof NotFoundError ||
            e instanceof ConflictError
          ) {
            throw new InputError(
              `${describeRef(
                item.ref,
              )} was rejected by the API server: ${e.message.replace(
                /^PATCH \S+: /,
                '',
              )}`,
            );
          }
          throw error;
        }
      };
      let result = await dryRun();
      // Only an object that exists has a resourceVersion in a dry-run's answer.
      if (item.presumedNew && result?.metadata.resourceVersion) {
        item.live = await client.get(item.ref);
        checkLive(item, owner, options);
        if (item.live) result = await dryRun();
      }
      if (!result)
        return { item, action: 'created' as const, result: item.desired };
      if (!item.live) return { item, action: 'created' as const, result };
      const changedFields = differences(
        comparable(item.live),
        comparable(result),
      );
      if (changedFields.length === 0)
        return { item, action: 'unchanged' as const, result: item.live };
      return { item, action: 'configured' as const, result, changedFields };
    });
    const wrote = await mapLimited(decided, concurrency, async decision => {
      const { item } = decision;
      let current = decision.result;
      const write = decision.action !== 'unchanged' && !options.dryRun;
      if (write) current = await client.apply(item.desired, { fieldManager });
      live.set(item.sourceKey, current);
      const change: ObjectChange = { ref: item.ref, action: decision.action };
      if (options.dryRun && decision.action !== 'unchanged')
        change.objects = { before: item.live, after: current };
      if (decision.action === 'configured') {
        change.changedFields = decision.changedFields;
        // Same desired state as last time, yet the live object differs: someone edited it.
        if (previous.get(item.key)?.hash === item.hash) change.drifted = true;
      }
      changes.push(change);
      return write;
    });
    writes += wrote.filter(Boolean).length;
    if (!options.dryRun) {
      for (const item of stage.filter(
        i => i.desired.kind === 'CustomResourceDefinition',
      )) {
        await waitForCrd(client, item.desired, options.crdTimeoutMs ?? 60_000);
      }
    }
  }

  const prune = options.prune ?? true;
  if (prune !== false) {
    const stale = [...previous.values()].filter(
      entry => !seen.has(refKey(entry)) && (prune === true || prune(entry)),
    );
    for (const entry of lastStageLast(stale)) {
      const outcome = await pruneOne(client, entry, owner, options.dryRun);
      if (outcome !== 'deleted') continue;
      if (!options.dryRun) writes++;
      changes.push({ ref: refOfEntry(entry), action: 'pruned' });
    }
  }

  // Report in the order of application: Namespaces and CRDs, then the rest, then prunes.
  const applyOrder = [
    ...planned.filter(p => isFirstStage(p.desired)),
    ...planned.filter(p => !isFirstStage(p.desired)),
  ];
  const order = new Map(applyOrder.map((p, i) => [p.key, i]));
  changes.sort(
    (a, b) =>
      (order.get(refKey(a.ref)) ?? Infinity) -
      (order.get(refKey(b.ref)) ?? Infinity),
  );
  return {
    inventory: planned.map(p => {
      const entry: InventoryEntry = { ...p.ref, hash: p.hash };
      const component =
        owner.groupLabel && p.desired.metadata.labels?.[owner.groupLabel];
      if (component) entry.component = component;
      return entry;
    }),
    changes,
    drifted: changes.filter(c => c.drifted).map(c => c.ref),
    writes,
    live,
  };
}
