import { InputError } from '@backstage/errors';

/** Docker Hub's names as users write them, and the index host we call. */
const DOCKER_HUB_ALIASES = new Set([
  'docker.io',
  'index.docker.io',
  'registry-1.docker.io',
]);
export const DOCKER_HUB_HOST = 'index.docker.io';

/** A parsed image reference such as `ghcr.io/org/app:1.2` or `nginx`. */
export interface ImageReference {
  /** The registry host (with port) requests go to; Docker Hub is `index.docker.io`. */
  registry: string;
  /** The repository path inside the registry, e.g. `library/nginx`. */
  repository: string;
  tag?: string;
  digest?: string;
  /** `registry/repository`: the image without tag or digest. */
  name: string;
}

// The distribution reference grammar (lower-case path components joined by
// separators; tags up to 128 word characters, dots and dashes).
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/**
 * Parses an image reference with Docker's normalisation: a first component
 * that has no `.` or `:` and is not `localhost` is a Docker Hub repository,
 * and a single-component Docker Hub name lives under `library/`.
 * Throws `InputError` for a reference that cannot name an image.
 */
export function parseImageReference(reference: string): ImageReference {
  const invalid = (why: string) =>
    new InputError(`Invalid image reference "${reference}": ${why}`);
  let rest = reference.trim();
  if (!rest) throw invalid('it is empty');

  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw invalid(`"${digest}" is not a digest`);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw invalid(`"${tag}" is not a valid tag`);
  }

  const parts = rest.split('/');
  let registry = DOCKER_HUB_HOST;
  if (
    parts.length > 1 &&
    (parts[0].includes('.') ||
      parts[0].includes(':') ||
      parts[0] === 'localhost')
  ) {
    registry = parts.shift()!.toLowerCase();
  }
  if (DOCKER_HUB_ALIASES.has(registry)) {
    registry = DOCKER_HUB_HOST;
    if (parts.length === 1) parts.unshift('library');
  }
  const bad = parts.find(part => !PATH_COMPONENT.test(part));
  if (bad !== undefined) {
    throw invalid(`"${bad}" is not a valid repository path component`);
  }
  const repository = parts.join('/');
  return {
    registry,
    repository,
    tag,
    digest,
    name: `${registry}/${repository}`,
  };
}

/**
 * The host a credential entry or registry name refers to, for matching:
 * scheme and path dropped (`https://index.docker.io/v1/` → `index.docker.io`),
 * Docker Hub aliases folded together.
 */
export function registryHost(nameOrUrl: string): string {
  const host = nameOrUrl
    .trim()
    .replace(/^[a-z][a-z0-9+.-]*:\/\//i, '')
    .replace(/\/.*$/, '')
    .toLowerCase();
  return DOCKER_HUB_ALIASES.has(host) ? DOCKER_HUB_HOST : host;
}
