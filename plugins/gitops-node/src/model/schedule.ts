import { parseGoDuration } from '../util/duration';
import type { KubeObject } from "./types";

/** How often an Application's sources are polled when nothing asks sooner. */
export const DEFAULT_POLL_INTERVAL_MS = 60_000;
/** Applications without Git sources are re-checked for drift and health this often. */
export const DEFAULT_RESYNC_INTERVAL_MS = 5 * 60_000;
/** While rolling out (not healthy yet) an Application is re-checked this often. */
export const PROGRESS_INTERVAL_MS = 5_000;

/**
 * The poll interval of an Application: the shortest `pullInterval` or
 * `imageRepository.interval` among its kustomize components (KubeVela's
 * fields) and `driftInterval` among its terraform components, else the
 * resync interval. A malformed interval is an error that
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
      driftInterval?: string;
    };
  }>;
  const intervals: number[] = [];
  components.forEach((c, i) => {
    const where = `spec.components[${i}].properties`;
    // A terraform component's drift checks run in its passes.
    if (c.type === 'terraform' && c.properties?.driftInterval)
      intervals.push(
        parseGoDuration(c.properties.driftInterval, `${where}.driftInterval`),
      );
    if (c.type !== 'kustomize') return;
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

/** The first retry after a failure; each further failure in a row doubles it. */
export const FIRST_RETRY_MS = 5_000;

/**
 * When to try again after `failures` failures in a row, as Flux backs off:
 * 5 s, 10 s, 20 s … never later than the Application's own interval, with up
 * to 10% jitter so broken Applications do not retry in lockstep.
 */
export function retryDelay(
  failures: number,
  intervalMs: number,
  random = Math.random(),
): number {
  const exponential = FIRST_RETRY_MS * 2 ** Math.max(0, failures - 1);
  return Math.round(Math.min(exponential, intervalMs) * (1 + 0.1 * random));
}
