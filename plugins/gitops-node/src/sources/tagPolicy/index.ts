/**
 * Tag policies with Flux image-reflector semantics. Pure: no I/O.
 *
 * - {@link compileImagePolicy} validates a spec once (bad pattern, order or
 *   range: `InputError`) and returns a policy whose `select(tags)` returns the
 *   chosen tag, always one of the given tags. No candidate: `NotFoundError`;
 *   a `numerical` candidate that is not a number: `InputError`.
 * - {@link selectLatestTag} is the one-shot form.
 * - {@link excludeTags} applies Flux's `exclusionList` (by default
 *   {@link DEFAULT_TAG_EXCLUSIONS}: cosign `*.sig` tags); the registry scanner
 *   applies it, so policies see scanned tags without signatures.
 *
 * Patterns are RE2 (linear time: re2js, or JavaScript's own RegExp for the
 * patterns and tags where it gives the same result in linear time, see
 * `nativePattern.ts`), unanchored, with `(?P<n>…)` and
 * `(?<n>…)` groups; `extract` expands like Go's `Regexp.Expand`; tags whose
 * extracted values collide: the last wins. `alphabetical` is byte order,
 * `numerical` Go's `ParseFloat`, `semver` strict semver after an optional `v`
 * checked against Masterminds/semver ranges.
 *
 * @example
 * ```ts
 * selectLatestTag(tags, {
 *   filterTags: { pattern: '^master-[a-f0-9]+-(?P<ts>[0-9]+)', extract: '$ts' },
 *   policy: { numerical: { order: 'asc' } },
 * });
 * ```
 */
export {
  compileImagePolicy,
  selectLatestTag,
  excludeTags,
  DEFAULT_TAG_EXCLUSIONS,
} from './policy';
export type { ImagePolicySpec, CompiledImagePolicy, TagOrder } from './policy';
export { describeImagePolicy } from './describe';
