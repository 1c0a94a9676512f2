import fs from 'node:fs';
import { ServiceUnavailableError } from '@backstage/errors';

const inProcess = new Map<string, Promise<void>>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Holds `lockFile` while `fn` runs. Reconciles in this process queue on a
 * promise chain; other processes sharing the cache directory are kept out by
 * an O_EXCL lock file holding our pid, taken over when its owner has died.
 */
export async function withLock<T>(
  lockFile: string,
  timeoutMs: number,
  fn: () => Promise<T>,
): Promise<T> {
  const previous = inProcess.get(lockFile) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>(resolve => {
    release = resolve;
  });
  const chained = previous.then(() => mine);
  inProcess.set(lockFile, chained);
  try {
    await previous;
    await acquireFile(lockFile, timeoutMs);
    try {
      return await fn();
    } finally {
      await fs.promises.rm(lockFile, { force: true });
    }
  } finally {
    release();
    if (inProcess.get(lockFile) === chained) inProcess.delete(lockFile);
  }
}

async function acquireFile(lockFile: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await fs.promises.writeFile(lockFile, String(process.pid), {
        flag: 'wx',
      });
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const owner = Number(
      await fs.promises.readFile(lockFile, 'utf8').catch(() => ''),
    );
    // Our own pid can only be a leftover: this process queues its holders above.
    if (owner && (owner === process.pid || !alive(owner))) {
      await fs.promises.rm(lockFile, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new ServiceUnavailableError(
        `working clone is locked by process ${
          owner || 'unknown'
        } (${lockFile})`,
      );
    }
    await new Promise(resolve => setTimeout(resolve, 100));
  }
}
