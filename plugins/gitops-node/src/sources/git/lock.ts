import { ConflictError, ServiceUnavailableError } from '@backstage/errors';
import lockfile from 'proper-lockfile';

export interface LockOptions {
  /** How long to wait for another holder before giving up. */
  timeoutMs: number;
  /**
   * A lock whose holder has not refreshed it for this long is taken over:
   * its process (or pod) died. The holder refreshes it every `staleMs / 3`.
   * Default 30 s: long enough that a busy event loop does not lose it.
   */
  staleMs?: number;
}

const DEFAULT_STALE_MS = 30_000;

/** Holders waiting in this process, per lock path: they queue instead of polling the file system. */
const inProcess = new Map<string, Promise<void>>();

/**
 * Holds the lock `lockPath` while `fn` runs, exclusively across every process
 * and pod sharing the directory. The lock is proper-lockfile's: an atomic
 * `mkdir`, kept fresh by its holder through the directory's mtime, so a
 * holder that died (on any host; pids mean nothing across pods) is detected
 * by age, never by process id. Reconciles in this process queue on a promise
 * chain first, so they never poll each other.
 *
 * Errors: `ServiceUnavailableError` when the lock is still held after
 * `timeoutMs`; `ConflictError` when the lock was lost while `fn` ran (the
 * process stalled past `staleMs` and another holder may have taken over), so
 * the caller treats its work as unconfirmed.
 */
export async function withLock<T>(
  lockPath: string,
  options: LockOptions,
  fn: () => Promise<T>,
): Promise<T> {
  const previous = inProcess.get(lockPath) ?? Promise.resolve();
  let done!: () => void;
  const mine = new Promise<void>(resolve => {
    done = resolve;
  });
  const chained = previous.then(() => mine);
  inProcess.set(lockPath, chained);
  try {
    await previous;
    let compromised: Error | undefined;
    const release = await acquire(lockPath, options, error => {
      compromised = error;
    });
    let result: T;
    try {
      result = await fn();
    } finally {
      // A lock that was compromised is no longer ours to remove.
      if (!compromised) await release().catch(() => undefined);
    }
    if (compromised) {
      throw new ConflictError(
        `the lock ${lockPath} was lost while held (${compromised.message}); another holder may have used the clone`,
      );
    }
    return result;
  } finally {
    done();
    if (inProcess.get(lockPath) === chained) inProcess.delete(lockPath);
  }
}

async function acquire(
  lockPath: string,
  options: LockOptions,
  onCompromised: (error: Error) => void,
): Promise<() => Promise<void>> {
  const stale = Math.max(options.staleMs ?? DEFAULT_STALE_MS, 2000);
  const deadline = Date.now() + options.timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      // The lock is a directory of its own: the locked clone may not exist yet.
      return await lockfile.lock(lockPath, {
        lockfilePath: lockPath,
        realpath: false,
        stale,
        update: Math.floor(stale / 3),
        retries: 0,
        onCompromised,
      });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ELOCKED') throw e;
    }
    if (Date.now() >= deadline) {
      throw new ServiceUnavailableError(
        `${lockPath} is still locked by another reconcile after ${options.timeoutMs}ms`,
      );
    }
    // Jittered, growing waits: holders in other pods poll the same directory.
    const wait = Math.min(100 * 2 ** Math.min(attempt, 4), 1000);
    await new Promise(resolve =>
      setTimeout(resolve, wait * (0.5 + Math.random() / 2)),
    );
  }
}
