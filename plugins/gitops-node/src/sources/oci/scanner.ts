import crypto from 'node:crypto';
import {
  CompiledImagePolicy,
  ImagePolicySpec,
  compileImagePolicy,
  excludeTags,
} from '../tagPolicy';
import { RegistryAccess, RegistryClient, identity } from './client';
import {
  digestAction,
  type DigestReflectionPolicy,
  type ReflectedDigest,
} from './digests';
import { ImageReference, parseImageReference } from './reference';

/** One listing of an image's tags. */
export interface ImageScan {
  image: ImageReference;
  /** Tags in registry order, exclusions applied. */
  tags: string[];
  scannedAt: Date;
}

export interface ScanOptions extends RegistryAccess {
  /** A listing younger than this is reused. Default: the scanner's interval. */
  intervalMs?: number;
  /** RE2 patterns of tags to leave out. Default: cosign `*.sig` tags. */
  exclusionList?: readonly string[];
}

interface CacheEntry {
  listing: Promise<{ tags: string[]; scannedAt: Date }>;
  /** Set when the listing completes; until then callers share it in flight. */
  scannedAt?: number;
  intervalMs: number;
}

const isStale = (entry: CacheEntry, intervalMs: number, now: number) =>
  entry.scannedAt !== undefined && entry.scannedAt + intervalMs <= now;

/**
 * Lists image tags at most once per interval per image and credentials,
 * however many policies ask: callers within the interval share the listing,
 * and concurrent callers share the request in flight. A failed listing is
 * not cached, so the next call tries again.
 */
export class ImageScanner {
  readonly client: RegistryClient;
  private readonly intervalMs: number;
  private readonly cache = new Map<string, CacheEntry>();

  constructor(options: { client?: RegistryClient; intervalMs?: number } = {}) {
    this.client = options.client ?? new RegistryClient();
    this.intervalMs = options.intervalMs ?? 60_000;
  }

  async scan(image: string, options: ScanOptions = {}): Promise<ImageScan> {
    const ref = parseImageReference(image);
    const key = [
      // First, so that forget/retain find an image's entries by name.
      ref.name,
      identity(options.credentials),
      options.insecure ? 'http' : 'https',
      options.ca
        ? crypto.createHash('sha256').update(options.ca).digest('hex')
        : '',
      // A listing one project's token hosts allowed is not another's to reuse.
      JSON.stringify(options.tokenHosts?.allowed ?? '*'),
    ].join('|');
    const interval = options.intervalMs ?? this.intervalMs;
    let entry = this.cache.get(key);
    const now = Date.now();
    if (!entry || isStale(entry, interval, now)) {
      // Images nobody scans any more must not keep their tag lists alive.
      for (const [k, e] of this.cache) {
        if (isStale(e, e.intervalMs, now)) this.cache.delete(k);
      }
      const fresh: CacheEntry = {
        intervalMs: interval,
        listing: this.client.listTags(ref, options).then(tags => {
          fresh.scannedAt = Date.now();
          return { tags, scannedAt: new Date(fresh.scannedAt) };
        }),
      };
      fresh.listing.catch(
        () => this.cache.get(key) === fresh && this.cache.delete(key),
      );
      this.cache.set(key, fresh);
      entry = fresh;
    }
    const { tags, scannedAt } = await entry.listing;
    return {
      image: ref,
      tags: excludeTags(tags, options.exclusionList),
      scannedAt,
    };
  }

  /** Drops the listings of `image` (any tag, any credentials), e.g. once no policy watches it. */
  forget(image: string): void {
    this.retainWhere(name => name !== parseImageReference(image).name);
  }

  /** Keeps the listings of exactly these images (as policies name them) and drops the rest. */
  retain(images: Iterable<string>): void {
    const keep = new Set([...images].map(i => parseImageReference(i).name));
    this.retainWhere(name => keep.has(name));
  }

  /** How many listings are kept (for metrics and tests). */
  get cachedListings(): number {
    return this.cache.size;
  }

  private retainWhere(keep: (imageName: string) => boolean): void {
    for (const key of this.cache.keys()) {
      if (!keep(key.slice(0, key.indexOf('|')))) this.cache.delete(key);
    }
  }
}

/** What an image policy currently says. */
export interface ImagePolicyResult {
  /**
   * The image as the spec names it, without tag or digest (`nginx` stays
   * `nginx`): what a marker writes, so `{ image, tag, digest }` is the
   * setters' `ImagePolicyChoice`.
   */
  image: string;
  /** The chosen tag: this evaluation's, or the last good one if it failed. */
  tag?: string;
  /** Manifest digest of `tag`, when the policy reflects digests (`digestReflectionPolicy`). */
  digest?: string;
  /** Why this evaluation failed; `tag` then still holds the last good choice. */
  error?: Error;
  /** True when this evaluation chose a tag different from the previous good one. */
  changed: boolean;
  /** When `tag` was last confirmed by a successful evaluation. */
  lastSuccessAt?: Date;
}

export interface EvaluateOptions extends ScanOptions {
  image: string;
  spec: ImagePolicySpec;
  /** Whether the chosen tag's digest is reflected, and when it is looked up again. Default `Never`. */
  digestReflectionPolicy?: DigestReflectionPolicy;
  /**
   * The digest already written for `tag` (what Git's markers hold), which
   * `IfNotPresent` keeps instead of looking it up again when this process
   * has not looked it up yet (after a restart, or on another replica).
   */
  writtenDigest?: (tag: string) => Promise<string | undefined>;
}

interface PolicyState {
  image: string;
  specKey: string;
  policy?: CompiledImagePolicy;
  last?: Omit<ImagePolicyResult, 'error' | 'changed'>;
  /** The chosen tag's digest as last looked up; outlives spec changes like `last`. */
  digest?: ReflectedDigest;
}

/**
 * Evaluates named image policies (e.g. `default:gitops`) against shared
 * scans and remembers each one's last good result: when the registry is
 * down, rate limits, refuses credentials, or the spec or tags are wrong,
 * `evaluate` resolves (never rejects) with the last good tag and the error,
 * and the next successful evaluation replaces both by itself.
 */
export class ImagePolicyEvaluator {
  readonly scanner: ImageScanner;
  private readonly states = new Map<string, PolicyState>();

  constructor(options: { scanner?: ImageScanner } = {}) {
    this.scanner = options.scanner ?? new ImageScanner();
  }

  async evaluate(
    policyId: string,
    options: EvaluateOptions,
  ): Promise<ImagePolicyResult> {
    const specKey = JSON.stringify([options.image, options.spec]);
    let state = this.states.get(policyId);
    if (!state || state.specKey !== specKey) {
      state = {
        image: options.image,
        specKey,
        last: state?.last,
        digest: state?.digest,
      };
      this.states.set(policyId, state);
    }
    try {
      state.policy ??= compileImagePolicy(options.spec, {
        image: options.image,
      });
      const scan = await this.scanner.scan(options.image, options);
      const tag = state.policy.select(scan.tags);
      const digest = await this.reflectDigest(
        { image: options.image, tag, scannedAt: scan.scannedAt.getTime() },
        scan.image,
        state,
        options,
      );
      const changed = state.last?.tag !== undefined && state.last.tag !== tag;
      state.last = {
        image: imageName(options.image),
        tag,
        digest,
        lastSuccessAt: new Date(),
      };
      return { ...state.last, changed };
    } catch (error) {
      return {
        image: imageName(options.image),
        ...state.last,
        error: error as Error,
        changed: false,
      };
    }
  }

  /**
   * Drops what is remembered of a policy that no longer exists, and the
   * listings of its image when no other policy watches that image.
   */
  forget(policyId: string): void {
    this.retain([...this.states.keys()].filter(id => id !== policyId));
  }

  /**
   * Keeps what is remembered of exactly these policies (e.g. every
   * `<namespace>:<component>` the Applications still define) and forgets
   * the rest, with the listings of images no kept policy watches.
   */
  retain(policyIds: Iterable<string>): void {
    const keep = new Set(policyIds);
    for (const id of this.states.keys()) {
      if (!keep.has(id)) this.states.delete(id);
    }
    this.scanner.retain([...this.states.values()].map(s => s.image));
  }

  /** How many policies are remembered (for metrics and tests). */
  get rememberedPolicies(): number {
    return this.states.size;
  }

  /** The last good result of a policy, if it ever had one. */
  lastResult(policyId: string): ImagePolicyResult | undefined {
    const last = this.states.get(policyId)?.last;
    return last && { ...last, changed: false };
  }

  private async reflectDigest(
    choice: { image: string; tag: string; scannedAt: number },
    ref: ImageReference,
    state: PolicyState,
    options: EvaluateOptions,
  ): Promise<string | undefined> {
    const policy = options.digestReflectionPolicy ?? 'Never';
    switch (digestAction(policy, choice, state.digest)) {
      case 'none':
        return undefined;
      case 'keep':
        return state.digest!.digest;
      default: {
        const written =
          policy === 'IfNotPresent'
            ? await options.writtenDigest?.(choice.tag)
            : undefined;
        const digest =
          written ??
          (await this.scanner.client.getDigest(ref, choice.tag, options));
        state.digest = { ...choice, digest };
        return digest;
      }
    }
  }
}

/** The image as written, without tag or digest. */
function imageName(image: string): string {
  const withoutDigest = image.split('@')[0];
  const colon = withoutDigest.lastIndexOf(':');
  return colon > withoutDigest.lastIndexOf('/')
    ? withoutDigest.slice(0, colon)
    : withoutDigest;
}
