/**
 * Image registry scanning (OCI distribution API) for image policies.
 *
 * - {@link ImagePolicyEvaluator} is what automation calls each interval:
 *   `evaluate('default:gitops', { image, spec, credentials })` resolves with
 *   the chosen tag (and its digest, as `digestReflectionPolicy` says), or, when anything fails, the last
 *   good tag plus the error — it never rejects, and recovers by itself.
 * - {@link ImageScanner} lists an image at most once per interval per
 *   credentials, shared by every policy on that image; it drops cosign `*.sig`
 *   tags by default (`exclusionList`).
 * - {@link RegistryClient} is the HTTP client: `listTags` (with `Link`
 *   pagination) and `getDigest`, Basic and Bearer-token auth, retries on
 *   429/503 honouring `Retry-After`. Errors: `AuthenticationError`,
 *   `NotFoundError`, `ServiceUnavailableError`; none contains a secret.
 * - Credentials come from a `kubernetes.io/dockerconfigjson` Secret:
 *   {@link credentialsFromSecret} then {@link credentialsForRegistry}.
 * - {@link parseImageReference} applies Docker Hub normalisation
 *   (`nginx` → `index.docker.io/library/nginx`).
 *
 * @example
 * ```ts
 * const evaluator = new ImagePolicyEvaluator();
 * const auths = credentialsFromSecret(secret);
 * const result = await evaluator.evaluate('default:gitops', {
 *   image: 'registry.example.com/team/app',
 *   credentials: credentialsForRegistry(auths, 'registry.example.com'),
 *   intervalMs: 60_000,
 *   spec: {
 *     filterTags: { pattern: '^master-[a-f0-9]+-(?P<ts>[0-9]+)', extract: '$ts' },
 *     policy: { numerical: { order: 'asc' } },
 *   },
 * });
 * // { image: 'registry.example.com/team/app', tag: 'master-…' }, plus `error`
 * // (and the last good tag) while the registry or the spec is failing
 * ```
 */
export { RegistryClient } from './client';
export type { RegistryAccess, RegistryClientOptions } from './client';
export {
  credentialsForRegistry,
  credentialsFromSecret,
  parseDockerConfigJson,
} from './credentials';
export type {
  DockerConfigCredentials,
  RegistryCredentials,
} from './credentials';
export { parseImageReference } from './reference';
export type { ImageReference } from './reference';
export { DIGEST_REFLECTION_POLICIES, digestAction } from './digests';
export type { DigestReflectionPolicy, ReflectedDigest } from './digests';
export { ImagePolicyEvaluator, ImageScanner } from './scanner';
export type {
  EvaluateOptions,
  ImagePolicyResult,
  ImageScan,
  ScanOptions,
} from './scanner';
