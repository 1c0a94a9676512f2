import { ServiceUnavailableError } from '@backstage/errors';
import type { Request, Response } from 'express';

export interface ApplicationEventsOptions {
  /** Streams open at once in this process; one more is refused with 503. */
  maxStreams: number;
  /** How often an idle stream sends a comment, so proxies keep it open. Default 15 s. */
  heartbeatMs?: number;
  /** Changes to one Application within this long go out as one event. Default 500 ms. */
  coalesceMs?: number;
}

interface Stream {
  send(chunk: string): void;
  end(): void;
}

/**
 * Tells open pages when what they show of an Application changed, as
 * server-sent events: `ready` when the stream opens (read once, in case
 * something changed since the page last did), then `changed` each time the
 * Application, its objects or its records changed (bursts, as during a
 * rollout, coalesced). The page reads again on each, from the cache and the
 * database, so an open page costs the API servers nothing.
 */
export class ApplicationEvents {
  private readonly streams = new Map<string, Set<Stream>>();
  private readonly pending = new Map<string, NodeJS.Timeout>();
  private open = 0;
  private closed = false;

  constructor(private readonly options: ApplicationEventsOptions) {}

  /** Streams open now. */
  get size(): number {
    return this.open;
  }

  /** Something the views of the Application `key` show changed. */
  changed(key: string): void {
    if (!this.streams.has(key) || this.pending.has(key)) return;
    const timer = setTimeout(() => {
      this.pending.delete(key);
      const data = JSON.stringify({ at: new Date().toISOString() });
      for (const stream of this.streams.get(key) ?? [])
        stream.send(`event: changed\ndata: ${data}\n\n`);
    }, this.options.coalesceMs ?? 500);
    this.pending.set(key, timer);
  }

  /**
   * Answers `res` with the event stream of the Application `key` until the
   * client goes away or {@link ApplicationEvents.close}. Throws
   * ServiceUnavailableError, before anything is written, when this process
   * streams to as many pages as it may.
   */
  stream(key: string, req: Request, res: Response): void {
    if (this.closed) {
      throw new ServiceUnavailableError(
        'The backend is shutting down: live updates resume once it is back',
      );
    }
    const { maxStreams } = this.options;
    if (this.open >= maxStreams) {
      throw new ServiceUnavailableError(
        `This backend already streams live updates to ${maxStreams} open pages (gitops.liveUpdates.maxStreams); this page refreshes every few seconds instead`,
      );
    }
    res.status(200);
    res.set({
      'Content-Type': 'text/event-stream; charset=utf-8',
      // no-transform: compression would hold events back until a buffer fills.
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.flushHeaders();
    let ended = false;
    let heartbeat: NodeJS.Timeout | undefined = undefined;
    const stream: Stream = {
      send: chunk => {
        if (ended) return;
        res.write(chunk);
        (res as Response & { flush?: () => void }).flush?.();
      },
      end: () => {
        if (ended) return;
        ended = true;
        clearInterval(heartbeat);
        this.open--;
        const set = this.streams.get(key);
        set?.delete(stream);
        if (set?.size === 0) {
          this.streams.delete(key);
          clearTimeout(this.pending.get(key));
          this.pending.delete(key);
        }
        res.end();
      },
    };
    heartbeat = setInterval(
      () => stream.send(': heartbeat\n\n'),
      this.options.heartbeatMs ?? 15_000,
    );
    this.open++;
    let set = this.streams.get(key);
    if (!set) this.streams.set(key, (set = new Set()));
    set.add(stream);
    req.on('close', stream.end);
    // A client that reconnects waits this long; a page falls back to polling sooner.
    stream.send(`retry: 5000\nevent: ready\ndata: {}\n\n`);
  }

  /** Ends every stream and refuses new ones: the backend is stopping. */
  close(): void {
    this.closed = true;
    for (const set of [...this.streams.values()])
      for (const stream of [...set]) stream.end();
  }
}
