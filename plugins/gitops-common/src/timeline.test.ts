import {
  describeDuration,
  doraFigures,
  median,
  percentile,
  Rollout,
} from './timeline';

const WEEK = {
  from: '2026-11-01T00:00:00.000Z',
  to: '2026-11-08T00:00:00.000Z',
};

/*
 * A week of two components' rollouts, with every outcome the figures tell
 * apart. Times are in the comments' terms: lead times 20 s, 60 s, 40 s and
 * 120 s; web's failure restored by the automatic rollback after 120 s, api's
 * rolled-back release restored after 58 m 40 s, web's last failure never.
 */
const history: Rollout[] = [
  // Picked a minute before the window: not in it, though healthy inside it.
  {
    id: 1,
    component: 'web',
    action: 'update',
    detectedAt: '2026-10-31T23:59:00Z',
    healthyAt: '2026-11-01T00:01:00Z',
  },
  // Lead time from the registry's push: 20 s.
  {
    id: 2,
    component: 'web',
    action: 'update',
    tagPushedAt: '2026-11-01T10:00:00Z',
    detectedAt: '2026-11-01T10:00:05Z',
    appliedAt: '2026-11-01T10:00:10Z',
    healthyAt: '2026-11-01T10:00:20Z',
  },
  // Found by polling (no push time): from when the policy picked it, 60 s.
  {
    id: 3,
    component: 'web',
    detectedAt: '2026-11-02T10:00:00Z',
    healthyAt: '2026-11-02T10:01:00Z',
  },
  // Failed, rolled back automatically; the pass that made the rollback
  // healthy stamped this row healthy too, after its failure.
  {
    id: 4,
    component: 'web',
    action: 'update',
    detectedAt: '2026-11-03T10:00:00Z',
    appliedAt: '2026-11-03T10:00:10Z',
    failedAt: '2026-11-03T10:05:00Z',
    rolledBackAt: '2026-11-03T10:05:30Z',
    healthyAt: '2026-11-03T10:06:00Z',
  },
  {
    id: 5,
    component: 'web',
    action: 'automaticRollback',
    detectedAt: '2026-11-03T10:05:30Z',
    healthyAt: '2026-11-03T10:07:00Z',
  },
  {
    id: 6,
    component: 'api',
    action: 'update',
    tagPushedAt: '2026-11-03T23:59:50Z',
    detectedAt: '2026-11-04T00:00:00Z',
    healthyAt: '2026-11-04T00:00:30Z',
  },
  // Healthy, then rolled back by a person: deployed, and a failure since it went live.
  {
    id: 7,
    component: 'api',
    action: 'update',
    detectedAt: '2026-11-05T00:00:00Z',
    healthyAt: '2026-11-05T00:02:00Z',
    rolledBackAt: '2026-11-05T01:00:00Z',
  },
  {
    id: 8,
    component: 'api',
    action: 'rollback',
    detectedAt: '2026-11-05T01:00:00Z',
    healthyAt: '2026-11-05T01:00:40Z',
  },
  // Failed and never restored.
  {
    id: 9,
    component: 'web',
    action: 'update',
    detectedAt: '2026-11-07T12:00:00Z',
    failedAt: '2026-11-07T12:10:00Z',
  },
  // Still rolling out: a rollout, not finished.
  {
    id: 10,
    component: 'web',
    action: 'update',
    detectedAt: '2026-11-07T23:00:00Z',
  },
  // Picked at the window's end, which is not in it.
  {
    id: 11,
    component: 'web',
    action: 'update',
    detectedAt: '2026-11-08T00:00:00Z',
    healthyAt: '2026-11-08T00:00:30Z',
  },
];

describe('doraFigures', () => {
  it('pins the four figures of a week of rollouts', () => {
    expect(doraFigures(history, WEEK)).toEqual({
      from: WEEK.from,
      to: WEEK.to,
      rollouts: 7,
      deployments: 4,
      deploymentsPerDay: 4 / 7,
      leadTime: {
        samples: 4,
        fromTagPush: 2,
        medianMs: 50_000,
        p90Ms: 120_000,
      },
      finished: 6,
      failures: 3,
      changeFailureRate: 0.5,
      timeToRestore: {
        restored: 2,
        unrestored: 1,
        medianMs: (120_000 + 3_520_000) / 2,
      },
    });
  });

  it('gives the same figures whatever order the rows come in', () => {
    expect(doraFigures([...history].reverse(), WEEK)).toEqual(
      doraFigures(history, WEEK),
    );
  });

  it('has no medians and no failure rate without rollouts', () => {
    expect(doraFigures([], WEEK)).toEqual({
      from: WEEK.from,
      to: WEEK.to,
      rollouts: 0,
      deployments: 0,
      deploymentsPerDay: 0,
      leadTime: { samples: 0, fromTagPush: 0 },
      finished: 0,
      failures: 0,
      timeToRestore: { restored: 0, unrestored: 0 },
    });
  });

  it('counts a failure that is never restored, without a time to restore', () => {
    const figures = doraFigures(
      history.filter(r => r.id === 9),
      WEEK,
    );
    expect(figures).toMatchObject({
      rollouts: 1,
      deployments: 0,
      finished: 1,
      failures: 1,
      changeFailureRate: 1,
      timeToRestore: { restored: 0, unrestored: 1 },
    });
    expect(figures.timeToRestore.medianMs).toBeUndefined();
  });

  it('restores a failure only by a later rollout of the same component', () => {
    const figures = doraFigures(
      [
        history[3], // web fails at 10:05
        { ...history[5], detectedAt: '2026-11-03T10:06:00Z' }, // api healthy after it
      ],
      WEEK,
    );
    expect(figures.timeToRestore).toEqual({ restored: 0, unrestored: 1 });
  });

  it('tells the figures as they stood at the end of the window', () => {
    // web's 10:00 rollout on Nov 3 was applied, not yet found failed, at 10:02.
    const figures = doraFigures(history, {
      from: WEEK.from,
      to: '2026-11-03T10:02:00Z',
    });
    expect(figures).toMatchObject({
      rollouts: 3,
      deployments: 2,
      finished: 2,
      failures: 0,
      changeFailureRate: 0,
      timeToRestore: { restored: 0, unrestored: 0 },
    });
  });

  it('counts a rollout in the window its tag was picked in, at both ends', () => {
    const day = { from: '2026-11-08T00:00:00Z', to: '2026-11-09T00:00:00Z' };
    expect(doraFigures(history, day)).toMatchObject({
      rollouts: 1,
      deployments: 1,
      deploymentsPerDay: 1,
      leadTime: { samples: 1, medianMs: 30_000, p90Ms: 30_000 },
    });
  });
});

describe('median and percentile', () => {
  it.each([
    [[5], 5, 5],
    [[4, 1, 3, 2], 2.5, 4],
    [[10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 55, 90],
    [[], undefined, undefined],
  ])('%j: median %p, p90 %p', (values, mid, p90) => {
    expect(median(values)).toBe(mid);
    expect(percentile(values, 90)).toBe(p90);
  });
});

describe('describeDuration', () => {
  it.each([
    [8_900, '8.9 s'],
    [250, '0.3 s'],
    [59_940, '59.9 s'],
    [125_000, '2 m 5 s'],
    [3_520_000, '58 m 40 s'],
    [11_520_000, '3 h 12 m'],
    [3 * 86_400_000 + 7_200_000, '3 d 2 h'],
  ])('%p ms reads %p', (ms, text) => {
    expect(describeDuration(ms)).toBe(text);
  });
});
