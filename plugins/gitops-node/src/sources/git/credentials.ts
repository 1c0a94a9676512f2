/** Basic-auth credentials for an HTTP(S) Git remote. */
export interface GitCredentials {
  username: string;
  password: string;
}

/**
 * Where credentials come from when the Application names no Secret, e.g.
 * Backstage's `integrations` config. Called with the remote URL (no userinfo).
 */
export type GitCredentialsProvider = (
  url: string,
) => Promise<GitCredentials | undefined> | GitCredentials | undefined;

/**
 * The part of Backstage's `ScmIntegrationRegistry` this needs, typed
 * structurally so the engine does not depend on `@backstage/integration`:
 * pass `ScmIntegrations.fromConfig(config)`. Its `ScmIntegration` type does
 * not declare `config`, but every concrete integration (GitHub, GitLab,
 * Bitbucket, Gitea, Azure…) carries one, which is read at run time.
 */
export interface ScmIntegrationsLike {
  byUrl(url: string): { type: string } | undefined;
}

/** The credential fields the integrations' configs use. */
interface IntegrationCredentialsConfig {
  token?: string;
  username?: string;
  password?: string;
  appPassword?: string;
}

/**
 * Maps an integration's token to the Basic credentials its host expects over
 * Git smart HTTP (the same user names Backstage's scaffolder uses).
 */
export function credentialsFromIntegrations(
  integrations: ScmIntegrationsLike,
): GitCredentialsProvider {
  return url => {
    const integration = integrations.byUrl(url);
    if (!integration) return undefined;
    const { type } = integration;
    const config: IntegrationCredentialsConfig =
      (integration as { config?: IntegrationCredentialsConfig }).config ?? {};
    if (config.username && (config.appPassword || config.password)) {
      return {
        username: config.username,
        password: (config.appPassword ?? config.password)!,
      };
    }
    if (!config.token) return undefined;
    const username =
      {
        github: 'x-access-token',
        gitlab: 'oauth2',
        bitbucketCloud: 'x-token-auth',
        azure: 'notempty',
      }[type] ?? 'x-access-token';
    return { username, password: config.token };
  };
}

/**
 * Splits credentials out of a URL so that they never reach `.git/config`,
 * logs or error messages. Credentials written into the URL still work.
 */
export function splitUrlCredentials(url: string): {
  url: string;
  credentials?: GitCredentials;
} {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { url };
  }
  if (!parsed.username && !parsed.password) return { url };
  const credentials = {
    username: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
  };
  parsed.username = '';
  parsed.password = '';
  return { url: parsed.toString(), credentials };
}

export function basicAuthHeader(credentials: GitCredentials): string {
  return `Basic ${Buffer.from(
    `${credentials.username}:${credentials.password}`,
  ).toString('base64')}`;
}

/** Removes every trace of the credentials from a message meant for humans. */
export function redact(
  message: string,
  credentials: GitCredentials | undefined,
): string {
  if (!credentials) return message;
  let out = message;
  for (const secret of [
    credentials.password,
    basicAuthHeader(credentials).slice('Basic '.length),
    encodeURIComponent(credentials.password),
  ]) {
    if (secret) out = out.split(secret).join('***');
  }
  return out;
}
