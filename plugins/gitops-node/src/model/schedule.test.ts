import { parseGoDuration } from '../util/duration';
import { pollIntervalOf, retryDelay } from './schedule';

describe('parseGoDuration', () => {
  it.each([
    ['1m', 60_000],
    ['90s', 90_000],
    ['1h30m', 5_400_000],
    ['1.5s', 1500],
    ['250ms', 250],
  ])('%s is %d ms', (text, ms) => expect(parseGoDuration(text)).toBe(ms));

  it.each(['', '1', 'm', '1d', '1m 30s', '-1m'])('rejects %j', text =>
    expect(() => parseGoDuration(text, 'pullInterval')).toThrow(
      /pullInterval: .* is not a duration/,
    ),
  );
});

describe('pollIntervalOf', () => {
  const app = (components: unknown[]) => ({
    apiVersion: 'core.oam.dev/v1beta1',
    kind: 'Application',
    metadata: { name: 'a' },
    spec: { components },
  });

  it('takes the shortest Git or image interval of the kustomize components', () => {
    expect(
      pollIntervalOf(
        app([
          {
            name: 'a',
            type: 'kustomize',
            properties: {
              pullInterval: '1m',
              imageRepository: { interval: '20s' },
            },
          },
          { name: 'b', type: 'kustomize', properties: { pullInterval: '30s' } },
        ]),
      ),
    ).toBe(20_000);
  });

  it('polls Git every minute by default and resyncs other Applications every five', () => {
    expect(
      pollIntervalOf(app([{ name: 'a', type: 'kustomize', properties: {} }])),
    ).toBe(60_000);
    expect(
      pollIntervalOf(
        app([{ name: 'web', type: 'webservice', properties: {} }]),
      ),
    ).toBe(300_000);
  });

  it('names the component whose interval is malformed', () => {
    expect(() =>
      pollIntervalOf(
        app([
          {
            name: 'a',
            type: 'kustomize',
            properties: { pullInterval: 'soon' },
          },
        ]),
      ),
    ).toThrow(
      'spec.components[0].properties.pullInterval: "soon" is not a duration',
    );
  });
});

describe('retryDelay', () => {
  it('doubles from 5 s per failure in a row and never waits past the interval', () => {
    expect([1, 2, 3, 4, 5].map(n => retryDelay(n, 60_000, 0))).toEqual([
      5_000, 10_000, 20_000, 40_000, 60_000,
    ]);
    expect(retryDelay(30, 60_000, 0)).toBe(60_000);
    expect(retryDelay(1, 60_000, 0.999)).toBeLessThanOrEqual(5_500);
  });
});
