import { withJitter } from './ApplicationReconciler';
import { dueTrigger, shardOf } from './ReconcileLoop';
import { KnownSchedules } from './knownSchedules';

describe('scheduling', () => {
  it('delays a poll by up to a tenth of its interval', () => {
    expect(withJitter(60_000, 0)).toBe(60_000);
    expect(withJitter(60_000, 0.5)).toBe(63_000);
    expect(withJitter(60_000, 0.999)).toBeLessThan(66_000);
  });

  it('puts each Application in one stable shard, and spreads them', () => {
    const keys = Array.from(
      { length: 400 },
      (_, i) => `local/default/app-${i}`,
    );
    const counts = [0, 0, 0, 0];
    for (const key of keys) {
      const shard = shardOf(key, 4);
      expect(shardOf(key, 4)).toBe(shard);
      counts[shard]++;
    }
    for (const count of counts) expect(count).toBeGreaterThan(60);
  });
});

describe('dueTrigger', () => {
  const app = (
    generation: number,
    observedGeneration?: number,
    extra = {},
  ) => ({
    apiVersion: 'core.oam.dev/v1beta1',
    kind: 'Application',
    metadata: { name: 'a', namespace: 'default', generation, ...extra },
    status: { observedGeneration, status: 'running' },
  });
  const now = Date.parse('2026-12-01T12:00:00Z');
  const later = { nextAt: new Date(now + 60_000) };

  it('is due when asked, whatever else holds', () => {
    expect(dueTrigger(app(2, 2), { ...later, requested: 'manual' }, now)).toBe(
      'manual',
    );
  });

  it('is due as a watch when the spec changed or the deletion started', () => {
    expect(dueTrigger(app(3, 2), later, now)).toBe('watch');
    expect(dueTrigger(app(1), later, now)).toBe('watch');
    expect(
      dueTrigger(
        app(2, 2, { deletionTimestamp: '2026-12-01T11:59:00Z' }),
        later,
        now,
      ),
    ).toBe('watch');
  });

  it('is due as a poll when its interval passed or it was never scheduled', () => {
    expect(dueTrigger(app(2, 2), { nextAt: new Date(now) }, now)).toBe('poll');
    expect(dueTrigger(app(2, 2), undefined, now)).toBe('poll');
  });

  it('is not due before its next poll when nothing changed', () => {
    expect(dueTrigger(app(2, 2), later, now)).toBeUndefined();
  });
});

describe('KnownSchedules', () => {
  const unchanged = {
    apiVersion: 'core.oam.dev/v1beta1',
    kind: 'Application',
    metadata: { name: 'a', namespace: 'default', generation: 2 },
    status: { observedGeneration: 2 },
  };
  const later = { nextAt: new Date(Date.UTC(2026, 0, 1, 0, 5)), failures: 0 };
  const now = Date.UTC(2026, 0, 1);

  it('reads by key only the Applications not yet known to have a row', () => {
    const known = new KnownSchedules(600_000);
    expect(known.unknown(['a', 'b', 'c'], now)).toEqual(['a', 'b', 'c']);
    // Read by key: a and b have rows (a not due yet), c has none.
    const first = known.read(
      new Map([
        ['a', later],
        ['b', later],
      ]),
    );
    expect(first('a')).toBe(later);
    expect(first('c')).toBeUndefined();
    expect(dueTrigger(unchanged, first('c'), now)).toBe('poll');

    expect(known.unknown(['a', 'b', 'c'], now + 5000)).toEqual(['c']);
    // Only the due rows come back: a row left out is not due.
    const next = known.read(
      new Map([['b', { ...later, requested: 'manual' }]]),
    );
    expect(dueTrigger(unchanged, next('a'), now + 5000)).toBeUndefined();
    expect(dueTrigger(unchanged, next('b'), now + 5000)).toBe('manual');
    expect(dueTrigger(unchanged, next('c'), now + 5000)).toBe('poll');
    // A changed spec is due whatever its row says.
    expect(
      dueTrigger(
        { ...unchanged, metadata: { ...unchanged.metadata, generation: 3 } },
        next('a'),
        now + 5000,
      ),
    ).toBe('watch');
  });

  it('forgets what it knows after a while, so that a lost row is noticed', () => {
    const known = new KnownSchedules(600_000);
    known.unknown(['a'], now);
    known.read(new Map([['a', later]]));
    expect(known.unknown(['a'], now + 599_999)).toEqual([]);
    expect(known.unknown(['a'], now + 600_000)).toEqual(['a']);
    // The row is gone (a database restored): a is due again.
    expect(dueTrigger(unchanged, known.read(new Map())('a'), now)).toBe('poll');
  });
});
