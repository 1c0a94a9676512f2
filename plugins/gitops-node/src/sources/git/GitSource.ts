import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import git from 'isomorphic-git';
import nodeHttp from 'isomorphic-git/http/node';
import type {
  GitHttpRequest,
  GitHttpResponse,
  HttpClient,
  TreeEntry,
} from 'isomorphic-git';
import {
  AuthenticationError,
  ConflictError,
  InputError,
  NotAllowedError,
  NotFoundError,
  ServiceUnavailableError,
} from '@backstage/errors';
import {
  GitCredentials,
  GitCredentialsProvider,
  basicAuthHeader,
  redact,
  splitUrlCredentials,
} from './credentials';
import { checkOutFresh, treeOfCommit, writeTree } from './checkout';
import { ObjectReader } from './pack';
import { cloneShallow } from './shallowClone';
import { withLock } from './lock';
import { formatBytes } from '../units';

/** Present when the clone must be replaced by a fresh one before its next use. */
const renewMarker = (dir: string) => path.join(dir, '.git', 'gitops-renew');
/** Written when the clone is made: its mtime is the clone's age, its content the fresh size in bytes. */
const bornMarker = (dir: string) => path.join(dir, '.git', 'gitops-cloned');

export interface GitLogger {
  info(message: string, meta?: Record<string, unknown>): void;
  debug(message: string, meta?: Record<string, unknown>): void;
}

export interface GitSourceOptions {
  /** Where working clones live between polls, one per (url, branch). */
  cacheDir: string;
  /** Bound on each remote operation (listing, clone, fetch, push). Default 60s. */
  timeoutMs?: number;
  /** How long a reconcile waits for another one holding the same clone. Default 5 minutes. */
  lockTimeoutMs?: number;
  /**
   * A clone lock not refreshed for this long belongs to a dead process or
   * pod and is taken over. Default 30s.
   */
  lockStaleMs?: number;
  /**
   * Largest download of one clone or fetch; a repository whose branch tip
   * needs more is refused. Default 512 MiB.
   */
  maxRepositoryBytes?: number;
  /**
   * A working clone whose `.git` has grown past this (every fetch adds a
   * pack) is replaced by a fresh shallow clone on its next use. Default 1 GiB.
   */
  maxCloneBytes?: number;
  /** A working clone older than this is replaced by a fresh one on its next use. Default 7 days. */
  maxCloneAgeMs?: number;
  /** Used when a repository names no credentials, e.g. `credentialsFromIntegrations(...)`. */
  credentialsProvider?: GitCredentialsProvider;
  logger?: GitLogger;
  /**
   * Replaces isomorphic-git's Node HTTP client, e.g. to add a proxy agent.
   * It must not follow redirects itself (it is passed
   * `fetchOptions.followRedirects: false`): GitSource follows them, so that
   * credentials never go on to another host.
   */
  http?: HttpClient;
}

export interface GitRepositorySpec {
  url: string;
  /** Branch to follow and to push to (`git.branch`). */
  branch: string;
  /** From the Secret named by `secretRef`; wins over the credentials provider. */
  credentials?: GitCredentials;
}

export interface GitAuthor {
  name: string;
  email: string;
}

export interface SyncResult {
  /** `branch@sha1:<sha>`, Flux's revision format. */
  revision: string;
  sha: string;
  /** True when the working tree moved to a new commit during this sync. */
  changed: boolean;
  /** True when the clone was created by this sync (first poll only). */
  cloned: boolean;
  /** True when objects were fetched from the remote. */
  fetched: boolean;
}

export const revisionOf = (branch: string, sha: string) =>
  `${branch}@sha1:${sha}`;

/** The commit of a revision `branch@sha1:<sha>`; undefined for anything else. */
export function commitOfRevision(
  revision: string | undefined,
): string | undefined {
  const match = /@sha1:([0-9a-f]{40})$/.exec(revision ?? '');
  return match?.[1];
}

/** Where the tree of an earlier commit is written for building (see `WorkingClone.treeAt`). */
const treesDir = (dir: string) => `${dir}.at`;

/** `git fetch --unshallow` asks for this depth: all of the branch's history. */
const FULL_DEPTH = 0x7fffffff;

const ZERO = '0000000000000000000000000000000000000000';

/**
 * A working clone held exclusively by one reconcile (see `GitSource.withClone`).
 * Its working tree always matches either the remote head or our own commit
 * on top of it.
 */
export class WorkingClone {
  readonly dir: string;
  /** The remote URL, without credentials. */
  readonly url: string;
  readonly branch: string;
  /**
   * Memory that outlives one reconcile, for as long as this process keeps
   * this clone: callers remember here what they already did at a revision.
   */
  readonly memo: Map<string, unknown>;
  private readonly remote: RemoteAccess;
  private readonly logger?: GitLogger;
  /** isomorphic-git's object cache: parsed pack indexes, shared by this session's operations. */
  private readonly cache = {};
  private justCloned: boolean;

  private readonly maxCloneBytes: number;

  /** @internal */
  constructor(init: {
    dir: string;
    url: string;
    branch: string;
    remote: RemoteAccess;
    memo: Map<string, unknown>;
    justCloned: boolean;
    maxCloneBytes: number;
    logger?: GitLogger;
  }) {
    this.dir = init.dir;
    this.url = init.url;
    this.branch = init.branch;
    this.memo = init.memo;
    this.remote = init.remote;
    this.justCloned = init.justCloned;
    this.maxCloneBytes = init.maxCloneBytes;
    this.logger = init.logger;
  }

  /**
   * Every fetch adds a pack and nothing repacks them: once `.git` is past
   * the bound, the clone is marked to be replaced by a fresh shallow one on
   * its next use (not now: the caller is working in it).
   */
  private async checkSize(): Promise<void> {
    const bytes = await directorySize(path.join(this.dir, '.git'));
    // A tip that alone is past the bound would be re-cloned after every
    // fetch: only growth to twice the fresh clone's size is worth one.
    const fresh = Number(
      await fs.promises.readFile(bornMarker(this.dir), 'utf8').catch(() => 0),
    );
    if (bytes > this.maxCloneBytes && bytes > 2 * fresh) {
      await fs.promises.writeFile(renewMarker(this.dir), String(bytes));
      this.logger?.info(
        `${this.url} (${this.branch}): the working clone is ${formatBytes(
          bytes,
        )}, over ${formatBytes(this.maxCloneBytes)}; it is re-cloned next time`,
      );
    }
  }

  /**
   * Brings the clone to the remote branch head: one ref listing, and a fetch
   * only when the branch moved. Any local commit that was not pushed is
   * dropped, since the remote is the source of truth.
   */
  async sync(): Promise<SyncResult> {
    // A clone made for this use has just listed the branch: no second round trip.
    const remoteSha = this.justCloned
      ? await this.remoteHead()
      : await this.remote.branchHead(this.branch);
    const { dir, branch } = this;
    const fetched =
      (await this.resolve(`refs/remotes/origin/${branch}`)) !== remoteSha;
    if (fetched) {
      await this.remote.run('fetch', (http, headers) =>
        git.fetch({
          fs,
          cache: this.cache,
          http,
          headers,
          dir,
          remote: 'origin',
          ref: branch,
          singleBranch: true,
          tags: false,
        }),
      );
      await this.checkSize();
    }
    const local = await this.resolve(`refs/heads/${branch}`);
    const moved = local !== remoteSha;
    if (await this.isDirty()) await this.resetTo(remoteSha);
    else if (moved) await this.fastForwardTree(local, remoteSha);
    if (moved) {
      this.logger?.debug(
        `${this.url} ${branch} moved to ${remoteSha}${
          fetched ? ' (fetched)' : ''
        }`,
      );
    }
    const cloned = this.justCloned;
    this.justCloned = false;
    return {
      revision: revisionOf(branch, remoteSha),
      sha: remoteSha,
      changed: moved || cloned,
      cloned,
      fetched: fetched || cloned,
    };
  }

  /** The commit the working tree is on. */
  async head(): Promise<string> {
    return git.resolveRef({
      fs,
      dir: this.dir,
      ref: `refs/heads/${this.branch}`,
    });
  }

  /** The remote head as of the last sync or push. */
  async remoteHead(): Promise<string> {
    return git.resolveRef({
      fs,
      dir: this.dir,
      ref: `refs/remotes/origin/${this.branch}`,
    });
  }

  /**
   * A directory holding the files of commit `sha`, to build what an earlier
   * revision ran without moving the branch or the working tree. A commit
   * this shallow clone lacks is fetched with the branch's whole history; one
   * the branch no longer has (force-pushed away) is a NotFoundError. The
   * directory stays beside the clone while the same commit is asked for and
   * is replaced when another one is.
   */
  async treeAt(sha: string): Promise<string> {
    const dir = path.join(treesDir(this.dir), sha);
    if (fs.existsSync(dir)) return dir;
    if (!(await this.hasCommit(sha))) {
      await this.remote.run('fetch the history of', (http, headers) =>
        git.fetch({
          fs,
          cache: this.cache,
          http,
          headers,
          dir: this.dir,
          remote: 'origin',
          ref: this.branch,
          singleBranch: true,
          tags: false,
          depth: FULL_DEPTH,
        }),
      );
      await this.checkSize();
    }
    if (!(await this.hasCommit(sha))) {
      throw new NotFoundError(
        `commit ${sha} is not in the history of ${this.branch} of ${this.url} (was it force-pushed away?)`,
      );
    }
    await fs.promises.rm(treesDir(this.dir), { recursive: true, force: true });
    // Written aside and renamed: a crash never leaves a half tree to build from.
    const partial = `${dir}.partial`;
    const reader = await ObjectReader.open(
      path.join(this.dir, '.git'),
      this.cache,
    );
    await writeTree(reader, await treeOfCommit(reader, sha), partial);
    await fs.promises.rename(partial, dir);
    return dir;
  }

  private async hasCommit(sha: string): Promise<boolean> {
    return git
      .readCommit({ fs, cache: this.cache, dir: this.dir, oid: sha })
      .then(
        () => true,
        () => false,
      );
  }

  /** Stages `files` (relative to the clone) and commits them on the branch. */
  async commit(
    files: string[],
    message: string,
    author: GitAuthor,
  ): Promise<string> {
    await git.add({ fs, cache: this.cache, dir: this.dir, filepath: files });
    return git.commit({
      fs,
      cache: this.cache,
      dir: this.dir,
      ref: `refs/heads/${this.branch}`,
      message,
      author,
      committer: author,
    });
  }

  /**
   * Pushes the branch as a fast-forward. A rejection because the remote moved
   * is a ConflictError, so the caller can fetch, re-apply and retry.
   */
  async push(): Promise<void> {
    const { dir, branch } = this;
    const base = await this.remoteHead();
    try {
      await this.remote.run('push', (http, headers) =>
        git.push({
          fs,
          cache: this.cache,
          http,
          headers,
          dir,
          remote: 'origin',
          ref: branch,
          remoteRef: branch,
          force: false,
        }),
      );
    } catch (e) {
      if (!(e instanceof ConflictError)) throw e;
      const now = await this.remote.branchHead(branch);
      if (now === base) {
        // Not a race with another pusher (e.g. a protected branch): retrying cannot help.
        throw new NotAllowedError(
          `${e.message}; the branch did not move, so the server refused the update itself`,
        );
      }
      throw new ConflictError(
        `push to ${branch} was rejected: the branch moved from ${base.slice(
          0,
          12,
        )} to ${now.slice(0, 12)}`,
      );
    }
  }

  /**
   * Moves the branch and the whole working tree to `sha` (which must be
   * fetched), discarding local edits and commits.
   */
  async resetTo(sha: string): Promise<void> {
    const { dir, branch } = this;
    await this.setBranch(sha);
    await checkoutAll(dir, branch, this.cache);
    await fs.promises.rm(this.dirtyMarker(), { force: true });
  }

  /**
   * Records that the working tree is about to differ from the remote head,
   * so that even after a crash the next sync restores it in full.
   */
  async markDirty(): Promise<void> {
    await fs.promises.writeFile(this.dirtyMarker(), '');
  }

  /** Called once our own commit is pushed: the tree is the remote head again. */
  async markClean(): Promise<void> {
    await fs.promises.rm(this.dirtyMarker(), { force: true });
  }

  /**
   * Moves a clean working tree from `from` to `to` touching only the paths
   * that differ. Both a tree walk and a checkout visit every file of a large
   * repository; comparing tree objects by id reads only the changed paths.
   */
  private async fastForwardTree(from: string, to: string): Promise<void> {
    const { dir, branch } = this;
    const changes =
      from === ZERO ? undefined : await this.diffCommits(from, to);
    await this.setBranch(to);
    if (!changes) {
      await checkoutAll(dir, branch, this.cache);
      return;
    }
    const written: string[] = [];
    for (const change of changes) {
      const file = path.join(dir, ...change.path.split('/'));
      await fs.promises.rm(file, { force: true });
      if (!change.entry) {
        await git.remove({ fs, cache: this.cache, dir, filepath: change.path });
        await removeEmptyParents(path.dirname(file), dir);
        continue;
      }
      await fs.promises.mkdir(path.dirname(file), { recursive: true });
      await writeBlob(dir, this.cache, change.entry, file);
      written.push(change.path);
    }
    if (written.length > 0) {
      await git.add({
        fs,
        cache: this.cache,
        dir,
        filepath: written,
        force: true,
      });
    }
  }

  /**
   * The files that differ between two commits, found by descending only into
   * subtrees whose ids differ. Undefined when a path changes between file and
   * directory or involves a submodule: rare, and a full checkout handles it.
   */
  private async diffCommits(
    from: string,
    to: string,
  ): Promise<Array<{ path: string; entry?: TreeEntry }> | undefined> {
    const { dir } = this;
    const rootOf = async (oid: string) =>
      (await git.readCommit({ fs, cache: this.cache, dir, oid })).commit.tree;
    const out: Array<{ path: string; entry?: TreeEntry }> = [];
    const walk = async (
      a: string | undefined,
      b: string | undefined,
      prefix: string,
    ): Promise<boolean> => {
      const read = async (oid?: string) =>
        new Map(
          oid
            ? (
                await git.readTree({ fs, cache: this.cache, dir, oid })
              ).tree.map(e => [e.path, e])
            : [],
        );
      const [ea, eb] = await Promise.all([read(a), read(b)]);
      for (const name of new Set([...ea.keys(), ...eb.keys()])) {
        const x = ea.get(name);
        const y = eb.get(name);
        if (x?.oid === y?.oid && x?.mode === y?.mode) continue;
        const filepath = prefix ? `${prefix}/${name}` : name;
        const types = new Set([x?.type, y?.type].filter(Boolean));
        if (types.size > 1 || types.has('commit')) return false;
        if (types.has('tree')) {
          if (!(await walk(x?.oid, y?.oid, filepath))) return false;
        } else {
          out.push({ path: filepath, entry: y });
        }
      }
      return true;
    };
    const ok = await walk(await rootOf(from), await rootOf(to), '');
    return ok ? out : undefined;
  }

  private async setBranch(sha: string): Promise<void> {
    await git.writeRef({
      fs,
      dir: this.dir,
      ref: `refs/heads/${this.branch}`,
      value: sha,
      force: true,
    });
  }

  private dirtyMarker(): string {
    return path.join(this.dir, '.git', 'gitops-dirty');
  }

  private async isDirty(): Promise<boolean> {
    return fs.promises.access(this.dirtyMarker()).then(
      () => true,
      () => false,
    );
  }

  private async resolve(ref: string): Promise<string> {
    return git.resolveRef({ fs, dir: this.dir, ref }).catch(() => ZERO);
  }
}

/** Writes the whole tree of `branch`; batched writes make this about a third faster on large trees. */
async function checkoutAll(dir: string, branch: string, cache: object) {
  await git.checkout({
    fs,
    cache,
    dir,
    ref: branch,
    force: true,
    nonBlocking: true,
    batchSize: 100,
  });
}

/** Writes a file (or symlink) of the repository in `dir` as git checks it out. */
async function writeBlob(
  dir: string,
  cache: object,
  entry: TreeEntry,
  file: string,
): Promise<void> {
  const { blob } = await git.readBlob({ fs, cache, dir, oid: entry.oid });
  if (entry.mode === '120000') {
    await fs.promises.symlink(Buffer.from(blob).toString('utf8'), file);
  } else {
    await fs.promises.writeFile(file, blob, {
      mode: entry.mode === '100755' ? 0o755 : 0o644,
    });
  }
}

/** Like git, a directory whose last file went away goes away too. */
async function removeEmptyParents(from: string, root: string): Promise<void> {
  for (let d = from; d !== root && d.startsWith(root); d = path.dirname(d)) {
    try {
      await fs.promises.rmdir(d);
    } catch {
      return;
    }
  }
}

/** Bytes of every file below `dir` (symlinks not followed). */
async function directorySize(dir: string): Promise<number> {
  let total = 0;
  const entries = await fs.promises
    .readdir(dir, { withFileTypes: true })
    .catch(() => []);
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) total += await directorySize(full);
    else if (entry.isFile())
      total += (await fs.promises.stat(full).catch(() => ({ size: 0 }))).size;
  }
  return total;
}

type Http = HttpClient;
type Headers = Record<string, string>;

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 10;

/**
 * One HTTP request of isomorphic-git, following redirects here rather than
 * in the HTTP client: the `Authorization` header goes on only to the
 * repository's own host (and port), never to another host and never from
 * HTTPS down to HTTP; once dropped it stays dropped.
 */
async function requestFollowing(
  http: Http,
  req: GitHttpRequest,
  repository: string,
): Promise<GitHttpResponse> {
  const origin = new URL(repository);
  // Collected once, so a 307/308 can send the same body again.
  let body = req.body && (await collectBody(req.body));
  let current: GitHttpRequest = { ...req, body };
  for (let hops = 0; ; hops++) {
    const res = await http.request({
      ...current,
      // isomorphic-git's Node client (simple-get) would follow redirects with the header.
      fetchOptions: { ...current.fetchOptions, followRedirects: false },
    });
    const location = REDIRECTS.has(res.statusCode)
      ? res.headers?.location
      : undefined;
    if (!location) return res;
    await drain(res.body);
    const next = URL.canParse(location, current.url)
      ? new URL(location, current.url)
      : undefined;
    if (!next || !/^https?:$/.test(next.protocol)) {
      throw new ServiceUnavailableError(
        `${origin.host} redirected to a location that is not an HTTP(S) URL`,
      );
    }
    if (hops >= MAX_REDIRECTS) {
      throw new ServiceUnavailableError(
        `${origin.host}: more than ${MAX_REDIRECTS} redirects`,
      );
    }
    let headers = { ...current.headers };
    const sameHost =
      next.host === origin.host &&
      (next.protocol === 'https:' || origin.protocol === 'http:');
    if (!sameHost) {
      headers = Object.fromEntries(
        Object.entries(headers).filter(
          ([name]) => name.toLowerCase() !== 'authorization',
        ),
      );
    }
    let method = current.method ?? 'GET';
    // As browsers and curl do: a 303, or a 301/302 after a POST, is fetched with GET.
    if (
      res.statusCode === 303 ||
      ([301, 302].includes(res.statusCode) && method === 'POST')
    ) {
      method = 'GET';
      body = undefined;
      headers = Object.fromEntries(
        Object.entries(headers).filter(
          ([name]) => !/^content-(type|length)$/i.test(name),
        ),
      );
    }
    current = { ...current, url: next.toString(), method, headers, body };
  }
}

/**
 * The body as an array of chunks, which isomorphic-git itself passes and its
 * Node client sends as one buffer with a Content-Length (typed as an iterator).
 */
async function collectBody(
  body: NonNullable<GitHttpRequest['body']>,
): Promise<GitHttpRequest['body']> {
  if (Array.isArray(body)) return body;
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return chunks as unknown as GitHttpRequest['body'];
}

async function drain(body: GitHttpResponse['body']): Promise<void> {
  if (!body) return;
  for await (const _ of body) {
    // discarded
  }
}

/** Authenticated, bounded access to one remote; every error leaves without credentials. */
class RemoteAccess {
  constructor(
    readonly url: string,
    private readonly credentials: GitCredentials | undefined,
    private readonly http: Http,
    private readonly limits: {
      timeoutMs: number;
      maxRepositoryBytes: number;
      /** Ends every operation early, e.g. when the reconcile pass is aborted. */
      signal?: AbortSignal;
    },
  ) {}

  /**
   * Runs one remote operation under a deadline and a download bound. The
   * deadline aborts the HTTP request, and the operation is also raced
   * against it: isomorphic-git can miss a body stream that fails while it is
   * not reading, and would then wait for ever.
   */
  async run<T>(
    what: string,
    op: (http: Http, headers: Headers) => Promise<T>,
  ): Promise<T> {
    const { timeoutMs, maxRepositoryBytes, signal } = this.limits;
    if (signal?.aborted) {
      throw new ServiceUnavailableError(`${what} ${this.url} was aborted`);
    }
    const controller = new AbortController();
    let failure: Error | undefined;
    const stop = (error: Error) => {
      failure ??= error;
      controller.abort(failure);
    };
    const where = `${what} ${this.url}`;
    const timer = setTimeout(
      () =>
        stop(
          new ServiceUnavailableError(
            `${where} timed out after ${timeoutMs}ms`,
          ),
        ),
      timeoutMs,
    );
    let received = 0;
    const base = this.http;
    const http: Http = {
      request: async req => {
        const res = await requestFollowing(
          base,
          { ...req, signal: controller.signal },
          this.url,
        );
        const body = res.body;
        if (!body) return res;
        async function* counted() {
          for await (const chunk of body!) {
            received += chunk.byteLength;
            if (received > maxRepositoryBytes) {
              stop(
                new NotAllowedError(
                  `${where}: the repository needs more than ${formatBytes(
                    maxRepositoryBytes,
                  )} (the configured maximum repository size), refused`,
                ),
              );
              throw failure;
            }
            yield chunk;
          }
        }
        return { ...res, body: counted() };
      },
    };
    // Sent up front: waiting for a 401 challenge would double every request.
    const headers: Headers = this.credentials
      ? { Authorization: basicAuthHeader(this.credentials) }
      : {};
    const aborted = new Promise<never>((_, reject) =>
      controller.signal.addEventListener('abort', () => reject(failure), {
        once: true,
      }),
    );
    aborted.catch(() => undefined);
    const onAbort = () =>
      stop(new ServiceUnavailableError(`${where} was aborted`));
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await Promise.race([op(http, headers), aborted]);
    } catch (e) {
      throw failure ?? this.translate(where, e);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Lists the remote's refs (one request) and returns the branch's commit. */
  async branchHead(branch: string): Promise<string> {
    const refs = await this.run('list refs of', (http, headers) =>
      git.listServerRefs({
        http,
        url: this.url,
        headers,
        // Protocol v1 advertises all refs in the first response; v2 needs a second round trip.
        protocolVersion: 1,
        prefix: `refs/heads/${branch}`,
      }),
    );
    const head = refs.find(r => r.ref === `refs/heads/${branch}`);
    if (!head) {
      throw new NotFoundError(`branch ${branch} does not exist in ${this.url}`);
    }
    return head.oid;
  }

  private translate(where: string, e: unknown): Error {
    const err = e as {
      code?: string;
      message?: string;
      data?: { statusCode?: number };
    };
    if (err instanceof ConflictError || err instanceof NotFoundError)
      return err;
    const status = err.data?.statusCode;
    if (status === 401) {
      return new AuthenticationError(
        this.credentials
          ? `${where}: the server rejected the credentials for user ${this.credentials.username}`
          : `${where}: the server requires credentials and none are configured`,
      );
    }
    if (status === 403) {
      return new NotAllowedError(`${where}: access denied (HTTP 403)`);
    }
    if (status === 404) {
      return new NotFoundError(`${where}: repository not found (HTTP 404)`);
    }
    const message = redact(err.message ?? String(e), this.credentials);
    if (err.code === 'PushRejectedError' || err.code === 'GitPushError') {
      return new ConflictError(`${where}: ${message}`);
    }
    return new ServiceUnavailableError(`${where} failed: ${message}`);
  }
}

/**
 * Git over HTTP(S) with isomorphic-git: one working clone per (url, branch)
 * kept in the cache directory between polls, updated incrementally, and used
 * by one reconcile at a time.
 */
export class GitSource {
  private readonly limits: {
    timeoutMs: number;
    lockTimeoutMs: number;
    lockStaleMs?: number;
    maxRepositoryBytes: number;
    maxCloneBytes: number;
    maxCloneAgeMs: number;
  };
  private readonly http: Http;
  private readonly memos = new Map<string, Map<string, unknown>>();

  constructor(private readonly options: GitSourceOptions) {
    this.limits = {
      timeoutMs: options.timeoutMs ?? 60_000,
      lockTimeoutMs: options.lockTimeoutMs ?? 5 * 60_000,
      lockStaleMs: options.lockStaleMs,
      maxRepositoryBytes: options.maxRepositoryBytes ?? 512 * 1024 * 1024,
      maxCloneBytes: options.maxCloneBytes ?? 1024 * 1024 * 1024,
      maxCloneAgeMs: options.maxCloneAgeMs ?? 7 * 24 * 3600_000,
    };
    this.http = options.http ?? nodeHttp;
  }

  /** The directory of the clone for (url, branch); stable across restarts. */
  cloneDir(spec: Pick<GitRepositorySpec, 'url' | 'branch'>): string {
    const { url } = splitUrlCredentials(spec.url);
    const key = crypto
      .createHash('sha256')
      .update(`${url}\n${spec.branch}`)
      .digest('hex')
      .slice(0, 16);
    const name = url
      .replace(/^[a-z]+:\/\//i, '')
      .replace(/[^a-zA-Z0-9.-]+/g, '_');
    return path.join(this.options.cacheDir, `${name.slice(-60)}-${key}`);
  }

  /**
   * Drops what this process remembers of the clone of `spec` (the clone's
   * `memo`), e.g. when the last Application using the repository is gone.
   * The clone on disk stays: other replicas sharing the cache may use it.
   */
  forget(spec: Pick<GitRepositorySpec, 'url' | 'branch'>): void {
    this.memos.delete(this.cloneDir(spec));
  }

  /**
   * Keeps the memory of exactly these repositories and drops the rest: call
   * it with every (url, branch) the Applications still use.
   */
  retain(specs: Iterable<Pick<GitRepositorySpec, 'url' | 'branch'>>): void {
    const keep = new Set([...specs].map(spec => this.cloneDir(spec)));
    for (const dir of this.memos.keys()) {
      if (!keep.has(dir)) this.memos.delete(dir);
    }
  }

  /**
   * Removes the working clone of `spec` from the cache directory, under its
   * lock (a reconcile using it finishes first): call it when the last
   * Application using the repository is deleted.
   */
  async removeClone(
    spec: Pick<GitRepositorySpec, 'url' | 'branch'>,
  ): Promise<void> {
    const dir = this.cloneDir(spec);
    if (!fs.existsSync(dir)) return;
    const lock = {
      timeoutMs: this.limits.lockTimeoutMs,
      staleMs: this.limits.lockStaleMs,
    };
    await withLock(`${dir}.clone-lock`, lock, async () => {
      this.memos.delete(dir);
      await fs.promises.rm(dir, { recursive: true, force: true });
      await fs.promises.rm(treesDir(dir), { recursive: true, force: true });
    });
  }

  /** How many clones this process remembers something of (for metrics and tests). */
  get rememberedClones(): number {
    return this.memos.size;
  }

  /**
   * Runs `fn` with exclusive use of the working clone of `spec`, creating it
   * on first use and replacing it when it has grown too big or too old. `fn`
   * usually starts with `clone.sync()`.
   */
  async withClone<T>(
    spec: GitRepositorySpec,
    fn: (clone: WorkingClone) => Promise<T>,
    options: {
      /** Ends the clone's remote operations early, e.g. when the pass is aborted. */
      signal?: AbortSignal;
    } = {},
  ): Promise<T> {
    if (!spec.branch) throw new InputError('git branch is required');
    const split = splitUrlCredentials(spec.url);
    if (!/^https?:\/\//i.test(split.url)) {
      throw new InputError(
        `only http(s) Git URLs are supported, got ${split.url}`,
      );
    }
    const credentials =
      spec.credentials ??
      split.credentials ??
      (await this.options.credentialsProvider?.(split.url));
    const remote = new RemoteAccess(split.url, credentials, this.http, {
      timeoutMs: this.limits.timeoutMs,
      maxRepositoryBytes: this.limits.maxRepositoryBytes,
      signal: options.signal,
    });
    const dir = this.cloneDir(spec);
    await fs.promises.mkdir(this.options.cacheDir, { recursive: true });
    const lock = {
      timeoutMs: this.limits.lockTimeoutMs,
      staleMs: this.limits.lockStaleMs,
    };
    // Not `${dir}.lock`: that name was a plain file in earlier versions.
    return withLock(`${dir}.clone-lock`, lock, async () => {
      const exists = fs.existsSync(path.join(dir, '.git'));
      const renew = exists ? await this.renewalReason(dir) : undefined;
      let cloned = false;
      if (!exists || renew) {
        try {
          await this.createClone(dir, split.url, spec.branch, remote);
          cloned = true;
          this.memos.delete(dir);
          if (renew) {
            this.options.logger?.info(
              `re-cloned ${split.url} (${spec.branch}): ${renew}`,
            );
          }
        } catch (e) {
          // A clone that is only due for renewal still works: keep it for now.
          if (!exists) throw e;
          this.options.logger?.info(
            `could not re-clone ${split.url} (${
              spec.branch
            }), keeping the old clone: ${(e as Error).message}`,
          );
        }
      }
      let memo = this.memos.get(dir);
      if (!memo) {
        memo = new Map();
        this.memos.set(dir, memo);
      }
      return fn(
        new WorkingClone({
          dir,
          url: split.url,
          branch: spec.branch,
          remote,
          memo,
          justCloned: cloned,
          maxCloneBytes: this.limits.maxCloneBytes,
          logger: this.options.logger,
        }),
      );
    });
  }

  /** Polls once: syncs the clone and reports the revision. */
  async sync(
    spec: GitRepositorySpec,
    options: { signal?: AbortSignal } = {},
  ): Promise<SyncResult> {
    return this.withClone(spec, clone => clone.sync(), options);
  }

  /** Why the clone in `dir` should be replaced by a fresh one, if it should. */
  private async renewalReason(dir: string): Promise<string | undefined> {
    const size = await fs.promises
      .readFile(renewMarker(dir), 'utf8')
      .catch(() => undefined);
    if (size !== undefined) {
      return `it had grown to ${formatBytes(
        Number(size),
      )}, over the maximum of ${formatBytes(this.limits.maxCloneBytes)}`;
    }
    const born = await fs.promises.stat(bornMarker(dir)).catch(() => undefined);
    if (!born) {
      // A clone from before ages were kept starts its age now.
      await fs.promises.writeFile(bornMarker(dir), '');
      return undefined;
    }
    const age = Date.now() - born.mtimeMs;
    return age > this.limits.maxCloneAgeMs
      ? `it was ${Math.floor(age / 3600_000)} hours old, over the maximum of ${
          this.limits.maxCloneAgeMs / 3600_000
        } hours`
      : undefined;
  }

  /**
   * Clones shallowly (pushing only needs the tip) into a temporary directory
   * and then replaces `dir` with it, so a failed clone never leaves a broken
   * one, nor loses a working one.
   */
  private async createClone(
    dir: string,
    url: string,
    branch: string,
    remote: RemoteAccess,
  ): Promise<void> {
    const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
    try {
      const { sha, reader } = await remote.run('clone', (http, headers) =>
        cloneShallow({ dir: tmp, url, branch, http, headers, cache: {} }),
      );
      await checkOutFresh(tmp, reader, sha);
      // Its mtime is the clone's age, its content the fresh clone's size.
      await fs.promises.writeFile(
        bornMarker(tmp),
        String(await directorySize(path.join(tmp, '.git'))),
      );
      await fs.promises.rm(dir, { recursive: true, force: true });
      await fs.promises.rename(tmp, dir);
      this.options.logger?.info(`cloned ${url} (${branch})`, { dir });
    } catch (e) {
      await fs.promises.rm(tmp, { recursive: true, force: true });
      throw e;
    }
  }
}
