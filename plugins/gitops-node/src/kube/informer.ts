import {
  ConflictError,
  NotFoundError,
  ServiceUnavailableError,
} from '@backstage/errors';
import { withRequestSignal, type KubeClient } from './client';
import { type CacheEvent, compactObject, ObjectCache } from './objectCache';
import { apiVersionOf, type KubeObject, type ObjectRef } from './objects';

/** The kind an informer mirrors. */
export type InformerKind = Pick<ObjectRef, 'group' | 'version' | 'kind'>;

export interface InformerOptions {
  kind: InformerKind;
  /** Only this namespace; all when absent. */
  namespace?: string;
  /** Only objects with these labels, e.g. `app.oam.dev/name` (having it at all). */
  labelSelector?: string;
  /**
   * How long each watch asks the server to stay open (`timeoutSeconds`);
   * the next one continues from the last resourceVersion seen, so renewing
   * costs one request and no list. Default 300 s.
   */
  watchSeconds?: number;
  /**
   * A full re-list this long after the last one, even when no watch
   * failed: a safety net, so a change the cache somehow missed does not
   * stay wrong for ever. Default 30 min.
   */
  resyncMs?: number;
  /** Deadline of one full list, every page included. Default 60 s. */
  listTimeoutMs?: number;
  /** The wait after a failure, doubled each time in a row up to `maxMs`. Default 1 s to 60 s. */
  backoff?: { initialMs: number; maxMs: number };
  /** What the cache keeps of each object (default {@link compactObject}). */
  compact?: (object: KubeObject) => KubeObject;
  /** Told each time listing or watching fails, before the informer tries again. */
  onError?: (error: Error) => void;
}

/** Where an informer is: reading, or waiting to try again after `error`. */
export interface InformerState {
  /** Listed at least once: reads answer from the cache. */
  synced: boolean;
  /** The resourceVersion the cache is at. */
  resourceVersion?: string;
  /** The last failure, until a list or watch succeeds again. */
  error?: Error;
  /** Full lists so far (the first, then after a 410 Gone or a resync). */
  lists: number;
  /** Watches started so far: each renewal is one request, and no list. */
  watches: number;
}

const describeKind = (kind: InformerKind) =>
  `${kind.kind} (${kind.group ? `${kind.group}/` : ''}${kind.version})`;

/**
 * An informer, as client-go's: a list, then a watch from the list's
 * resourceVersion, kept in an {@link ObjectCache} that answers reads with no
 * request to the API server. The watch is renewed from the last
 * resourceVersion seen (bookmarks included) whenever the server ends it;
 * a 410 Gone (the history was compacted past it) re-lists; failures (the API
 * server restarting, a network cut) retry with exponential backoff, then
 * continue where they left off. A kind the cluster does not serve is an
 * empty, synced cache, looked up again at the longest backoff.
 */
export class Informer {
  private readonly cache: ObjectCache;
  private readonly listeners = new Set<(event: CacheEvent) => void>();
  private readonly stopping = new AbortController();
  private running?: Promise<void>;
  private readonly syncWaiters = new Set<() => void>();
  private readonly state: InformerState = {
    synced: false,
    lists: 0,
    watches: 0,
  };

  constructor(
    private readonly client: KubeClient,
    private readonly options: InformerOptions,
  ) {
    this.cache = new ObjectCache(options.compact ?? compactObject);
  }

  /** `Deployment (apps/v1) in default`, for messages. */
  get description(): string {
    const { kind, namespace, labelSelector } = this.options;
    return `${describeKind(kind)}${namespace ? ` in ${namespace}` : ''}${
      labelSelector ? ` labelled ${labelSelector}` : ''
    }`;
  }

  /** Starts listing and watching; a no-op once started. */
  start(): this {
    // Every request it makes (discovery included) ends when it stops, and
    // none belongs to whatever pass or request happened to start it.
    this.running ??= withRequestSignal(this.stopping.signal, () => this.run());
    return this;
  }

  /** Ends the watch and every retry; resolves once nothing is left running. */
  async stop(): Promise<void> {
    this.stopping.abort(new Error('The informer was stopped'));
    for (const wake of this.syncWaiters) wake();
    await this.running;
  }

  get synced(): boolean {
    return this.state.synced;
  }

  /** A copy of where the informer is. */
  get status(): InformerState {
    return { ...this.state };
  }

  /**
   * Resolves true once synced, false when `timeoutMs` passes or the
   * informer stops first.
   */
  waitForSync(timeoutMs: number): Promise<boolean> {
    if (this.state.synced) return Promise.resolve(true);
    return new Promise(resolve => {
      let timer: NodeJS.Timeout | undefined = undefined;
      const done = () => {
        clearTimeout(timer);
        this.syncWaiters.delete(done);
        resolve(this.state.synced);
      };
      timer = setTimeout(done, timeoutMs);
      this.syncWaiters.add(done);
    });
  }

  get(namespace: string | undefined, name: string): KubeObject | undefined {
    return this.cache.get(namespace, name);
  }

  list(namespace?: string): readonly KubeObject[] {
    return this.cache.list(namespace);
  }

  get size(): number {
    return this.cache.size;
  }

  /** Calls `listener` with every change from now on; returns the unsubscribe. */
  subscribe(listener: (event: CacheEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: CacheEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.options.onError?.(error as Error);
      }
    }
  }

  private markSynced(): void {
    if (this.state.synced) return;
    this.state.synced = true;
    for (const wake of this.syncWaiters) wake();
  }

  private async run(): Promise<void> {
    const { signal } = this.stopping;
    const backoff = this.options.backoff ?? { initialMs: 1000, maxMs: 60_000 };
    const resyncMs = this.options.resyncMs ?? 30 * 60_000;
    let failures = 0;
    let listedAt = 0;
    const rest = (ms: number) =>
      new Promise<void>(resolve => {
        const timer = setTimeout(done, ms);
        function done() {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          resolve();
        }
        signal.addEventListener('abort', done);
      });
    const delay = () =>
      // Jitter, so informers that failed together do not retry together.
      Math.min(backoff.initialMs * 2 ** failures, backoff.maxMs) *
      (0.75 + Math.random() * 0.5);

    while (!signal.aborted) {
      let listing = false;
      try {
        if (
          this.state.resourceVersion === undefined ||
          Date.now() - listedAt >= resyncMs
        ) {
          listing = true;
          if (!(await this.relist())) {
            // No such kind (yet): nothing to hold, and a CRD may come later.
            await rest(backoff.maxMs);
            continue;
          }
          listing = false;
          listedAt = Date.now();
        }
        const startedAt = Date.now();
        let events = 0;
        this.state.watches++;
        const version = await this.client.watch(
          this.options.kind,
          {
            namespace: this.options.namespace,
            labelSelector: this.options.labelSelector,
            resourceVersion: this.state.resourceVersion,
            timeoutSeconds: this.options.watchSeconds ?? 300,
            signal,
          },
          (type, object) => {
            events++;
            // Kept as it comes: a watch cut off mid-way continues from here.
            const seen = object.metadata.resourceVersion;
            if (typeof seen === 'string') this.state.resourceVersion = seen;
            const event = this.cache.apply(type, object);
            if (event) this.emit(event);
          },
        );
        if (version !== undefined) this.state.resourceVersion = version;
        this.state.error = undefined;
        failures = 0;
        // A watch that ends at once with nothing to say (a proxy closing it,
        // say) must not become a tight loop of requests.
        if (events === 0 && Date.now() - startedAt < 1000 && !signal.aborted)
          await rest(delay());
      } catch (error) {
        if (signal.aborted) break;
        const retryAtOnce = error instanceof ConflictError && !listing;
        if (error instanceof ConflictError || error instanceof NotFoundError) {
          // 410 Gone: the resourceVersion is older than the server keeps;
          // 404: the kind went away (its CRD deleted). Either way, list again,
          // the second time asking discovery afresh.
          this.state.resourceVersion = undefined;
          this.client.invalidateDiscovery(
            apiVersionOf({ ...this.options.kind, name: '' }),
          );
        }
        if (retryAtOnce) continue;
        this.state.error = error as Error;
        this.options.onError?.(error as Error);
        await rest(delay());
        failures++;
      }
    }
  }

  /**
   * Lists everything within the deadline; what changed since the cache's
   * last state goes to the listeners. False when the cluster does not serve
   * the kind: the cache is then empty, and synced.
   */
  private async relist(): Promise<boolean> {
    const { kind } = this.options;
    const timeoutMs = this.options.listTimeoutMs ?? 60_000;
    const deadline = AbortSignal.timeout(timeoutMs);
    const signal = AbortSignal.any([this.stopping.signal, deadline]);
    const overdue = (error: unknown) =>
      deadline.aborted && !this.stopping.signal.aborted
        ? new ServiceUnavailableError(
            `Listing ${this.description} took longer than ${timeoutMs} ms`,
          )
        : error;
    try {
      await withRequestSignal(signal, () => this.client.resource(kind));
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw overdue(error);
      this.state.error = error;
      this.options.onError?.(error);
      this.state.resourceVersion = undefined;
      for (const event of this.cache.replace([])) this.emit(event);
      this.markSynced();
      return false;
    }
    let listed: Awaited<ReturnType<KubeClient['listVersioned']>>;
    try {
      listed = await this.client.listVersioned(kind, {
        namespace: this.options.namespace,
        labelSelector: this.options.labelSelector,
        signal,
      });
    } catch (error) {
      throw overdue(error);
    }
    this.state.lists++;
    this.state.resourceVersion = listed.resourceVersion;
    this.state.error = undefined;
    for (const event of this.cache.replace(listed.items)) this.emit(event);
    this.markSynced();
    return true;
  }
}
