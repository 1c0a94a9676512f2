import type { ImagePolicySpec } from './policy';

/**
 * An image policy in the words the UI and history show, e.g. `numerical asc`
 * or `semver >=1.0.0 <2.0.0`; undefined when the spec names no policy.
 */
export function describeImagePolicy(
  policy: ImagePolicySpec['policy'] | undefined,
): string | undefined {
  if (policy?.semver) return `semver ${policy.semver.range}`;
  if (policy?.numerical) return `numerical ${policy.numerical.order ?? 'asc'}`;
  if (policy?.alphabetical) {
    return `alphabetical ${policy.alphabetical.order ?? 'asc'}`;
  }
  return undefined;
}
