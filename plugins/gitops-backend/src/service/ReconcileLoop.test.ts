import { withJitter } from './ApplicationReconciler';
import { shardOf } from './ReconcileLoop';

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
