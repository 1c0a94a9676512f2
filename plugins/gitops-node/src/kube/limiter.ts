import { AsyncLocalStorage } from 'node:async_hooks';
import { ServiceUnavailableError } from '@backstage/errors';

export interface RequestRateOptions {
  /** Requests per second, sustained. Default 200. Zero or less: no limit. */
  qps?: number;
  /** Requests that may go at once after a quiet spell. Default 500. */
  burst?: number;
}

const urgentRequests = new AsyncLocalStorage<boolean>();

/**
 * Runs `fn` so that the Kubernetes requests it makes go ahead of the others
 * waiting for their turn: a rollout under way finishes (and says so)
 * while a thousand new Applications queue for the same API server.
 */
export function withUrgentRequests<T>(fn: () => Promise<T>): Promise<T> {
  return urgentRequests.run(true, fn);
}

interface Waiter {
  grant: () => void;
}

/**
 * Client-side rate limit of one cluster's requests, like client-go's QPS and
 * burst: a token bucket, and a queue that serves urgent requests (see
 * `withUrgentRequests`) before the rest, each in order of arrival.
 */
export class RequestLimiter {
  private readonly qps: number;
  private readonly burst: number;
  private tokens: number;
  private refilledAt: number;
  private readonly queues: { urgent: Waiter[]; normal: Waiter[] } = {
    urgent: [],
    normal: [],
  };
  private timer?: NodeJS.Timeout;

  constructor(options: RequestRateOptions = {}) {
    this.qps = options.qps ?? 200;
    this.burst = Math.max(1, options.burst ?? 500);
    this.tokens = this.burst;
    this.refilledAt = Date.now();
  }

  /** Resolves when a request may go; rejects when `signal` aborts first. */
  acquire(signal?: AbortSignal): Promise<void> {
    if (this.qps <= 0) return Promise.resolve();
    const queue = urgentRequests.getStore()
      ? this.queues.urgent
      : this.queues.normal;
    this.refill();
    if (this.tokens >= 1 && this.waiting() === 0) {
      this.tokens -= 1;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        grant: () => {
          signal?.removeEventListener('abort', giveUp);
          resolve();
        },
      };
      function giveUp() {
        const index = queue.indexOf(waiter);
        if (index >= 0) queue.splice(index, 1);
        reject(
          new ServiceUnavailableError(
            'The request was aborted while it waited for its turn',
          ),
        );
      }
      if (signal?.aborted) {
        giveUp();
        return;
      }
      signal?.addEventListener('abort', giveUp, { once: true });
      queue.push(waiter);
      this.schedule();
    });
  }

  /** Requests waiting for their turn. */
  waiting(): number {
    return this.queues.urgent.length + this.queues.normal.length;
  }

  private refill(): void {
    const now = Date.now();
    this.tokens = Math.min(
      this.burst,
      this.tokens + ((now - this.refilledAt) / 1000) * this.qps,
    );
    this.refilledAt = now;
  }

  private schedule(): void {
    if (this.timer || this.waiting() === 0) return;
    this.refill();
    const wait = Math.max(0, ((1 - this.tokens) / this.qps) * 1000);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.drain();
    }, Math.ceil(wait));
  }

  private drain(): void {
    this.refill();
    while (this.tokens >= 1) {
      const next = this.queues.urgent.shift() ?? this.queues.normal.shift();
      if (!next) break;
      this.tokens -= 1;
      next.grant();
    }
    this.schedule();
  }
}
