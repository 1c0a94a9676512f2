import { labelMatcher } from './labelSelector';

describe('labelMatcher', () => {
  const labels = { app: 'web', tier: 'front', 'app.oam.dev/name': 'shop' };

  it.each([
    ['app=web', true],
    ['app==web', true],
    ['app=db', false],
    ['app!=db', true],
    ['missing!=x', true],
    ['app.oam.dev/name', true],
    ['!app.oam.dev/name', false],
    ['!missing', true],
    ['tier in (front, back)', true],
    ['tier notin (front)', false],
    ['missing notin (x)', true],
    ['missing in (x)', false],
    ['app=web,tier in (front,back),!missing', true],
    ['app=web,tier=back', false],
    ['', true],
  ])('%s → %s', (selector, expected) => {
    expect(labelMatcher(selector)!(labels)).toBe(expected);
  });

  it('declines what it cannot read, so the caller reads live', () => {
    expect(labelMatcher('app in web')).toBeUndefined();
    expect(labelMatcher('app>1')).toBeUndefined();
  });

  it('treats an object without labels as having none', () => {
    expect(labelMatcher('!app')!(undefined)).toBe(true);
    expect(labelMatcher('app')!(undefined)).toBe(false);
  });
});
