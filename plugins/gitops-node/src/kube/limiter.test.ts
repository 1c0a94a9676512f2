import { RequestLimiter, withUrgentRequests } from './limiter';

describe('RequestLimiter', () => {
  // The fake timers move Date.now too: the bucket refills as they advance.
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  const advance = (ms: number) => jest.advanceTimersByTimeAsync(ms);

  /** Starts `count` acquisitions and reports which have been granted so far. */
  function start(limiter: RequestLimiter, count: number, urgent = false) {
    const granted: number[] = [];
    for (let i = 0; i < count; i++) {
      const acquire = () => limiter.acquire();
      (urgent ? withUrgentRequests(acquire) : acquire()).then(() =>
        granted.push(i),
      );
    }
    return granted;
  }

  it('lets a burst go at once, then the sustained rate', async () => {
    const limiter = new RequestLimiter({ qps: 10, burst: 5 });
    const granted = start(limiter, 15);
    await advance(0);
    expect(granted).toHaveLength(5);
    await advance(500);
    expect(granted).toHaveLength(10);
    await advance(500);
    expect(granted).toHaveLength(15);
    expect(limiter.waiting()).toBe(0);
  });

  it('serves urgent requests before those that waited longer', async () => {
    const limiter = new RequestLimiter({ qps: 10, burst: 1 });
    const normal = start(limiter, 4);
    await advance(0);
    expect(normal).toEqual([0]);
    const urgent = start(limiter, 2, true);
    await advance(200);
    expect(urgent).toEqual([0, 1]);
    expect(normal).toEqual([0]);
    await advance(300);
    expect(normal).toEqual([0, 1, 2, 3]);
  });

  it('gives up a turn when the request is aborted, and the next one takes it', async () => {
    const limiter = new RequestLimiter({ qps: 1, burst: 1 });
    await limiter.acquire();
    const controller = new AbortController();
    const aborted = limiter.acquire(controller.signal);
    const next = start(limiter, 1);
    controller.abort();
    await expect(aborted).rejects.toThrow(/aborted while it waited/);
    await advance(1000);
    expect(next).toEqual([0]);
  });

  it('never waits with no limit', async () => {
    const limiter = new RequestLimiter({ qps: 0 });
    const granted = start(limiter, 1000);
    await advance(0);
    expect(granted).toHaveLength(1000);
  });
});
