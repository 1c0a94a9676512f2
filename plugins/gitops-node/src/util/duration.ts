import { InputError } from '@backstage/errors';

const UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Milliseconds of a Go duration string such as `1m`, `90s` or `1h30m`. */
export function parseGoDuration(value: string, where = 'duration'): number {
  const text = value.trim();
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)];
  if (!text || parts.map(p => p[0]).join('') !== text) {
    throw new InputError(
      `${where}: "${value}" is not a duration like 30s, 1m or 1h30m`,
    );
  }
  return parts.reduce(
    (sum, [, amount, unit]) => sum + Number(amount) * UNITS[unit],
    0,
  );
}
