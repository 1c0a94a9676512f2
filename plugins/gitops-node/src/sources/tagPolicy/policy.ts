import { InputError, NotFoundError } from '@backstage/errors';
import { RE2JS } from 're2js';
import type { SemVer } from 'semver';
import { compileExpansion } from './expand';
import { parseGoFloat } from './goFloat';
import { nativeMatcher } from './nativePattern';
import { parseSemverRange, parseTagVersion } from './semverRange';
import { compareBytes } from '../../util/bytes';

/** re2js's anchor flag for a match anywhere in the input (not exported by name). */
const UNANCHORED = 0;

/** Sort order of the `alphabetical` and `numerical` policies. */
export type TagOrder = 'asc' | 'desc';

/**
 * The tag policy of an image, in the shape of the kustomize component's
 * `imageRepository` (and Flux's `ImagePolicy` spec): an optional
 * `filterTags` and exactly one of `alphabetical`, `numerical`, `semver`.
 */
export interface ImagePolicySpec {
  filterTags?: {
    /** RE2 syntax, unanchored. Empty or absent: every tag is a candidate. */
    pattern?: string;
    /** Go `Regexp.Expand` template; the policy orders its expansions. */
    extract?: string;
  };
  policy: {
    alphabetical?: { order?: TagOrder };
    numerical?: { order?: TagOrder };
    semver?: { range: string };
  };
}

/** A validated policy, ready to be applied to tag lists again and again. */
export interface CompiledImagePolicy {
  /**
   * The tag the policy picks: always one of `tags`, as given (never the
   * extracted value). Throws `NotFoundError` when no tag is a candidate, and
   * `InputError` when a `numerical` candidate is not a number.
   */
  select(tags: Iterable<string>): string;
}

/** Tags Flux leaves out of every scan unless told otherwise (cosign signatures). */
export const DEFAULT_TAG_EXCLUSIONS: readonly string[] = ['^.*\\.sig$'];

/**
 * Validates `spec` once (pattern, order, range) and returns the policy.
 * `image` only serves to name the image in error messages.
 * Throws `InputError` for an invalid spec.
 */
export function compileImagePolicy(
  spec: ImagePolicySpec,
  options: { image?: string } = {},
): CompiledImagePolicy {
  const pattern = spec.filterTags?.pattern ?? '';
  const extract = spec.filterTags?.extract ?? '';
  const describe = (reason: string) =>
    `Image policy${options.image ? ` for ${options.image}` : ''}` +
    `${pattern ? ` with pattern "${pattern}"` : ''}: ${reason}`;

  const latest = compileOrder(spec.policy, describe);
  // As in Flux, an empty pattern matches every tag, and `extract` still
  // applies to it.
  const filter =
    pattern || extract ? compileFilter(pattern, extract, describe) : undefined;

  // A registry's listing rarely changes between polls: the same tags pick
  // the same tag, found with one comparison per tag instead of a match.
  let last: { tags: string[]; picked: string } | undefined;
  return {
    select(tagList) {
      const tags = [...tagList];
      if (last && sameTags(last.tags, tags)) return last.picked;
      // Extracted value -> original tag; a later tag with the same extracted
      // value replaces an earlier one, as Flux's map does.
      const candidates = new Map<string, string>();
      for (const tag of tags) {
        const value = filter ? filter(tag) : tag;
        if (value !== undefined) candidates.set(value, tag);
      }
      if (candidates.size === 0) {
        throw new NotFoundError(describe('no tag matches'));
      }
      const chosen = latest([...candidates.keys()]);
      if (chosen === undefined) {
        throw new NotFoundError(
          describe(
            `no tag satisfies semver range "${spec.policy.semver?.range}"`,
          ),
        );
      }
      last = { tags, picked: candidates.get(chosen)! };
      return last.picked;
    },
  };
}

function sameTags(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((tag, i) => tag === b[i]);
}

/**
 * The tag `spec` picks from `tags`: the one-shot form of
 * {@link compileImagePolicy}.
 */
export function selectLatestTag(
  tags: Iterable<string>,
  spec: ImagePolicySpec,
  options: { image?: string } = {},
): string {
  return compileImagePolicy(spec, options).select(tags);
}

/**
 * Drops tags matching any of the RE2 `patterns` (Flux's `exclusionList`),
 * by default {@link DEFAULT_TAG_EXCLUSIONS}.
 */
export function excludeTags(
  tags: readonly string[],
  patterns: readonly string[] = DEFAULT_TAG_EXCLUSIONS,
): string[] {
  const compiled = patterns.map(p =>
    compileRe2(p, r => `exclusion pattern "${p}": ${r}`),
  );
  return tags.filter(tag => !compiled.some(re => re.test(tag)));
}

function compileRe2(pattern: string, describe: (reason: string) => string) {
  try {
    return RE2JS.compile(pattern);
  } catch (error) {
    throw new InputError(
      describe(`invalid regular expression: ${(error as Error).message}`),
    );
  }
}

function compileFilter(
  pattern: string,
  extract: string,
  describe: (reason: string) => string,
): (tag: string) => string | undefined {
  const re = compileRe2(pattern, describe);
  // Most patterns, on every well-formed tag, run natively: same result, faster.
  const native = nativeMatcher(pattern);
  if (!extract) {
    // Matching only: the DFA path, no capture bookkeeping.
    return tag => {
      const groups = native?.(tag);
      if (groups !== undefined) return groups ? tag : undefined;
      return re.test(tag) ? tag : undefined;
    };
  }
  const expand = compileExpansion(extract, re.namedGroups(), re.groupCount());
  // One run of the engine that records the groups: a Matcher's find() then
  // group() would match each tag twice, first without groups.
  const engine = re.re2();
  const groups = re.groupCount() + 1;
  // Tags the pattern rejects cost the group-recording engine most (it
  // explores every way to match); the matcher without groups rejects them
  // several times faster. Worth a first look only while rejects are common.
  let rejected = 0;
  let accepted = 0;
  return tag => {
    const nativeGroups = native?.(tag);
    if (nativeGroups !== undefined)
      return nativeGroups ? expand(i => nativeGroups[i]) : undefined;
    if (rejected > accepted && !re.test(tag)) {
      rejected++;
      return undefined;
    }
    const [matched, bounds] = engine.matchWithGroup(
      tag,
      0,
      tag.length,
      UNANCHORED,
      groups,
    ) as [boolean, number[] | null];
    if (!matched || !bounds) {
      rejected++;
      return undefined;
    }
    accepted++;
    return expand(i =>
      bounds[2 * i] >= 0
        ? tag.slice(bounds[2 * i], bounds[2 * i + 1])
        : undefined,
    );
  };
}

type Latest = (values: string[]) => string | undefined;

function compileOrder(
  policy: ImagePolicySpec['policy'],
  describe: (reason: string) => string,
): Latest {
  const chosen = (['alphabetical', 'numerical', 'semver'] as const).filter(
    kind => policy?.[kind] !== undefined && policy?.[kind] !== null,
  );
  if (chosen.length !== 1) {
    throw new InputError(
      describe(
        `exactly one of policy.alphabetical, policy.numerical or policy.semver is required, got ${
          chosen.length ? chosen.join(', ') : 'none'
        }`,
      ),
    );
  }
  if (policy.semver) return semverLatest(policy.semver.range ?? '', describe);
  const kind = chosen[0] as 'alphabetical' | 'numerical';
  const order = policy[kind]?.order ?? 'asc';
  if (order !== 'asc' && order !== 'desc') {
    throw new InputError(
      describe(`policy.${kind}.order must be "asc" or "desc", got "${order}"`),
    );
  }
  return kind === 'alphabetical'
    ? alphabeticalLatest(order)
    : numericalLatest(order, describe);
}

function alphabeticalLatest(order: TagOrder): Latest {
  const sign = order === 'asc' ? 1 : -1;
  return values =>
    values.reduce((best, v) => (sign * compareBytes(v, best) > 0 ? v : best));
}

function numericalLatest(
  order: TagOrder,
  describe: (reason: string) => string,
): Latest {
  return values => {
    let latest: string | undefined;
    let latestValue = 0;
    for (const value of values) {
      const number = parseGoFloat(value);
      if (number === undefined) {
        throw new InputError(
          describe(
            `numerical policy cannot order "${value}": it is not a number`,
          ),
        );
      }
      // Flux's loop: a later value replaces the current one unless it is
      // strictly worse, so ties go to the later value.
      const worse =
        order === 'asc' ? number < latestValue : number > latestValue;
      if (latest === undefined || !worse) {
        latest = value;
        latestValue = number;
      }
    }
    return latest;
  };
}

function semverLatest(
  range: string,
  describe: (reason: string) => string,
): Latest {
  let constraint: ReturnType<typeof parseSemverRange>;
  try {
    constraint = parseSemverRange(range);
  } catch (error) {
    throw new InputError(
      describe(`invalid semver range "${range}": ${(error as Error).message}`),
    );
  }
  return values => {
    let latest: string | undefined;
    let latestVersion: SemVer | undefined;
    for (const value of values) {
      const version = parseTagVersion(value);
      if (
        version &&
        constraint.test(version) &&
        (!latestVersion || version.compare(latestVersion) > 0)
      ) {
        latest = value;
        latestVersion = version;
      }
    }
    return latest;
  };
}
