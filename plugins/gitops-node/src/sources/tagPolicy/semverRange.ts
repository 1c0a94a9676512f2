import { RE2JS } from 're2js';
import { SemVer } from 'semver';

/*
 * Flux's semver policy checks versions against Masterminds/semver (v3)
 * constraints, whose rules differ from npm's `semver.satisfies` in ways users
 * notice: `>=1.0, <2` (comma AND), partial versions and `x` wildcards are
 * coerced per operator (`>1` means `>=2.0.0`, `<=1.2` means `<1.3.0`), and a
 * prerelease version passes only comparators whose own version carries a
 * prerelease (`>=1.0.0-0 <2.0.0` excludes `1.5.0-rc.1`; npm includes it).
 * So the grammar and each operator are ported from Masterminds; npm `semver`
 * parses the versions and provides the semver 2.0 precedence order.
 *
 * The Masterminds regexes are Go RE2 regexes, compiled here with re2js so the
 * leftmost-first matching (the `ops` alternation has an empty branch) is the
 * same as Go's.
 */
const CV =
  'v?([0-9|x|X|\\*]+)(\\.[0-9|x|X|\\*]+)?(\\.[0-9|x|X|\\*]+)?' +
  '(-([0-9A-Za-z\\-]+(\\.[0-9A-Za-z\\-]+)*))?' +
  '(\\+([0-9A-Za-z\\-]+(\\.[0-9A-Za-z\\-]+)*))?';
const OPS = '=||!=|>|<|>=|=>|<=|=<|~|~>|\\^';

const constraintRe = RE2JS.compile(`^\\s*(${OPS})\\s*(${CV})\\s*$`);
const rangeRe = RE2JS.compile(`\\s*(${CV})\\s+-\\s+(${CV})\\s*`);
const findRe = RE2JS.compile(`(${OPS})\\s*(${CV})`);
const validRe = RE2JS.compile(
  `^(\\s*(${OPS})\\s*(${CV})\\s*)((?:\\s+|,\\s*)(${OPS})\\s*(${CV})\\s*)*$`,
);

// semver.org's strict grammar: what Masterminds' StrictNewVersion accepts.
const STRICT_SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

/**
 * Parses a tag as Flux does: an optional leading `v`, then strict semver.
 * Returns `undefined` for anything else (such tags are skipped, not errors).
 */
export function parseTagVersion(tag: string): SemVer | undefined {
  const text = tag.startsWith('v') ? tag.slice(1) : tag;
  if (!STRICT_SEMVER.test(text)) return undefined;
  try {
    return new SemVer(text);
  } catch {
    // Components beyond Number.MAX_SAFE_INTEGER: not a usable version here.
    return undefined;
  }
}

interface Constraint {
  op: string;
  orig: string;
  con: SemVer;
  dirty: boolean;
  minorDirty: boolean;
  patchDirty: boolean;
}

/** A parsed Masterminds constraint: OR of AND-ed comparators. */
export interface SemverRange {
  test(version: SemVer): boolean;
}

/** Parses a Masterminds-style range; throws an `Error` saying what is wrong. */
export function parseSemverRange(range: string): SemverRange {
  const alternatives = rewriteHyphenRanges(range)
    .split('||')
    .map(segment => {
      if (!validRe.matcher(segment).find()) {
        throw new Error(`improper constraint: ${segment}`);
      }
      const parts: string[] = [];
      const matcher = findRe.matcher(segment);
      while (matcher.find()) parts.push(matcher.group(0)!);
      return (parts.length ? parts : [segment]).map(parseConstraint);
    });
  return {
    test: version =>
      alternatives.some(all => all.every(c => checkConstraint(version, c))),
  };
}

function rewriteHyphenRanges(range: string): string {
  let out = range;
  const matcher = rangeRe.matcher(range);
  while (matcher.find()) {
    out = out.replace(
      matcher.group(0)!,
      `>= ${matcher.group(1)}, <= ${matcher.group(11)}`,
    );
  }
  return out;
}

const isX = (s: string | null) => s === 'x' || s === 'X' || s === '*';

function parseConstraint(text: string): Constraint {
  const m = constraintRe.matcher(text);
  if (!m.find()) throw new Error(`improper constraint: ${text}`);
  const op = m.group(1) ?? '';
  const orig = m.group(2)!;
  const major = m.group(3);
  const minor = m.group(4)?.slice(1) ?? null;
  const patch = m.group(5)?.slice(1) ?? null;
  const pre = m.group(6) ?? '';
  let version: string;
  let dirty = true;
  let minorDirty = false;
  let patchDirty = false;
  if (isX(major) || !major) {
    version = `0.0.0${pre}`;
  } else if (isX(minor) || minor === null) {
    minorDirty = true;
    version = `${major}.0.0${pre}`;
  } else if (isX(patch) || patch === null) {
    patchDirty = true;
    version = `${major}.${minor}.0${pre}`;
  } else {
    dirty = false;
    version = orig.replace(/^v/, '');
  }
  let con: SemVer;
  try {
    // Masterminds' lenient NewVersion tolerates leading zeros here.
    con = new SemVer(version, { loose: true });
  } catch {
    throw new Error(`improper constraint: ${text}`);
  }
  return { op, orig, con, dirty, minorDirty, patchDirty };
}

function checkConstraint(v: SemVer, c: Constraint): boolean {
  // Masterminds: a prerelease version only satisfies a comparator whose own
  // version names a prerelease.
  if (v.prerelease.length > 0 && c.con.prerelease.length === 0) return false;
  switch (c.op) {
    case '':
    case '=':
      return c.dirty ? tilde(v, c) : v.compare(c.con) === 0;
    case '!=':
      return notEqual(v, c);
    case '>':
      return greaterThan(v, c);
    case '<':
      return v.compare(c.con) < 0;
    case '>=':
    case '=>':
      return v.compare(c.con) >= 0;
    case '<=':
    case '=<':
      return lessThanEqual(v, c);
    case '~':
    case '~>':
      return tilde(v, c);
    case '^':
      return caret(v, c);
    default:
      return false;
  }
}

function notEqual(v: SemVer, c: Constraint): boolean {
  if (c.dirty) {
    if (c.con.major !== v.major) return true;
    if (c.con.minor !== v.minor && !c.minorDirty) return true;
    if (c.minorDirty) return false;
    if (c.con.patch !== v.patch && !c.patchDirty) return true;
    if (c.patchDirty) {
      return (
        (v.prerelease.length > 0 || c.con.prerelease.length > 0) &&
        v.comparePre(c.con) !== 0
      );
    }
  }
  return v.compare(c.con) !== 0;
}

function greaterThan(v: SemVer, c: Constraint): boolean {
  if (!c.dirty) return v.compare(c.con) > 0;
  if (v.major > c.con.major) return true;
  if (v.major < c.con.major || c.minorDirty) return false;
  if (c.patchDirty) return v.minor > c.con.minor;
  return v.compare(c.con) > 0;
}

function lessThanEqual(v: SemVer, c: Constraint): boolean {
  if (!c.dirty) return v.compare(c.con) <= 0;
  if (v.major > c.con.major) return false;
  return !(v.major === c.con.major && v.minor > c.con.minor && !c.minorDirty);
}

function tilde(v: SemVer, c: Constraint): boolean {
  if (v.compare(c.con) < 0) return false;
  const { major, minor, patch } = c.con;
  if (
    major === 0 &&
    minor === 0 &&
    patch === 0 &&
    !c.minorDirty &&
    !c.patchDirty
  ) {
    return true;
  }
  if (v.major !== major) return false;
  return v.minor === minor || c.minorDirty;
}

function caret(v: SemVer, c: Constraint): boolean {
  if (v.compare(c.con) < 0) return false;
  if (c.con.major > 0 || c.minorDirty) return v.major === c.con.major;
  if (v.major > 0) return false;
  if (c.con.minor > 0 || c.patchDirty) return v.minor === c.con.minor;
  if (v.minor > 0) return false;
  return v.patch === c.con.patch;
}
