/**
 * Flux's `digestReflectionPolicy`: whether the chosen tag's manifest digest
 * is reflected (and written by the markers as `image:tag@digest`), and when
 * it is looked up again.
 */
export type DigestReflectionPolicy = 'Never' | 'IfNotPresent' | 'Always';

export const DIGEST_REFLECTION_POLICIES: readonly DigestReflectionPolicy[] = [
  'Never',
  'IfNotPresent',
  'Always',
];

/** A digest looked up for an image's tag, and when the listing it went with was made. */
export interface ReflectedDigest {
  image: string;
  tag: string;
  digest: string;
  /** The `scannedAt` (epoch ms) of the tag listing that chose the tag when it was looked up. */
  scannedAt: number;
}

/**
 * What one evaluation does about the chosen tag's digest, as Flux's
 * image-reflector-controller does: `Never` reflects none; `IfNotPresent`
 * looks it up once and keeps it for as long as the same tag is chosen, so a
 * tag re-pushed with other content is not followed; `Always` looks it up
 * again with every new listing of the tags (each `interval`, or at once on
 * a manual sync or a registry webhook), so a moved tag gets its new digest.
 */
export function digestAction(
  policy: DigestReflectionPolicy,
  choice: { image: string; tag: string; scannedAt: number },
  known: ReflectedDigest | undefined,
): 'none' | 'keep' | 'lookUp' {
  if (policy === 'Never') return 'none';
  if (!known || known.image !== choice.image || known.tag !== choice.tag)
    return 'lookUp';
  if (policy === 'Always' && choice.scannedAt > known.scannedAt)
    return 'lookUp';
  return 'keep';
}
