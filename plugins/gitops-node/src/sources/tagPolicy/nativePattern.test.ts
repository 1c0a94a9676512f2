import { RE2JS } from 're2js';
import { nativeMatcher, nativeRegExp } from './nativePattern';

/** What RE2 finds in a tag: every group's value, or null when it does not match. */
function re2Matcher(pattern: string) {
  const re = RE2JS.compile(pattern);
  return (tag: string) => {
    const m = re.matcher(tag);
    if (!m.find()) return null;
    return Array.from({ length: re.groupCount() + 1 }, (_, i) => {
      const value = m.group(i);
      return value === null ? undefined : value;
    });
  };
}

/**
 * Printable ASCII tags, deterministic: random ones over the characters the
 * patterns use, and tags like the ones they are written for with one
 * character changed, dropped or doubled.
 */
function sampleTags(count: number): string[] {
  const alphabet = 'master-0123456789abcdefv.x_X ![]^$';
  const shapes = [
    '',
    'master-1a2b3c4-1631234567',
    'master--1',
    'master-abc-',
    'main-1a2b3c4-17',
    'v1.2.3',
    '1.2.3-rc.1',
    'ab-12',
    'a]a]-x',
    'x'.repeat(128),
  ];
  // mulberry32: a small PRNG, so the sample is the same on every run.
  let seed = 42;
  const next = (n: number) => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) % n;
  };
  const random = () =>
    Array.from(
      { length: next(24) },
      () => alphabet[next(alphabet.length)],
    ).join('');
  const mutated = () => {
    const tag = shapes[next(shapes.length)];
    const at = next(tag.length + 1);
    const change = [alphabet[next(alphabet.length)], '', tag.slice(at, at + 2)];
    return tag.slice(0, at) + change[next(3)] + tag.slice(at + 1);
  };
  return Array.from({ length: count }, (_, i) =>
    i % 2 ? random() : mutated(),
  ).concat(shapes);
}

describe('native matching of RE2 tag patterns', () => {
  const accepted = [
    '^master-[a-f0-9]+-(?P<ts>[0-9]+)',
    '^master-[a-f0-9]+-(?<ts>[0-9]+)$',
    '^v?(?P<major>\\d+)\\.(?P<minor>\\d+)\\.(?P<patch>\\d+)$',
    '^(?:master)-(x?)',
    '-rc\\.[0-9]+$',
    '^[^-]+-(\\d+)',
    '[]a]+-',
    '^[a-]{2}x?\\d{1,3}$',
    '^.{3}[.]',
    '\\w+\\s\\W',
    '',
    '^$',
    '()a',
  ];

  it.each(accepted)(
    'runs %p natively with RE2’s groups on every tag',
    pattern => {
      const match = nativeMatcher(pattern);
      expect(match).toBeDefined();
      const re2 = re2Matcher(pattern);
      // Longer ones go to RE2 (see below).
      for (const tag of sampleTags(3000).filter(t => t.length <= 128)) {
        const groups = match!(tag);
        expect([tag, groups && [...groups]]).toEqual([tag, re2(tag)]);
      }
    },
  );

  it.each([
    ['a repeated group', '^(a+)+$'],
    ['alternation', '^(master|main)-'],
    ['a repeat meeting what it repeats', '^[0-9]+[0-9a-f]'],
    ['an optional part overlapping the next repeat', 'a*b?a+'],
    ['a lazy repeat', 'a+?b'],
    ['flags', '(?i)master'],
    ['a POSIX class', '[[:alpha:]]+'],
    ['a word boundary', '\\bmaster'],
    ['Flux’s signature exclusion (.* before a dot)', '^.*\\.sig$'],
    ['a stray brace', 'a{'],
  ])('leaves %s to RE2', (_, pattern) => {
    expect(nativeRegExp(pattern)).toBeUndefined();
    expect(nativeMatcher(pattern)).toBeUndefined();
  });

  it('leaves tags outside printable ASCII, or longer than a tag can be, to RE2', () => {
    const match = nativeMatcher('^[a-z]+')!;
    expect([...match('abc')!]).toEqual(['abc']);
    expect(match('über')).toBeUndefined();
    expect(match('a\nb')).toBeUndefined();
    expect(match('a'.repeat(129))).toBeUndefined();
  });
});
