import {
  AuthenticationError,
  NotFoundError,
  ServiceUnavailableError,
} from '@backstage/errors';
import crypto from 'node:crypto';
import { Agent } from 'undici';
import type { RegistryCredentials } from './credentials';
import { ImageReference, parseImageReference } from './reference';

/** How to reach one registry: credentials, plain HTTP, an extra CA. */
export interface RegistryAccess {
  credentials?: RegistryCredentials;
  /** Talk plain HTTP (Flux's `insecure`). */
  insecure?: boolean;
  /** PEM CA bundle trusted in addition to the system's. */
  ca?: string;
}

export interface RegistryClientOptions {
  /** Per HTTP request, including each page and the token request. Default 30s. */
  timeoutMs?: number;
  /** Retries after 429, 502, 503, 504 or a network failure. Default 3. */
  maxRetries?: number;
  /** Longest single wait, whatever `Retry-After` asks for. Default 30s. */
  maxRetryDelayMs?: number;
  /** First backoff step when the registry gives no `Retry-After`. Default 500ms. */
  retryBaseDelayMs?: number;
}

const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

const RETRYABLE = new Set([429, 502, 503, 504]);
const MAX_PAGES = 10_000;

type Challenge =
  | { scheme: 'basic' }
  | { scheme: 'bearer'; realm: string; service?: string };

interface CachedToken {
  token: Promise<string>;
  expiresAt: number;
}

/**
 * An OCI distribution API client: tag listing with `Link` pagination, digest
 * lookup, Basic auth and the Bearer token challenge flow with cached tokens,
 * and bounded, jittered retries on 429/503. One instance is meant to be
 * shared: it remembers each host's auth challenge and caches tokens.
 *
 * Errors: `AuthenticationError` (credentials refused; the message never
 * contains them), `NotFoundError` (no such repository or tag),
 * `ServiceUnavailableError` (unreachable, timed out, 5xx, still 429 after
 * the retries).
 */
export class RegistryClient {
  private readonly options: Required<RegistryClientOptions>;
  private readonly challenges = new Map<string, Challenge>();
  private readonly tokens = new Map<string, CachedToken>();
  private readonly agents = new Map<string, Agent>();

  constructor(options: RegistryClientOptions = {}) {
    this.options = {
      timeoutMs: options.timeoutMs ?? 30_000,
      maxRetries: options.maxRetries ?? 3,
      maxRetryDelayMs: options.maxRetryDelayMs ?? 30_000,
      retryBaseDelayMs: options.retryBaseDelayMs ?? 500,
    };
  }

  /** Every tag of the image's repository, following `Link` to the last page. */
  async listTags(
    image: string | ImageReference,
    access: RegistryAccess = {},
    signal?: AbortSignal,
  ): Promise<string[]> {
    const ref = typeof image === 'string' ? parseImageReference(image) : image;
    const tags: string[] = [];
    const seen = new Set<string>();
    let url: string | undefined = `${baseUrl(ref, access)}/tags/list?n=1000`;
    while (url) {
      if (seen.has(url) || seen.size >= MAX_PAGES) {
        throw new ServiceUnavailableError(
          `Registry ${ref.registry} paginates the tags of ${ref.repository} in a loop`,
        );
      }
      seen.add(url);
      const response = await this.request(ref, url, 'GET', {}, access, signal);
      const body = (await response.json()) as { tags?: string[] | null };
      tags.push(...(body.tags ?? []));
      url = nextLink(response.headers.get('link'), url);
    }
    return tags;
  }

  /**
   * The manifest digest of `tag` (default: the reference's tag, else
   * `latest`), from `Docker-Content-Digest` on a `HEAD`.
   */
  async getDigest(
    image: string | ImageReference,
    tag?: string,
    access: RegistryAccess = {},
    signal?: AbortSignal,
  ): Promise<string> {
    const ref = typeof image === 'string' ? parseImageReference(image) : image;
    const url = `${baseUrl(ref, access)}/manifests/${
      tag ?? ref.tag ?? 'latest'
    }`;
    const headers = { accept: MANIFEST_TYPES };
    const head = await this.request(ref, url, 'HEAD', headers, access, signal);
    const digest = head.headers.get('docker-content-digest');
    if (digest) return digest;
    // Registries may omit the header; the digest is the manifest's sha256.
    const get = await this.request(ref, url, 'GET', headers, access, signal);
    const bytes = Buffer.from(await get.arrayBuffer());
    return `sha256:${crypto.createHash('sha256').update(bytes).digest('hex')}`;
  }

  private async request(
    ref: ImageReference,
    url: string,
    method: string,
    headers: Record<string, string>,
    access: RegistryAccess,
    signal?: AbortSignal,
  ): Promise<Response> {
    const scope = `repository:${ref.repository}:pull`;
    let authorization = await this.authorization(
      ref.registry,
      scope,
      access,
      signal,
    );
    for (let attempt = 0; ; attempt++) {
      const response = await this.fetchWithRetry(
        ref.registry,
        url,
        { method, headers: { ...headers, ...authorization } },
        access,
        signal,
      );
      if (response.ok) return response;
      await response.body?.cancel();
      if (response.status === 401 && attempt === 0) {
        // Learn how this host wants to be asked, then ask once more.
        const challenge = parseChallenge(
          response.headers.get('www-authenticate'),
        );
        if (
          challenge &&
          (challenge.scheme === 'bearer' || access.credentials)
        ) {
          this.challenges.set(ref.registry, challenge);
          // A cached token the registry no longer accepts is not reused.
          if (challenge.scheme === 'bearer') {
            this.tokens.delete(tokenKey(challenge, scope, access));
          }
          authorization = await this.authorization(
            ref.registry,
            scope,
            access,
            signal,
          );
          continue;
        }
      }
      throw statusError(response.status, ref, access);
    }
  }

  private async authorization(
    host: string,
    scope: string,
    access: RegistryAccess,
    signal?: AbortSignal,
  ): Promise<Record<string, string>> {
    const challenge = this.challenges.get(host);
    const credentials = access.credentials;
    if (challenge?.scheme === 'basic' && credentials) {
      return { authorization: basic(credentials) };
    }
    if (challenge?.scheme === 'bearer') {
      const token = await this.token(host, challenge, scope, access, signal);
      return { authorization: `Bearer ${token}` };
    }
    return {};
  }

  private token(
    host: string,
    challenge: Extract<Challenge, { scheme: 'bearer' }>,
    scope: string,
    access: RegistryAccess,
    signal?: AbortSignal,
  ): Promise<string> {
    const key = tokenKey(challenge, scope, access);
    const cached = this.tokens.get(key);
    if (cached && cached.expiresAt > Date.now()) return cached.token;

    const url = new URL(challenge.realm);
    if (challenge.service) url.searchParams.set('service', challenge.service);
    url.searchParams.set('scope', scope);
    const entry: CachedToken = {
      token: Promise.resolve(''),
      expiresAt: Infinity,
    };
    entry.token = (async () => {
      const headers: Record<string, string> = access.credentials
        ? { authorization: basic(access.credentials) }
        : {};
      const response = await this.fetchWithRetry(
        host,
        url.toString(),
        { headers },
        access,
        signal,
      );
      if (!response.ok) {
        await response.body?.cancel();
        if (response.status === 401 || response.status === 403) {
          throw new AuthenticationError(
            `Registry ${host}: the token service refused access${credentialsNote(
              access,
            )} (HTTP ${response.status})`,
          );
        }
        throw new ServiceUnavailableError(
          `Registry ${host}: the token service answered HTTP ${response.status}`,
        );
      }
      const body = (await response.json()) as {
        token?: string;
        access_token?: string;
        expires_in?: number;
      };
      const token = body.token ?? body.access_token;
      if (!token) {
        throw new ServiceUnavailableError(
          `Registry ${host}: the token service returned no token`,
        );
      }
      // The spec's default lifetime is 60s; renew a little before expiry.
      const lifetime = Math.max(body.expires_in ?? 60, 10) * 1000;
      entry.expiresAt = Date.now() + lifetime - Math.min(10_000, lifetime / 4);
      return token;
    })();
    // Concurrent requests share this one token request; a failed one is not kept.
    entry.token.catch(
      () => this.tokens.get(key) === entry && this.tokens.delete(key),
    );
    this.tokens.set(key, entry);
    return entry.token;
  }

  private async fetchWithRetry(
    host: string,
    url: string,
    init: RequestInit,
    access: RegistryAccess,
    signal?: AbortSignal,
  ): Promise<Response> {
    const { maxRetries, timeoutMs } = this.options;
    for (let attempt = 0; ; attempt++) {
      const timeout = AbortSignal.timeout(timeoutMs);
      let response: Response;
      try {
        response = await fetch(url, {
          ...init,
          redirect: 'follow',
          signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
          // @ts-expect-error undici's fetch option, not in the DOM RequestInit
          dispatcher: this.agent(access.ca),
        });
      } catch (error) {
        if (signal?.aborted) throw error;
        // An untrusted certificate stays untrusted: no point waiting.
        if (attempt < maxRetries && !isTlsTrustError(error)) {
          await this.backoff(attempt, undefined, signal);
          continue;
        }
        const reason = timeout.aborted
          ? `no answer within ${timeoutMs}ms`
          : describeNetworkError(error);
        throw new ServiceUnavailableError(
          `Registry ${host} is unreachable: ${reason}`,
        );
      }
      if (!RETRYABLE.has(response.status) || attempt >= maxRetries) {
        return response;
      }
      await response.body?.cancel();
      await this.backoff(attempt, response.headers.get('retry-after'), signal);
    }
  }

  private async backoff(
    attempt: number,
    retryAfter: string | null | undefined,
    signal?: AbortSignal,
  ) {
    const { retryBaseDelayMs, maxRetryDelayMs } = this.options;
    const asked = parseRetryAfter(retryAfter);
    const base = asked ?? retryBaseDelayMs * 2 ** attempt;
    // Jitter spreads the retries of many policies hitting one registry.
    const delay = Math.min(base * (1 + Math.random() * 0.25), maxRetryDelayMs);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, delay);
      signal?.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          reject(signal.reason);
        },
        { once: true },
      );
    });
  }

  private agent(ca: string | undefined): Agent | undefined {
    if (!ca) return undefined;
    let agent = this.agents.get(ca);
    if (!agent) {
      agent = new Agent({ connect: { ca } });
      this.agents.set(ca, agent);
    }
    return agent;
  }
}

function tokenKey(
  challenge: Extract<Challenge, { scheme: 'bearer' }>,
  scope: string,
  access: RegistryAccess,
): string {
  return [
    challenge.realm,
    challenge.service,
    scope,
    identity(access.credentials),
  ].join('\n');
}

function baseUrl(ref: ImageReference, access: RegistryAccess): string {
  return `${access.insecure ? 'http' : 'https'}://${ref.registry}/v2/${
    ref.repository
  }`;
}

function basic({ username, password }: RegistryCredentials): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

/** A stable, non-reversible key for a set of credentials. */
export function identity(credentials: RegistryCredentials | undefined): string {
  if (!credentials) return 'anonymous';
  return crypto
    .createHash('sha256')
    .update(`${credentials.username}\n${credentials.password}`)
    .digest('hex')
    .slice(0, 16);
}

function credentialsNote(access: RegistryAccess): string {
  return access.credentials
    ? ` for user "${access.credentials.username}"`
    : ' (no credentials given)';
}

function statusError(
  status: number,
  ref: ImageReference,
  access: RegistryAccess,
): Error {
  const what = `Registry ${ref.registry}, repository ${ref.repository}`;
  if (status === 401 || status === 403) {
    return new AuthenticationError(
      `${what}: access denied${credentialsNote(access)} (HTTP ${status})`,
    );
  }
  if (status === 404) return new NotFoundError(`${what}: not found (HTTP 404)`);
  if (status === 429) {
    return new ServiceUnavailableError(
      `${what}: still rate limited (HTTP 429) after retries`,
    );
  }
  if (status >= 500)
    return new ServiceUnavailableError(`${what}: HTTP ${status}`);
  return new Error(`${what}: unexpected HTTP ${status}`);
}

/** Parses `WWW-Authenticate: Bearer realm="…",service="…",scope="…"` or `Basic …`. */
export function parseChallenge(header: string | null): Challenge | undefined {
  if (!header) return undefined;
  const match = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!match) return undefined;
  const scheme = match[1].toLowerCase();
  if (scheme === 'basic') return { scheme: 'basic' };
  if (scheme !== 'bearer') return undefined;
  const params: Record<string, string> = {};
  for (const [, key, quoted, bare] of match[2].matchAll(
    /(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/g,
  )) {
    params[key.toLowerCase()] =
      quoted !== undefined ? quoted.replace(/\\(.)/g, '$1') : bare;
  }
  return params.realm
    ? { scheme: 'bearer', realm: params.realm, service: params.service }
    : undefined;
}

/** The `rel="next"` target of a `Link` header, resolved against `current`. */
export function nextLink(
  header: string | null,
  current: string,
): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(/,(?=\s*<)/)) {
    const match = /<([^>]*)>(.*)/.exec(part);
    if (match && /;\s*rel="?next"?/i.test(match[2])) {
      return new URL(match[1], current).toString();
    }
  }
  return undefined;
}

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date. */
export function parseRetryAfter(
  value: string | null | undefined,
): number | undefined {
  if (!value) return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function isTlsTrustError(error: unknown): boolean {
  const code = (error as { cause?: { code?: string } })?.cause?.code ?? '';
  return /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code);
}

function describeNetworkError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } })
    ?.cause;
  return (
    cause?.code ?? cause?.message ?? (error as Error)?.message ?? String(error)
  );
}
