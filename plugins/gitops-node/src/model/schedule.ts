import { InputError } from '@backstage/errors';
import type { KubeObject } from '.';

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

/** How often an Application's sources are polled when nothing asks sooner. */
export const DEFAULT_POLL_INTERVAL_MS = 60_000;
/** Applications without Git sources are re-checked for drift and health this often. */
export const DEFAULT_RESYNC_INTERVAL_MS = 5 * 60_000;
/** While rolling out (not healthy yet) an Application is re-checked this often. */
export const PROGRESS_INTERVAL_MS = 5_000;

/**
 * The poll interval of an Application: the shortest `pullInterval` or
 * `imageRepository.interval` among its kustomize components (KubeVela's
 * fields), else the resync interval. A malformed interval is an error that
 * names the component.
 */
export function pollIntervalOf(app: KubeObject): number {
  const components = ((app.spec as { components?: unknown[] })?.components ??
    []) as Array<{
    name?: string;
    type?: string;
    properties?: {
      pullInterval?: string;
      imageRepository?: { interval?: string };
    };
  }>;
  const intervals: number[] = [];
  components.forEach((c, i) => {
    if (c.type !== 'kustomize') return;
    const where = `spec.components[${i}].properties`;
    intervals.push(
      c.properties?.pullInterval
        ? parseGoDuration(c.properties.pullInterval, `${where}.pullInterval`)
        : DEFAULT_POLL_INTERVAL_MS,
    );
    const images = c.properties?.imageRepository?.interval;
    if (images)
      intervals.push(
        parseGoDuration(images, `${where}.imageRepository.interval`),
      );
  });
  return intervals.length ? Math.min(...intervals) : DEFAULT_RESYNC_INTERVAL_MS;
}
