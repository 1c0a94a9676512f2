import { InputError } from '@backstage/errors';
import { registryHost } from './reference';

/** A username and password (or token) for one registry. */
export interface RegistryCredentials {
  username: string;
  password: string;
}

/** Host → credentials, from a `.dockerconfigjson` document. */
export type DockerConfigCredentials = Map<string, RegistryCredentials>;

/**
 * Parses a `.dockerconfigjson` document (what `kubectl create secret
 * docker-registry` stores): each `auths` entry has either `auth`
 * (base64 `user:password`) or `username` and `password`. Keys are matched by
 * host, so `https://index.docker.io/v1/` and `docker.io` are the same entry.
 * Errors never quote the document: it holds secrets.
 */
export function parseDockerConfigJson(
  document: string | Buffer,
): DockerConfigCredentials {
  let parsed: unknown;
  try {
    parsed = JSON.parse(document.toString());
  } catch {
    throw new InputError('The .dockerconfigjson document is not valid JSON');
  }
  const auths = (parsed as { auths?: unknown })?.auths;
  if (!auths || typeof auths !== 'object') {
    throw new InputError(
      'The .dockerconfigjson document has no "auths" object',
    );
  }
  const result: DockerConfigCredentials = new Map();
  for (const [key, entry] of Object.entries(auths as Record<string, any>)) {
    let username: string | undefined = entry?.username;
    let password: string | undefined = entry?.password;
    if (typeof entry?.auth === 'string' && entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const separator = decoded.indexOf(':');
      if (separator < 0) {
        throw new InputError(
          `The .dockerconfigjson entry for "${key}" has an "auth" that is not base64 of user:password`,
        );
      }
      username = decoded.slice(0, separator);
      password = decoded.slice(separator + 1);
    }
    if (typeof username === 'string' && typeof password === 'string') {
      result.set(registryHost(key), { username, password });
    }
  }
  return result;
}

/**
 * Credentials from a `kubernetes.io/dockerconfigjson` Secret object (its
 * `data` base64-encoded as the API returns it, or `stringData`).
 */
export function credentialsFromSecret(secret: {
  metadata?: { name?: string; namespace?: string };
  type?: string;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}): DockerConfigCredentials {
  const name = `${secret.metadata?.namespace ?? ''}/${
    secret.metadata?.name ?? ''
  }`;
  if (secret.type && secret.type !== 'kubernetes.io/dockerconfigjson') {
    throw new InputError(
      `Secret ${name} is of type ${secret.type}, expected kubernetes.io/dockerconfigjson`,
    );
  }
  const encoded = secret.data?.['.dockerconfigjson'];
  const document = encoded
    ? Buffer.from(encoded, 'base64')
    : secret.stringData?.['.dockerconfigjson'];
  if (!document) {
    throw new InputError(`Secret ${name} has no .dockerconfigjson key`);
  }
  return parseDockerConfigJson(document);
}

/** The credentials for `registry` (a host, host:port or URL), if any. */
export function credentialsForRegistry(
  config: DockerConfigCredentials | undefined,
  registry: string,
): RegistryCredentials | undefined {
  return config?.get(registryHost(registry));
}
