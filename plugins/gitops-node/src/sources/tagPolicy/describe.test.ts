import { describeImagePolicy } from './describe';

describe('describeImagePolicy', () => {
  it.each([
    [{ numerical: { order: 'asc' as const } }, 'numerical asc'],
    [{ numerical: {} }, 'numerical asc'],
    [{ alphabetical: { order: 'desc' as const } }, 'alphabetical desc'],
    [{ semver: { range: '>=1.0.0 <2.0.0' } }, 'semver >=1.0.0 <2.0.0'],
    [{}, undefined],
    [undefined, undefined],
  ])('%j reads %j', (policy, words) => {
    expect(describeImagePolicy(policy)).toBe(words);
  });
});
