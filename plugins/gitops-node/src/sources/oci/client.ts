import {
  AuthenticationError,
  NotAllowedError,
  NotFoundError,
  ServiceUnavailableError,
} from '@backstage/errors';
import crypto from 'node:crypto';
import { Agent } from 'undici';
import { matchesAny } from '../../model/project';
import type { RegistryCredentials } from './credentials';
import { ImageReference, parseImageReference } from './reference';

/** How to reach one registry: credentials, plain HTTP, an extra CA. */
export interface RegistryAccess {
  credentials?: RegistryCredentials;
  /** Talk plain HTTP (Flux's `insecure`). */
  insecure?: boolean;
  /** PEM CA bundle trusted in addition to the system's. */
  ca?: string;
  /**
   * Where a Bearer challenge may send the token request besides the
   * registry's own host name: host globs (`*` for any run of characters,
   * matched against the realm's host name, or host and port), and the
   * project that allows them, named when a realm is refused. Unset: any
   * realm (the caller chose the registry, as the CLI does).
   */
  tokenHosts?: { allowed: string[]; project: string };
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
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 10;

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
      const body = await this.read(ref.registry, response, signal, r =>
        r.json(),
      ) as { tags?: string[] | null };
      tags.push(...(body.tags ?? []));
      url = nextLink(response.headers.get('link'), url);
      // Every page is asked for with the registry's credentials.
      if (url && !keepsAuthorization(new URL(baseUrl(ref, access)), url)) {
        throw new NotAllowedError(
          `Registry ${ref.registry}: the next page of the tags of ${
            ref.repository
          } is on another host (${new URL(url).host}), not followed`,
        );
      }
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
    const bytes = Buffer.from(
      await this.read(ref.registry, get, signal, r => r.arrayBuffer()),
    );
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
      const response = await this.send(
        ref.registry,
        url,
        method,
        { ...headers, ...authorization },
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
    // Checked before the cache: a token fetched for another project is not reused.
    checkRealm(host, challenge.realm, access);
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
      const response = await this.send(
        host,
        url.toString(),
        'GET',
        headers,
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
      const body = (await this.read(host, response, signal, r =>
        r.json(),
      )) as {
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
    // Tokens are per repository: without this, every repository ever scanned would keep one.
    const now = Date.now();
    for (const [k, e] of this.tokens) {
      if (e.expiresAt <= now) this.tokens.delete(k);
    }
    this.tokens.set(key, entry);
    return entry.token;
  }

  /**
   * One request, following redirects itself (a registry may send blob and
   * manifest requests on to its storage elsewhere): the `authorization`
   * header goes only to the host the request was meant for, never to
   * another host and never from HTTPS down to HTTP.
   */
  private async send(
    host: string,
    url: string,
    method: string,
    headers: Record<string, string>,
    access: RegistryAccess,
    signal?: AbortSignal,
  ): Promise<Response> {
    const first = new URL(url);
    let current = first;
    let sent = headers;
    for (let hops = 0; ; hops++) {
      const response = await this.fetchWithRetry(
        host,
        current.toString(),
        { method, headers: sent },
        access,
        signal,
      );
      const location = REDIRECTS.has(response.status)
        ? response.headers.get('location')
        : null;
      if (location === null) return response;
      await response.body?.cancel();
      const next = URL.canParse(location, current)
        ? new URL(location, current)
        : undefined;
      if (!next || !/^https?:$/.test(next.protocol)) {
        throw new ServiceUnavailableError(
          `Registry ${host}: redirected to a location that is not an HTTP(S) URL`,
        );
      }
      if (hops >= MAX_REDIRECTS) {
        throw new ServiceUnavailableError(
          `Registry ${host}: more than ${MAX_REDIRECTS} redirects from ${first.pathname}`,
        );
      }
      if (!keepsAuthorization(first, next)) {
        sent = Object.fromEntries(
          Object.entries(sent).filter(
            ([name]) => name.toLowerCase() !== 'authorization',
          ),
        );
      }
      current = next;
    }
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
          // Followed by send(), which decides where credentials may go.
          redirect: 'manual',
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
        const tries = attempt > 0 ? `, ${attempt + 1} tries` : '';
        throw new ServiceUnavailableError(
          timeout.aborted
            ? `Registry ${host}: ${init.method ?? 'GET'} ${
                new URL(url).pathname
              } timed out after ${timeoutMs}ms${tries}`
            : `Registry ${host} is unreachable: ${describeNetworkError(
                error,
              )}${tries}`,
        );
      }
      if (!RETRYABLE.has(response.status) || attempt >= maxRetries) {
        return response;
      }
      await response.body?.cancel();
      await this.backoff(attempt, response.headers.get('retry-after'), signal);
    }
  }

  /**
   * Reads a response body. The request's deadline covers the body too: a
   * registry that sends headers and then falls silent ends here, as an
   * error that says so rather than the runtime's bare abort.
   */
  private async read<T>(
    host: string,
    response: Response,
    signal: AbortSignal | undefined,
    read: (response: Response) => Promise<T>,
  ): Promise<T> {
    try {
      return await read(response);
    } catch (error) {
      if (signal?.aborted) throw error;
      const what = `${new URL(response.url).pathname}`;
      if ((error as Error)?.name === 'TimeoutError') {
        throw new ServiceUnavailableError(
          `Registry ${host}: reading the answer to ${what} timed out after ${this.options.timeoutMs}ms`,
        );
      }
      throw new ServiceUnavailableError(
        `Registry ${host}: the answer to ${what} is unreadable: ${describeNetworkError(
          error,
        )}`,
      );
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

/**
 * Whether a request meant for `origin` may carry its `authorization` header
 * to `target`: same host and port, and no step down from HTTPS to HTTP.
 */
function keepsAuthorization(origin: URL, target: string | URL): boolean {
  const to = typeof target === 'string' ? new URL(target) : target;
  return (
    to.host === origin.host &&
    (to.protocol === 'https:' || origin.protocol === 'http:')
  );
}

/**
 * Refuses a Bearer token realm that is neither on the registry's own host
 * name nor one `access.tokenHosts` allows: the token request carries the
 * registry credentials, and the backend's reach is the project's to grant.
 */
function checkRealm(
  registry: string,
  realm: string,
  access: RegistryAccess,
): void {
  if (!access.tokenHosts) return;
  const url = URL.canParse(realm) ? new URL(realm) : undefined;
  if (!url || !/^https?:$/.test(url.protocol)) {
    throw new ServiceUnavailableError(
      `Registry ${registry}: its token realm is not an HTTP(S) URL`,
    );
  }
  if (url.hostname === new URL(`http://${registry}`).hostname) return;
  const { allowed, project } = access.tokenHosts;
  if (matchesAny(allowed, url.hostname) || matchesAny(allowed, url.host)) {
    return;
  }
  const fix =
    project === 'default'
      ? `Applications in no project may use only the registry's own host: list "${url.hostname}" in registryTokenHosts of a project in gitops.projects that holds this Application`
      : `project "${project}" does not allow it: add "${url.hostname}" to its registryTokenHosts (gitops.projects)`;
  throw new NotAllowedError(
    `Registry ${registry} sends its token requests to ${url.host}, not the registry's own host; ${fix}`,
  );
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
