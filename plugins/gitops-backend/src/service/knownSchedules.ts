import type { Schedule } from '../store/GitopsStore';

/** How long a tick trusts that an Application has a schedule row. */
const MEMORY_MS = 10 * 60_000;

/** A schedule row the due ones left out: its time has not come. */
const NOT_DUE: Schedule = { nextAt: new Date(8.64e15), failures: 0 };

/**
 * Which Applications are known to have a schedule row, so that a tick reads
 * only the due rows (a row it does not get is not due) and, by key, those of
 * Applications not known yet: one that was never reconciled has no row and
 * is due. Forgotten every `memoryMs`, so that rows lost some other way (a
 * database restored) are noticed, and so that keys of Applications gone do
 * not pile up.
 */
export class KnownSchedules {
  private keys = new Set<string>();
  private since = -Infinity;

  constructor(private readonly memoryMs = MEMORY_MS) {}

  /** The keys a tick at `now` must read by key: those not known to have a row. */
  unknown(keys: string[], now: number): string[] {
    if (now - this.since >= this.memoryMs) {
      this.keys = new Set();
      this.since = now;
    }
    return keys.filter(key => !this.keys.has(key));
  }

  /**
   * Remembers the rows a tick read (the due ones and those read by key) and
   * returns each Application's schedule as far as the tick needs it: its
   * row, a row that is not due, or undefined when it has none.
   */
  read(rows: Map<string, Schedule>): (key: string) => Schedule | undefined {
    for (const key of rows.keys()) this.keys.add(key);
    return key => rows.get(key) ?? (this.keys.has(key) ? NOT_DUE : undefined);
  }
}
