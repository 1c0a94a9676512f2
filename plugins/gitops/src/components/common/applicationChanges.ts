import {
  ApplicationRef,
  stringifyApplicationRef,
} from '@gitops-workflow/plugin-gitops-common';
import type { ApplicationChangeEvent, GitopsApi } from '../../api';

/** Told by the Application's change stream what to do. */
export interface ChangeListener {
  /** What the Application's page shows may have changed: read it again. */
  changed(): void;
  /** True while changes arrive by the stream; false while the page must poll. */
  streaming(live: boolean): void;
}

/** The first wait before opening a broken stream again; doubled each time up to a minute. */
const RETRY_MS = 5000;
const MAX_RETRY_MS = 60_000;

/**
 * One stream per Application per tab, however many parts of the page
 * listen: the first listener opens it, the last one to go closes it. A
 * stream that breaks or is refused is opened again, waiting longer each
 * time; meanwhile the listeners poll.
 */
class ChangeStream {
  private readonly listeners = new Set<ChangeListener>();
  private abort?: AbortController;
  private live = false;

  constructor(
    private readonly api: GitopsApi,
    private readonly ref: ApplicationRef,
    private readonly forget: () => void,
  ) {}

  add(listener: ChangeListener): void {
    this.listeners.add(listener);
    listener.streaming(this.live);
    if (!this.abort) this.run(new AbortController());
  }

  remove(listener: ChangeListener): void {
    this.listeners.delete(listener);
    if (this.listeners.size > 0) return;
    this.abort?.abort();
    this.forget();
  }

  private setLive(live: boolean): void {
    if (this.live === live) return;
    this.live = live;
    for (const listener of this.listeners) listener.streaming(live);
  }

  private readonly onEvent = (event: ApplicationChangeEvent) => {
    if (event === 'ready') {
      this.failures = 0;
      this.setLive(true);
    }
    // On `ready` too: something may have changed while no stream was open.
    for (const listener of this.listeners) listener.changed();
  };

  /** Streams that failed in a row: how long to wait before the next. */
  private failures = 0;

  private async run(abort: AbortController): Promise<void> {
    this.abort = abort;
    while (!abort.signal.aborted) {
      try {
        await this.api.followChanges!(this.ref, this.onEvent, abort.signal);
      } catch {
        // Refused (503, 403) or broken: the page polls until the stream is back.
      }
      if (abort.signal.aborted) break;
      this.setLive(false);
      const waitMs = Math.min(RETRY_MS * 2 ** this.failures, MAX_RETRY_MS);
      this.failures++;
      await new Promise<void>(resolve => {
        const timer = setTimeout(resolve, waitMs);
        abort.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

const streams = new WeakMap<GitopsApi, Map<string, ChangeStream>>();

/**
 * Listens to what changes about the Application `ref`, through the tab's
 * one stream for it. Returns the unsubscribe. Without
 * `api.followChanges` the listener is told to poll, and nothing opens.
 */
export function listenToChanges(
  api: GitopsApi,
  ref: ApplicationRef,
  listener: ChangeListener,
): () => void {
  if (!api.followChanges) {
    listener.streaming(false);
    return () => {};
  }
  let byRef = streams.get(api);
  if (!byRef) streams.set(api, (byRef = new Map()));
  const key = stringifyApplicationRef(ref);
  let stream = byRef.get(key);
  if (!stream) {
    const map = byRef;
    stream = new ChangeStream(api, ref, () => map.delete(key));
    byRef.set(key, stream);
  }
  const mine = stream;
  mine.add(listener);
  return () => mine.remove(listener);
}
