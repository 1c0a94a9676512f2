import type { DoraFigures, ImageHistoryEntry } from './api';

/**
 * One rollout as the DORA figures read it: an image history row, with the
 * time its tag reached the registry when the registry's push notification
 * told us.
 */
export type Rollout = Pick<
  ImageHistoryEntry,
  | 'id'
  | 'component'
  | 'action'
  | 'detectedAt'
  | 'appliedAt'
  | 'healthyAt'
  | 'failedAt'
  | 'rolledBackAt'
> & { tagPushedAt?: string };

const DAY_MS = 24 * 3600_000;

const ms = (iso: string) => new Date(iso).getTime();

/** Rollbacks restore a component; only new tags are changes. */
export const isRolloutChange = (r: Pick<Rollout, 'action'>) =>
  r.action === undefined || r.action === 'update' || r.action === 'release';

/** Healthy, and not found failed before it was. */
export const rolloutSucceeded = <R extends Rollout>(
  r: R,
): r is R & { healthyAt: string } =>
  r.healthyAt !== undefined &&
  (r.failedAt === undefined || ms(r.failedAt) > ms(r.healthyAt));

/** Where a rollout's lead time starts: the tag's push to the registry when known, else its pick. */
export const leadTimeStart = (r: Rollout): string =>
  r.tagPushedAt ?? r.detectedAt;

const isFailure = (r: Rollout) =>
  r.failedAt !== undefined || r.rolledBackAt !== undefined;

/**
 * When a failed rollout started failing: when it was found failed, else
 * (rolled back by a person while it ran) when it went live.
 */
const failingSince = (r: Rollout): number =>
  ms(r.failedAt ?? r.healthyAt ?? r.appliedAt ?? r.rolledBackAt!);

/** `8.9 s`, `2 m 5 s`, `3 h 12 m`, `3 d 2 h`: a duration as people read it. */
export function describeDuration(durationMs: number): string {
  const tenths = Math.round(durationMs / 100);
  if (tenths < 600) return `${tenths / 10} s`;
  const seconds = Math.round(durationMs / 1000);
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} m ${seconds % 60} s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} m`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/** The middle value; the mean of the two middle ones for an even count. */
export function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The nearest-rank percentile: the smallest value at least `p`% of the values are not above. */
export function percentile(values: number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

/**
 * The DORA figures of one Application's rollouts over `[from, to)`, as they
 * stood at `to`; see {@link DoraFigures} for what each counts. `rollouts`
 * may hold rows outside the window (they are left out) and come in any
 * order; what happened after `to` (a rollout healthy or failed later, a
 * restore later) is not counted.
 */
export function doraFigures(
  rollouts: Rollout[],
  window: { from: string; to: string },
): DoraFigures {
  const from = ms(window.from);
  const to = ms(window.to);
  // The figures as they stood at `to`: what happened later is not known yet.
  const known = (at?: string) =>
    at !== undefined && ms(at) < to ? at : undefined;
  const inWindow = rollouts
    .filter(r => ms(r.detectedAt) >= from && ms(r.detectedAt) < to)
    .map(r => ({
      ...r,
      appliedAt: known(r.appliedAt),
      healthyAt: known(r.healthyAt),
      failedAt: known(r.failedAt),
      rolledBackAt: known(r.rolledBackAt),
    }))
    .sort((a, b) => ms(a.detectedAt) - ms(b.detectedAt) || a.id - b.id);
  const changes = inWindow.filter(isRolloutChange);
  const deployments = changes.filter(rolloutSucceeded);
  const leadTimes = deployments.map(r =>
    Math.max(0, ms(r.healthyAt) - ms(leadTimeStart(r))),
  );
  const finished = changes.filter(r => rolloutSucceeded(r) || isFailure(r));
  const failures = changes.filter(isFailure);

  const restoreTimes: number[] = [];
  for (const failure of failures) {
    const since = failingSince(failure);
    const after = inWindow.slice(inWindow.indexOf(failure) + 1);
    const restoredAt = after
      .filter(
        r =>
          r.component === failure.component &&
          rolloutSucceeded(r) &&
          ms(r.healthyAt) >= since,
      )
      .map(r => ms(r.healthyAt!))
      .sort((a, b) => a - b)[0];
    if (restoredAt !== undefined) restoreTimes.push(restoredAt - since);
  }

  return {
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    rollouts: changes.length,
    deployments: deployments.length,
    deploymentsPerDay:
      to > from ? deployments.length / ((to - from) / DAY_MS) : 0,
    leadTime: {
      samples: leadTimes.length,
      fromTagPush: deployments.filter(r => r.tagPushedAt !== undefined).length,
      medianMs: median(leadTimes),
      p90Ms: percentile(leadTimes, 90),
    },
    finished: finished.length,
    failures: failures.length,
    changeFailureRate: finished.length
      ? failures.length / finished.length
      : undefined,
    timeToRestore: {
      restored: restoreTimes.length,
      unrestored: failures.length - restoreTimes.length,
      medianMs: median(restoreTimes),
    },
  };
}
