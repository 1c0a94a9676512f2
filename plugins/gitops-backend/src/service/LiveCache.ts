import { LoggerService } from '@backstage/backend-plugin-api';
import { NotFoundError, stringifyError } from '@backstage/errors';
import {
  apiVersionOf,
  APPLICATION_GVK,
  CacheEvent,
  Informer,
  InformerKind,
  InformerOptions,
  InventoryEntry,
  keepsPayload,
  KubeObject,
  LABEL_APP_NAME,
  LABEL_APP_NAMESPACE,
  labelMatcher,
  ObjectRef,
} from '@gitops-workflow/plugin-gitops-node';
import type { ClusterService } from './ClusterService';
import type { LiveObjects } from './resourceTree';

/** A change one of the cache's informers saw. */
export interface LiveChange {
  cluster: string;
  /**
   * Which mirror saw it: the cluster's Applications, the objects of a kind
   * that Applications applied (`inventory`), or everything of a kind in one
   * namespace (`namespace`, e.g. the Pods a resource tree shows).
   */
  source: 'applications' | 'inventory' | 'namespace';
  event: CacheEvent;
}

/** What reads of Applications need from the cache; see {@link LiveCache}. */
export interface ApplicationCache {
  /**
   * The Applications of a cluster as last seen (the same array until one
   * changes); undefined until they were listed once.
   */
  applications(cluster: string): readonly KubeObject[] | undefined;
  /** One Application (`object` undefined: there is none); undefined until they were listed once. */
  application(
    cluster: string,
    namespace: string,
    name: string,
  ): { object?: KubeObject } | undefined;
  /** Why the cluster's Applications may be out of date (its watch is failing), while it lasts. */
  applicationsError(cluster: string): Error | undefined;
}

export interface LiveCacheOptions {
  clusters: ClusterService;
  logger: LoggerService;
  /** Tuning of every informer. */
  informer?: Pick<
    InformerOptions,
    'watchSeconds' | 'resyncMs' | 'listTimeoutMs' | 'backoff'
  >;
  /** How long a namespace's mirror of a kind lives without being read. Default 10 min. */
  idleMs?: number;
}

interface Mirror {
  informer: Informer;
  source: LiveChange['source'];
  usedAt: number;
}

/**
 * The clusters' objects as informers mirror them, so the views read memory
 * instead of asking the API servers on every request: every cluster's
 * Applications, the kinds the inventories hold (only objects carrying an
 * Application's `app.oam.dev/name` label), and, on demand, a kind in one
 * namespace (Pods and ReplicaSets for a resource tree; dropped once unread
 * for `idleMs`). A read whose mirror has not listed yet (just started, or
 * the cluster unreachable since) is read live instead, as before.
 */
export class LiveCache implements LiveObjects, ApplicationCache {
  private readonly mirrors = new Map<string, Mirror>();
  private readonly listeners = new Set<(change: LiveChange) => void>();
  private sweeper?: NodeJS.Timeout;
  private stopped = false;

  constructor(private readonly options: LiveCacheOptions) {}

  /** Starts mirroring every cluster's Applications and these kinds (e.g. the store's {@link GitopsStore.inventoryKinds}). */
  start(kinds: Array<InformerKind & { cluster: string }>): void {
    const { clusters } = this.options;
    for (const { name } of clusters.configs)
      this.mirror(name, APPLICATION_GVK, 'applications');
    for (const { cluster, ...kind } of kinds) {
      if (clusters.has(cluster)) this.mirror(cluster, kind, 'inventory');
    }
    const idleMs = this.options.idleMs ?? 10 * 60_000;
    this.sweeper = setInterval(
      () => this.sweep(idleMs),
      Math.min(idleMs, 60_000),
    );
    this.sweeper.unref();
  }

  /** Mirrors the kinds of these inventories too (a no-op for kinds already mirrored). */
  watchInventories(inventories: Record<string, InventoryEntry[]>): void {
    for (const [cluster, entries] of Object.entries(inventories)) {
      if (!this.options.clusters.has(cluster)) continue;
      for (const entry of entries) this.mirror(cluster, entry, 'inventory');
    }
  }

  /** Ends every watch; reads afterwards go to the API servers. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.sweeper);
    const mirrors = [...this.mirrors.values()];
    this.mirrors.clear();
    await Promise.all(mirrors.map(m => m.informer.stop()));
  }

  /** Tells `listener` of every change any mirror sees; returns the unsubscribe. */
  subscribe(listener: (change: LiveChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  applications(cluster: string): readonly KubeObject[] | undefined {
    const informer = this.synced(cluster, APPLICATION_GVK, 'applications');
    return informer?.list();
  }

  application(
    cluster: string,
    namespace: string,
    name: string,
  ): { object?: KubeObject } | undefined {
    const informer = this.synced(cluster, APPLICATION_GVK, 'applications');
    return informer && { object: informer.get(namespace, name) };
  }

  applicationsError(cluster: string): Error | undefined {
    const mirror = this.mirrors.get(
      mirrorKey(cluster, APPLICATION_GVK, 'applications'),
    );
    const error = mirror?.informer.status.error;
    // A cluster without the Application CRD simply has no Applications.
    return error instanceof NotFoundError ? undefined : error;
  }

  /** One object an Application applied: from the cache once its kind is mirrored, else read live. */
  async get(cluster: string, ref: ObjectRef): Promise<KubeObject | undefined> {
    const informer = this.synced(cluster, ref, 'inventory');
    if (!informer) return this.options.clusters.client(cluster).get(ref);
    return findObject(informer, ref);
  }

  /**
   * One object an Application applied, as its mirror last saw it; `null`
   * when the mirror is current and holds none of that name (an object
   * nobody applied may still exist: the mirror only sees Applications'
   * objects); undefined when the mirror cannot tell: it does not hold the
   * object whole (Secrets' and ConfigMaps' payload is never cached), has
   * not listed yet or is failing (so it may be out of date). Then the caller
   * reads it live.
   */
  peek(cluster: string, ref: ObjectRef): KubeObject | null | undefined {
    const informer = this.mirrors.get(
      mirrorKey(cluster, ref, 'inventory'),
    )?.informer;
    if (!informer?.synced || informer.status.error) return undefined;
    const object = findObject(informer, ref);
    if (!object) return null;
    if (!keepsPayload({ apiVersion: apiVersionOf(ref), kind: ref.kind }))
      return undefined;
    // The pass may change what it is handed; the cache's copy stays as seen.
    return structuredClone(object);
  }

  /** The objects of a kind in a namespace matching a label selector: from the namespace's mirror once it has listed, else live. */
  async list(
    cluster: string,
    kind: InformerKind,
    options: { namespace: string; labelSelector: string },
  ): Promise<KubeObject[]> {
    const matches = labelMatcher(options.labelSelector);
    const informer =
      matches && this.synced(cluster, kind, 'namespace', options.namespace);
    if (!informer) {
      return this.options.clusters.client(cluster).list(kind, options);
    }
    return informer
      .list(options.namespace)
      .filter(object => matches(object.metadata.labels));
  }

  /** The mirror's informer when it has listed; starts the mirror when there is none. */
  private synced(
    cluster: string,
    kind: InformerKind,
    source: LiveChange['source'],
    namespace?: string,
  ): Informer | undefined {
    const mirror = this.mirror(cluster, kind, source, namespace);
    if (!mirror?.informer.synced) return undefined;
    mirror.usedAt = Date.now();
    return mirror.informer;
  }

  private mirror(
    cluster: string,
    kind: InformerKind,
    source: LiveChange['source'],
    namespace?: string,
  ): Mirror | undefined {
    if (this.stopped) return undefined;
    const key = mirrorKey(cluster, kind, source, namespace);
    const existing = this.mirrors.get(key);
    if (existing) return existing;
    const { logger } = this.options;
    // The last failure logged: a watch failing the same way for hours logs it once.
    let logged: string | undefined;
    const informer = new Informer(this.options.clusters.client(cluster), {
      ...this.options.informer,
      kind: { group: kind.group, version: kind.version, kind: kind.kind },
      namespace,
      // Only what Applications applied: not every object of the kind in the cluster.
      labelSelector: source === 'inventory' ? LABEL_APP_NAME : undefined,
      onError: error => {
        const message = stringifyError(error);
        if (logged === message) return;
        logged = message;
        const text = `Mirroring ${informer.description} of cluster "${cluster}" failed; reads fall back to the API server until it has listed, then show what was last seen, and it retries: ${message}`;
        // A kind a cluster does not serve is normal (a target without the CRD).
        if (error instanceof NotFoundError) logger.debug(text);
        else logger.warn(text);
      },
    });
    const mirror: Mirror = { informer, source, usedAt: Date.now() };
    this.mirrors.set(key, mirror);
    informer.subscribe(event => {
      for (const listener of this.listeners)
        listener({ cluster, source, event });
    });
    informer.start();
    return mirror;
  }

  /** Stops the namespace mirrors nobody read for `idleMs`: the memory they hold goes with them. */
  private sweep(idleMs: number): void {
    const now = Date.now();
    for (const [key, mirror] of this.mirrors) {
      if (mirror.source !== 'namespace' || now - mirror.usedAt < idleMs)
        continue;
      this.mirrors.delete(key);
      mirror.informer.stop().catch(() => undefined);
    }
  }
}

/**
 * All objects of a kind are namespaced or none are: an inventory entry
 * naming a namespace for a cluster-scoped object still finds it.
 */
function findObject(
  informer: Informer,
  ref: ObjectRef,
): KubeObject | undefined {
  return (
    informer.get(ref.namespace, ref.name) ??
    (ref.namespace ? informer.get(undefined, ref.name) : undefined)
  );
}

function mirrorKey(
  cluster: string,
  kind: InformerKind,
  source: LiveChange['source'],
  namespace?: string,
): string {
  return `${cluster}|${kind.group}/${kind.version}/${kind.kind}|${source}|${
    namespace ?? ''
  }`;
}

/**
 * The Application whose views a change touches, as `namespace/name` in its
 * cluster: the Application itself, or the one whose `app.oam.dev/name`
 * labels the object carries (whose Applications live in `home`).
 */
export function applicationOf(
  change: LiveChange,
  home: string,
): { cluster: string; namespace: string; name: string } | undefined {
  const { object } = change.event;
  if (change.source === 'applications') {
    return {
      cluster: change.cluster,
      namespace: object.metadata.namespace ?? 'default',
      name: object.metadata.name,
    };
  }
  const labels = object.metadata.labels ?? {};
  const name = labels[LABEL_APP_NAME];
  const namespace = labels[LABEL_APP_NAMESPACE] ?? object.metadata.namespace;
  return name && namespace ? { cluster: home, namespace, name } : undefined;
}
