/*
 * RE2 patterns that JavaScript's own RegExp can run with the same result and
 * in linear time, so tags are matched natively instead of by re2js (several
 * times slower). Only a small subset qualifies, and only for tags in it:
 *
 * - Tags of printable ASCII, at most 128 characters (what the OCI
 *   distribution spec allows for a tag). On those, `.`, `\d`, `\w`, `\s` and
 *   negated classes mean the same in both engines; Unicode, line breaks and
 *   `\v`, where they differ, never occur. Any other tag goes to RE2.
 * - A pattern that is a plain sequence: literals, `.`, classes, `\d\w\s`
 *   (and negations), groups (capturing, named, non-capturing) that are not
 *   themselves repeated, `^` first and `$` last; no alternation, flags,
 *   lazy repeats or other escapes.
 * - Every variable repeat can only stop one way: the characters it repeats
 *   and the characters that may follow it are disjoint. A backtracking
 *   engine then retries each repeat at most once per character, instead of
 *   exploring exponentially many splits (as for `^(a+)+$`).
 */

/** Which of the 128 ASCII characters a pattern element matches. */
type CharSet = Uint8Array;

interface Element {
  set: CharSet;
  min: number;
  max: number;
}

const PRINTABLE_FIRST = 0x20;
const PRINTABLE_LAST = 0x7e;
/** A tag the native matcher may see: printable ASCII, within the OCI limit. */
const NATIVE_TAG = /^[\x20-\x7e]{0,128}$/;

function charSet(test: (code: number) => boolean): CharSet {
  const set = new Uint8Array(128);
  for (let c = PRINTABLE_FIRST; c <= PRINTABLE_LAST; c++)
    set[c] = test(c) ? 1 : 0;
  return set;
}

const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const isWord = (c: number) =>
  isDigit(c) ||
  (c >= 0x41 && c <= 0x5a) ||
  (c >= 0x61 && c <= 0x7a) ||
  c === 0x5f;
const CLASS_ESCAPES: Record<string, (c: number) => boolean> = {
  d: isDigit,
  D: c => !isDigit(c),
  w: isWord,
  W: c => !isWord(c),
  // On printable ASCII, RE2's \s ([\t\n\f\r ]) is the space alone.
  s: c => c === 0x20,
  S: c => c !== 0x20,
};

const isPunctuation = (ch: string) => /^[!-/:-@[-`{-~]$/.test(ch);

/** The JavaScript class (or literal) matching exactly `set`, written with hex escapes. */
function classSource(set: CharSet): string {
  let source = '';
  for (let c = PRINTABLE_FIRST; c <= PRINTABLE_LAST; c++) {
    if (!set[c]) continue;
    let end = c;
    while (end < PRINTABLE_LAST && set[end + 1]) end++;
    const hex = (n: number) => `\\x${n.toString(16).padStart(2, '0')}`;
    source += end === c ? hex(c) : `${hex(c)}-${hex(end)}`;
    c = end;
  }
  // An empty set matches nothing, as `[^\x00-\x7f]` does on printable tags.
  if (!source) return '[^\\x00-\\x7f]';
  // One character is a literal: V8 matches runs of literals faster.
  return /^\\x[0-9a-f]{2}$/.test(source) ? source : `[${source}]`;
}

/** Reads a `[...]` class starting at `pattern[start]`; undefined when outside the subset. */
function readClass(
  pattern: string,
  start: number,
): { set: CharSet; end: number } | undefined {
  let i = start + 1;
  const negated = pattern[i] === '^';
  if (negated) i++;
  const members = new Uint8Array(128);
  let first = true;
  while (i < pattern.length && (pattern[i] !== ']' || first)) {
    first = false;
    let from: number;
    if (pattern[i] === '[') return undefined; // [:alpha:] and the like
    if (pattern[i] === '\\') {
      const escaped = pattern[i + 1] ?? '';
      const named = CLASS_ESCAPES[escaped];
      if (named) {
        for (let c = PRINTABLE_FIRST; c <= PRINTABLE_LAST; c++)
          if (named(c)) members[c] = 1;
        i += 2;
        continue;
      }
      if (!isPunctuation(escaped)) return undefined;
      from = escaped.charCodeAt(0);
      i += 2;
    } else {
      from = pattern.charCodeAt(i);
      i++;
    }
    let to = from;
    if (
      pattern[i] === '-' &&
      pattern[i + 1] !== ']' &&
      i + 1 < pattern.length
    ) {
      const last = pattern[i + 1];
      if (last === '\\') {
        const escaped = pattern[i + 2] ?? '';
        if (!isPunctuation(escaped)) return undefined;
        to = escaped.charCodeAt(0);
        i += 3;
      } else {
        if (last === '[') return undefined;
        to = last.charCodeAt(0);
        i += 2;
      }
    }
    if (from > 0x7f || to > 0x7f || to < from) return undefined;
    for (let c = from; c <= to; c++) members[c] = 1;
  }
  if (pattern[i] !== ']') return undefined;
  return {
    set: charSet(c => (members[c] === 1) !== negated),
    end: i + 1,
  };
}

/** Reads a repeat (`*`, `+`, `?`, `{n}`, `{n,}`, `{n,m}`) at `i`, if any. */
function readRepeat(
  pattern: string,
  i: number,
): { min: number; max: number; end: number } | 'invalid' | undefined {
  const ch = pattern[i];
  let repeat: { min: number; max: number; end: number } | undefined;
  if (ch === '*') repeat = { min: 0, max: Infinity, end: i + 1 };
  else if (ch === '+') repeat = { min: 1, max: Infinity, end: i + 1 };
  else if (ch === '?') repeat = { min: 0, max: 1, end: i + 1 };
  else if (ch === '{') {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i));
    if (!m) return 'invalid'; // RE2 reads a stray `{` as a literal: not ours
    const min = Number(m[1]);
    let max = min; // {n}
    if (m[2] !== undefined) max = m[3] ? Number(m[3]) : Infinity; // {n,m} or {n,}
    repeat = { min, max, end: i + m[0].length };
  }
  if (!repeat) return undefined;
  // Lazy or doubled repeats are outside the subset.
  if (/^[*+?{]/.test(pattern.slice(repeat.end))) return 'invalid';
  return repeat;
}

/** Every variable repeat meets only characters it cannot take. */
function stopsOneWay(elements: Element[]): boolean {
  return elements.every((element, i) => {
    if (element.min === element.max) return true;
    for (let j = i + 1; j < elements.length; j++) {
      const next = elements[j];
      if (next.set.some((member, c) => member === 1 && element.set[c] === 1))
        return false;
      if (next.min > 0) return true;
    }
    // Only the end of the tag (`$`) or nothing (unanchored) follows.
    return true;
  });
}

/**
 * The JavaScript RegExp that matches like RE2 `pattern` on tags that
 * {@link nativeMatcher} accepts, or undefined when the pattern is outside
 * the subset. `pattern` must already have compiled with RE2.
 */
export function nativeRegExp(pattern: string): RegExp | undefined {
  const elements: Element[] = [];
  let source = '';
  let depth = 0;
  let i = 0;
  if (pattern.startsWith('^')) {
    source = '^';
    i = 1;
  }
  while (i < pattern.length) {
    const ch = pattern[i];
    if (ch === '$' && i === pattern.length - 1) {
      source += '$';
      i++;
      continue;
    }
    if (ch === '(') {
      const rest = pattern.slice(i);
      const named = /^\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>/.exec(rest);
      if (named) {
        source += `(?<${named[1]}>`;
        i += named[0].length;
      } else if (rest.startsWith('(?:')) {
        source += '(?:';
        i += 3;
      } else if (rest.startsWith('(?')) {
        return undefined; // flags
      } else {
        source += '(';
        i++;
      }
      depth++;
      continue;
    }
    if (ch === ')') {
      if (depth === 0) return undefined;
      depth--;
      source += ')';
      i++;
      // A repeated group is where backtracking engines blow up.
      if (readRepeat(pattern, i) !== undefined) return undefined;
      continue;
    }
    let set: CharSet;
    let atom: string;
    if (ch === '[') {
      const read = readClass(pattern, i);
      if (!read) return undefined;
      set = read.set;
      atom = classSource(set);
      i = read.end;
    } else if (ch === '\\') {
      const escaped = pattern[i + 1] ?? '';
      const named = CLASS_ESCAPES[escaped];
      if (named) set = charSet(named);
      else if (isPunctuation(escaped)) {
        const code = escaped.charCodeAt(0);
        set = charSet(c => c === code);
      } else return undefined;
      atom = classSource(set);
      i += 2;
    } else if (ch === '.') {
      set = charSet(() => true);
      atom = classSource(set);
      i++;
    } else if ('|^$*+?{}])'.includes(ch)) {
      return undefined;
    } else {
      const code = ch.charCodeAt(0);
      if (code < PRINTABLE_FIRST || code > PRINTABLE_LAST) return undefined;
      set = charSet(c => c === code);
      atom = classSource(set);
      i++;
    }
    const repeat = readRepeat(pattern, i);
    if (repeat === 'invalid') return undefined;
    if (repeat) {
      const { min, max } = repeat;
      atom += `{${min},${max === Infinity ? '' : max}}`;
      i = repeat.end;
    }
    elements.push({ set, min: repeat?.min ?? 1, max: repeat?.max ?? 1 });
    source += atom;
  }
  if (depth !== 0 || !stopsOneWay(elements)) return undefined;
  return new RegExp(source);
}

/**
 * A matcher for `pattern` that runs natively on the tags it can (see
 * above) and returns undefined for the others, or undefined when the
 * pattern is outside the subset. It returns the groups' values (index 0:
 * the whole match; undefined: the group took no part), or null when the
 * tag does not match.
 */
export function nativeMatcher(
  pattern: string,
):
  | ((tag: string) => ReadonlyArray<string | undefined> | null | undefined)
  | undefined {
  const re = nativeRegExp(pattern);
  if (!re) return undefined;
  return tag => (NATIVE_TAG.test(tag) ? re.exec(tag) : undefined);
}
