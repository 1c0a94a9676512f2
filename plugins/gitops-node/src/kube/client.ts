import { AsyncLocalStorage } from 'node:async_hooks';
import http, { type ClientRequest } from 'node:http';
import https from 'node:https';
import { KubeConfig } from '@kubernetes/client-node';
import {
  AuthenticationError,
  ConflictError,
  InputError,
  NotAllowedError,
  NotFoundError,
  ServiceUnavailableError,
} from '@backstage/errors';
import { RequestLimiter, type RequestRateOptions } from './limiter';
import { apiVersionOf, groupOf, type ObjectRef } from './objects';
import type { KubeObject } from './objects';
import {
  describeKubeError,
  kubeConfigFor,
  type ClusterConnectionConfig,
} from '../clusters';

export interface ResourceInfo {
  /** URL segment of the resource, e.g. `deployments`. */
  plural: string;
  namespaced: boolean;
}

const passSignal = new AsyncLocalStorage<AbortSignal>();

/**
 * Runs `fn` so that every Kubernetes request it makes without a signal of
 * its own ends when `signal` aborts: a pass stopped at its deadline (before
 * its shard lease ends) leaves no request in flight that a slow or
 * black-holed API server could still carry out after another replica took
 * the shard over.
 */
export function withRequestSignal<T>(
  signal: AbortSignal,
  fn: () => Promise<T>,
): Promise<T> {
  return passSignal.run(signal, fn);
}

interface RequestOptions {
  query?: Record<string, string | undefined>;
  body?: unknown;
  contentType?: string;
  /** Ends the request early, e.g. when the pass it belongs to is aborted. */
  signal?: AbortSignal;
}

export interface KubeClientOptions extends RequestRateOptions {
  /**
   * Deadline of one API request, from sending it to the end of the
   * response. Default 30 s. Watches are long by design: their response
   * headers must arrive within this, and the rest has its own bound (below).
   */
  requestTimeoutMs?: number;
  /**
   * How much longer than the `timeoutSeconds` it asked for a watch may stay
   * open before it is taken for a dead connection and ended. Default 30 s.
   */
  watchGraceMs?: number;
}

interface Response<T> {
  status: number;
  body: T;
}

interface KubeStatus {
  kind?: string;
  message?: string;
  reason?: string;
}

type Resolvable = Pick<ObjectRef, 'group' | 'version' | 'kind'>;

const AUTH_REFRESH_MS = 60_000;
const MAX_THROTTLE_RETRIES = 5;

/**
 * A thin Kubernetes API client: JSON over one keep-alive connection pool,
 * the kubeconfig's TLS material and credentials, cached discovery. Errors are
 * `@backstage/errors` types carrying the API server's message (never the
 * request's credentials).
 */
export class KubeClient {
  static fromKubeConfig(
    kc: KubeConfig,
    options?: KubeClientOptions,
  ): KubeClient {
    return new KubeClient(kc, options);
  }

  /** A kubeconfig file; without one, `KUBECONFIG`, then `~/.kube/config`, then in-cluster. */
  static fromKubeconfigFile(
    file?: string,
    context?: string,
    options?: KubeClientOptions,
  ): KubeClient {
    const kc = new KubeConfig();
    if (file) kc.loadFromFile(file);
    else kc.loadFromDefault();
    if (context) kc.setCurrentContext(context);
    return new KubeClient(kc, options);
  }

  /** A configured cluster (`gitops.clusters[]`): kubeconfig file, or URL + token + CA. */
  static fromCluster(
    cluster: ClusterConnectionConfig,
    options?: KubeClientOptions,
  ): KubeClient {
    return new KubeClient(kubeConfigFor(cluster), options);
  }

  readonly server: URL;
  private agent?: http.Agent;
  private auth?: {
    headers: Record<string, string>;
    basic?: string;
    at: number;
  };
  private readonly discovery = new Map<
    string,
    Promise<Map<string, ResourceInfo>>
  >();

  private readonly requestTimeoutMs: number;
  private readonly watchGraceMs: number;
  /** Shared with `asUser` views: the rate limit is the cluster's, not one user's. */
  private readonly limiter: RequestLimiter;
  /** Set by `asUser`: the user every request goes as, and the client whose connections it shares. */
  private impersonating?: { user: string; root: KubeClient };

  private constructor(
    private readonly kc: KubeConfig,
    options: KubeClientOptions = {},
  ) {
    const server = kc.getCurrentCluster()?.server;
    if (!server)
      throw new InputError(
        'The kubeconfig has no current cluster with a server URL',
      );
    this.server = new URL(server);
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.watchGraceMs = options.watchGraceMs ?? 30_000;
    this.limiter = new RequestLimiter(options);
  }

  /** The error of a request that got no (complete) answer in time; names the request, never its credentials. */
  private timeoutError(what: string, ms: number): ServiceUnavailableError {
    return new ServiceUnavailableError(
      `Kubernetes API server ${this.server.origin}: ${what} timed out after ${ms}ms`,
    );
  }

  /** The namespace of the kubeconfig's current context (`default` when unset). */
  get contextNamespace(): string {
    return (
      this.kc.getContextObject(this.kc.getCurrentContext())?.namespace ??
      'default'
    );
  }

  /**
   * The same cluster, connections and discovery, with every request (reads,
   * writes, watches) sent as `user` through `Impersonate-User`: the API
   * server's RBAC for that user decides, e.g.
   * `system:serviceaccount:<namespace>:<name>`.
   */
  asUser(user: string): KubeClient {
    const view = Object.create(KubeClient.prototype) as KubeClient;
    return Object.assign(view, this, {
      impersonating: { user, root: this.impersonating?.root ?? this },
    });
  }

  private async connection(): Promise<{
    agent: http.Agent;
    headers: Record<string, string>;
    basic?: string;
  }> {
    if (this.impersonating) {
      const shared = await this.impersonating.root.connection();
      return {
        ...shared,
        headers: {
          ...shared.headers,
          'Impersonate-User': this.impersonating.user,
        },
      };
    }
    if (!this.auth || Date.now() - this.auth.at > AUTH_REFRESH_MS) {
      // client-node resolves tokens, exec plugins and TLS files; we keep one pooled agent.
      const opts: https.RequestOptions & { headers?: Record<string, string> } =
        { headers: {} };
      await this.kc.applyToHTTPSOptions(opts);
      if (!this.agent) {
        const agentOptions = {
          keepAlive: true,
          maxSockets: 32,
          ca: opts.ca,
          cert: opts.cert,
          key: opts.key,
          servername: opts.servername,
          ...(opts.rejectUnauthorized !== undefined
            ? { rejectUnauthorized: opts.rejectUnauthorized }
            : {}),
        };
        this.agent =
          this.server.protocol === 'https:'
            ? new https.Agent(agentOptions)
            : new http.Agent({ keepAlive: true, maxSockets: 32 });
      }
      this.auth = {
        headers: { ...(opts.headers as Record<string, string>) },
        basic: opts.auth ?? undefined,
        at: Date.now(),
      };
    }
    return {
      agent: this.agent!,
      headers: this.auth.headers,
      basic: this.auth.basic,
    };
  }

  /** One API call; any status ≥ 400 other than those in `allow` becomes an error. */
  async request<T>(
    method: string,
    path: string,
    options: RequestOptions = {},
    allow: number[] = [],
  ): Promise<Response<T>> {
    // Appended, not resolved: a server URL may carry a path prefix (e.g. behind a proxy).
    const url = new URL(`${this.server.href.replace(/\/$/, '')}${path}`);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, value);
    }
    const { agent, headers, basic } = await this.connection();
    const payload =
      options.body === undefined ? undefined : JSON.stringify(options.body);
    const requestHeaders: Record<string, string | number> = {
      ...headers,
      accept: 'application/json',
    };
    if (payload !== undefined) {
      requestHeaders['content-type'] =
        options.contentType ?? 'application/json';
      requestHeaders['content-length'] = Buffer.byteLength(payload);
    }
    const transport = url.protocol === 'https:' ? https : http;
    const what = `${method} ${url.pathname}`;
    const signal = options.signal ?? passSignal.getStore();
    const timeoutMs = this.requestTimeoutMs;
    const send = () =>
      new Promise<{
        status: number;
        text: string;
        retryAfter?: string;
      }>((resolve, reject) => {
        // One deadline over the whole exchange: a socket timeout alone would
        // let a server that trickles bytes hold the request for ever.
        let req: ClientRequest | undefined = undefined;
        const timer = setTimeout(() => {
          reject(this.timeoutError(what, timeoutMs));
          req?.destroy();
        }, timeoutMs);
        const settle = () => clearTimeout(timer);
        req = transport.request(
          url,
          {
            method,
            agent,
            headers: requestHeaders,
            auth: basic,
            signal,
          },
          res => {
            const chunks: Buffer[] = [];
            res.on('data', chunk => chunks.push(chunk));
            res.on('end', () => {
              settle();
              resolve({
                status: res.statusCode ?? 0,
                text: Buffer.concat(chunks).toString('utf8'),
                retryAfter: res.headers['retry-after'],
              });
            });
            res.on('error', error => {
              settle();
              reject(error);
            });
          },
        );
        req.on('error', error => {
          settle();
          reject(
            signal?.aborted
              ? new ServiceUnavailableError(
                  `Kubernetes API server ${this.server.origin}: ${what} was aborted`,
                )
              : new ServiceUnavailableError(
                  `Kubernetes API server ${
                    this.server.origin
                  }: ${describeKubeError(error)}`,
                ),
          );
        });
        req.end(payload);
      });
    const sendInTurn = async () => {
      await this.limiter.acquire(signal);
      return send();
    };
    let response = await sendInTurn();
    // API Priority and Fairness sheds load with 429 + Retry-After: wait and retry a few times.
    for (
      let attempt = 1;
      response.status === 429 && attempt <= MAX_THROTTLE_RETRIES;
      attempt++
    ) {
      const seconds = Number(response.retryAfter);
      const waitMs =
        Number.isFinite(seconds) && seconds > 0
          ? Math.min(seconds, 10) * 1000
          : 250 * attempt;
      await new Promise(resolve => setTimeout(resolve, waitMs));
      response = await sendInTurn();
    }
    const { status, text } = response;
    let body: unknown = undefined;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        body = { message: text.slice(0, 200) };
      }
    }
    if (status >= 400 && !allow.includes(status)) {
      throw statusError(
        status,
        `${method} ${url.pathname}${
          this.impersonating ? ` as ${this.impersonating.user}` : ''
        }`,
        body as KubeStatus,
      );
    }
    return { status, body: body as T };
  }

  /**
   * Streams changes to a kind, calling `onEvent` for each (`ADDED`,
   * `MODIFIED`, `DELETED`, and `BOOKMARK`s that only carry a newer
   * resourceVersion), until the server ends the watch (after
   * `timeoutSeconds`), the signal aborts, or the connection fails. From
   * resourceVersion `0` the server first replays every existing object as
   * ADDED. Resolves with the last resourceVersion seen, to continue from; a
   * 410 Gone (history compacted) rejects with a ConflictError: list again.
   */
  async watch(
    ref: Resolvable,
    options: {
      namespace?: string;
      labelSelector?: string;
      resourceVersion?: string;
      timeoutSeconds?: number;
      signal?: AbortSignal;
    },
    onEvent: (type: string, object: KubeObject) => void,
  ): Promise<string | undefined> {
    const path = await this.path({ ...ref, namespace: options.namespace });
    const url = new URL(`${this.server.href.replace(/\/$/, '')}${path}`);
    url.searchParams.set('watch', 'true');
    url.searchParams.set('allowWatchBookmarks', 'true');
    url.searchParams.set('resourceVersion', options.resourceVersion ?? '0');
    if (options.labelSelector)
      url.searchParams.set('labelSelector', options.labelSelector);
    const watchSeconds = options.timeoutSeconds ?? 300;
    url.searchParams.set('timeoutSeconds', String(watchSeconds));
    await this.limiter.acquire(options.signal);
    const { agent, headers, basic } = await this.connection();
    const transport = url.protocol === 'https:' ? https : http;
    let resourceVersion = options.resourceVersion;
    const what = `WATCH ${url.pathname}`;
    // Liveness: the headers must come as fast as any answer, and the server
    // ends the watch itself after timeoutSeconds; a watch still open well
    // past that is a dead connection that no event will ever cross.
    const headersMs = this.requestTimeoutMs;
    const lifetimeMs = watchSeconds * 1000 + this.watchGraceMs;
    let timer: NodeJS.Timeout | undefined;
    const watching = new Promise<string | undefined>((resolve, reject) => {
      let req: ClientRequest | undefined = undefined;
      const expire = (detail: string, ms: number) =>
        setTimeout(() => {
          reject(this.timeoutError(`${what} (${detail})`, ms));
          req?.destroy();
        }, ms);
      timer = expire('waiting for the response', headersMs);
      req = transport.request(
        url,
        {
          method: 'GET',
          agent,
          headers: { ...headers, accept: 'application/json' },
          auth: basic,
          signal: options.signal,
        },
        res => {
          clearTimeout(timer);
          timer = expire('the server never ended it', lifetimeMs);
          if ((res.statusCode ?? 0) >= 400) {
            res.resume();
            reject(
              statusError(res.statusCode ?? 0, `WATCH ${url.pathname}`, {}),
            );
            return;
          }
          let buffered = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            buffered += chunk;
            let newline = buffered.indexOf('\n');
            while (newline >= 0) {
              const line = buffered.slice(0, newline).trim();
              buffered = buffered.slice(newline + 1);
              newline = buffered.indexOf('\n');
              if (!line) continue;
              let event: {
                type: string;
                object: KubeObject & KubeStatus & { code?: number };
              };
              try {
                event = JSON.parse(line);
              } catch {
                // Thrown here it would escape to the process: end the watch instead.
                req?.destroy();
                reject(
                  new ServiceUnavailableError(
                    `Kubernetes API server ${this.server.origin}: ${what} sent a line that is not JSON`,
                  ),
                );
                return;
              }
              if (event.type === 'ERROR') {
                req?.destroy();
                reject(
                  statusError(
                    event.object.code ?? 500,
                    `WATCH ${url.pathname}`,
                    event.object,
                  ),
                );
                return;
              }
              const version = event.object.metadata?.resourceVersion;
              if (typeof version === 'string') resourceVersion = version;
              onEvent(event.type, event.object);
            }
          });
          res.on('end', () => resolve(resourceVersion));
          // The server went away mid-watch (a restart resets the connection).
          res.on('error', error =>
            options.signal?.aborted
              ? resolve(resourceVersion)
              : reject(
                  new ServiceUnavailableError(
                    `Kubernetes API server ${
                      this.server.origin
                    }: ${what} broke off: ${describeKubeError(error)}`,
                  ),
                ),
          );
        },
      );
      req.on('error', error =>
        options.signal?.aborted
          ? resolve(resourceVersion)
          : reject(
              new ServiceUnavailableError(
                `Kubernetes API server ${
                  this.server.origin
                }: ${describeKubeError(error)}`,
              ),
            ),
      );
      req.end();
    });
    return watching.finally(() => clearTimeout(timer));
  }

  /** Plural and scope of a kind, from the API server's discovery documents (cached per group/version). */
  async resource(ref: Resolvable): Promise<ResourceInfo> {
    const groupVersion = apiVersionOf({ ...ref, name: '' });
    for (const fresh of [false, true]) {
      if (fresh) this.discovery.delete(groupVersion);
      let entry = this.discovery.get(groupVersion);
      if (!entry) {
        entry = this.loadDiscovery(groupVersion);
        this.discovery.set(groupVersion, entry);
        entry.catch(() => this.discovery.delete(groupVersion));
      }
      const info = (await entry).get(ref.kind);
      if (info) return info;
    }
    throw new NotFoundError(
      `The cluster has no kind ${ref.kind} in ${groupVersion}`,
    );
  }

  /** Forgets discovery, e.g. after installing a CRD. */
  invalidateDiscovery(groupVersion?: string): void {
    if (groupVersion) this.discovery.delete(groupVersion);
    else this.discovery.clear();
  }

  private async loadDiscovery(
    groupVersion: string,
  ): Promise<Map<string, ResourceInfo>> {
    const path = groupVersion.includes('/')
      ? `/apis/${groupVersion}`
      : `/api/${groupVersion}`;
    const { status, body } = await this.request<{
      resources?: Array<{ name: string; kind: string; namespaced: boolean }>;
    }>('GET', path, {}, [404]);
    const kinds = new Map<string, ResourceInfo>();
    if (status === 404) return kinds;
    for (const resource of body.resources ?? []) {
      if (!resource.name.includes('/')) {
        kinds.set(resource.kind, {
          plural: resource.name,
          namespaced: resource.namespaced,
        });
      }
    }
    return kinds;
  }

  /** The URL path of a resource collection (no name) or of one object. */
  async path(
    ref: Resolvable & { namespace?: string; name?: string },
    subresource?: string,
  ): Promise<string> {
    const info = await this.resource(ref);
    const base = ref.group
      ? `/apis/${ref.group}/${ref.version}`
      : `/api/${ref.version}`;
    const ns =
      info.namespaced && ref.namespace
        ? `/namespaces/${encodeURIComponent(ref.namespace)}`
        : '';
    const name = ref.name ? `/${encodeURIComponent(ref.name)}` : '';
    return `${base}${ns}/${info.plural}${name}${
      subresource ? `/${subresource}` : ''
    }`;
  }

  async get(ref: ObjectRef): Promise<KubeObject | undefined> {
    const { status, body } = await this.request<KubeObject>(
      'GET',
      await this.path(ref),
      {},
      [404],
    );
    return status === 404 ? undefined : body;
  }

  /** Every object of a kind (in a namespace, or all), following `continue` tokens. */
  async list(
    ref: Resolvable,
    options: { namespace?: string; labelSelector?: string } = {},
  ): Promise<KubeObject[]> {
    return (await this.listVersioned(ref, options)).items;
  }

  /**
   * {@link KubeClient.list}, with the resourceVersion of the snapshot the
   * pages were read from: a watch from it misses no change and replays none.
   */
  async listVersioned(
    ref: Resolvable,
    options: {
      namespace?: string;
      labelSelector?: string;
      signal?: AbortSignal;
    } = {},
  ): Promise<{ items: KubeObject[]; resourceVersion?: string }> {
    const path = await this.path({ ...ref, namespace: options.namespace });
    const items: KubeObject[] = [];
    let next: string | undefined;
    let resourceVersion: string | undefined;
    do {
      const { body } = await this.request<{
        items: KubeObject[];
        metadata?: { continue?: string; resourceVersion?: string };
      }>('GET', path, {
        query: {
          labelSelector: options.labelSelector,
          limit: '500',
          continue: next,
        },
        signal: options.signal,
      });
      // Every page of one list is read at the first page's resourceVersion.
      resourceVersion ??= body.metadata?.resourceVersion;
      const apiVersion = ref.group
        ? `${ref.group}/${ref.version}`
        : ref.version;
      // List items come without apiVersion/kind; put them back so they are whole objects.
      items.push(
        ...body.items.map(item => ({ ...item, apiVersion, kind: ref.kind })),
      );
      next = body.metadata?.continue || undefined;
    } while (next);
    return { items, resourceVersion };
  }

  /** Server-side apply of one whole object (or its status subresource). */
  async apply(
    object: KubeObject,
    options: {
      fieldManager: string;
      dryRun?: boolean;
      force?: boolean;
      subresource?: string;
    },
  ): Promise<KubeObject> {
    const ref = {
      group: groupOf(object.apiVersion),
      version: object.apiVersion.slice(object.apiVersion.indexOf('/') + 1),
      kind: object.kind,
      namespace: object.metadata.namespace,
      name: object.metadata.name,
    };
    const { body } = await this.request<KubeObject>(
      'PATCH',
      await this.path(ref, options.subresource),
      {
        query: {
          fieldManager: options.fieldManager,
          force: options.force === false ? undefined : 'true',
          // As kubectl does: a misspelt field is an error, not silently dropped.
          fieldValidation: 'Strict',
          dryRun: options.dryRun ? 'All' : undefined,
        },
        body: object,
        contentType: 'application/apply-patch+yaml',
      },
    );
    return body;
  }

  /** Deletes one object; false when it was already gone. */
  async delete(ref: ObjectRef): Promise<boolean> {
    const { status } = await this.request(
      'DELETE',
      await this.path(ref),
      {
        body: {
          kind: 'DeleteOptions',
          apiVersion: 'v1',
          propagationPolicy: 'Background',
        },
      },
      [404],
    );
    return status !== 404;
  }

  /** Closes pooled connections so a process (or a test) can exit promptly. */
  close(): void {
    // A client made by asUser borrows its connections; their owner closes them.
    if (this.impersonating) return;
    this.agent?.destroy();
  }
}

function statusError(
  status: number,
  what: string,
  body: KubeStatus | undefined,
): Error {
  const message = `${what}: ${body?.message ?? `HTTP ${status}`}`;
  if (status === 401) return new AuthenticationError(message);
  if (status === 403) return new NotAllowedError(message);
  if (status === 404) return new NotFoundError(message);
  // 410 Gone: a watch's resourceVersion was compacted away; list again.
  if (status === 409 || status === 410) return new ConflictError(message);
  if (status === 400 || status === 422 || status === 415)
    return new InputError(message);
  return new ServiceUnavailableError(message);
}
