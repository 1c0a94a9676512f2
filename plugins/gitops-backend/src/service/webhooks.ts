import crypto from 'node:crypto';
import { AuthenticationError, InputError } from '@backstage/errors';
import {
  KubeObject,
  parseImageReference,
} from '@gitops-workflow/plugin-gitops-node';

/** A signed request older than this is refused, so a captured one can't be replayed later. */
export const MAX_WEBHOOK_AGE_MS = 5 * 60_000;

/** Constant-time equality of two strings of any length (hashing first makes the lengths equal). */
function safeEqual(given: string, expected: string): boolean {
  const digest = (s: string) => crypto.createHash('sha256').update(s).digest();
  return crypto.timingSafeEqual(digest(given), digest(expected));
}

/**
 * Refuses a request whose `X-Timestamp` (Unix seconds or an ISO date) is
 * more than five minutes away from now; a request without one passes.
 */
export function checkFreshness(
  timestamp: string | undefined,
  now = Date.now(),
): void {
  if (timestamp === undefined) return;
  const at = /^\d+$/.test(timestamp)
    ? Number(timestamp) * 1000
    : Date.parse(timestamp);
  if (!Number.isFinite(at)) {
    throw new AuthenticationError('X-Timestamp is not a Unix time or a date');
  }
  if (Math.abs(now - at) > MAX_WEBHOOK_AGE_MS) {
    throw new AuthenticationError(
      'The request is stale: X-Timestamp is more than 5 minutes from now',
    );
  }
}

/** The registry's notification endpoint sends `Authorization: Bearer <secret>` (its `headers` setting). */
export function verifyBearer(
  authorization: string | undefined,
  secret: string,
): void {
  const match = /^Bearer (.+)$/.exec(authorization ?? '');
  if (!match)
    throw new AuthenticationError('Missing Authorization: Bearer <secret>');
  if (!safeEqual(match[1], secret))
    throw new AuthenticationError('Wrong webhook secret');
}

/**
 * GitHub's `X-Hub-Signature-256: sha256=<hex>` or a generic
 * `X-Signature: [sha256=]<hex>`, an HMAC-SHA256 of the raw body. With an
 * `X-Timestamp`, the generic signature covers `<timestamp>.<body>`, so the
 * timestamp can't be swapped for a fresh one.
 */
export function verifyHmac(
  body: Buffer,
  headers: { github?: string; generic?: string; timestamp?: string },
  secret: string,
): void {
  const hmac = (...parts: Array<string | Buffer>) => {
    const h = crypto.createHmac('sha256', secret);
    for (const part of parts) h.update(part);
    return h.digest('hex');
  };
  if (headers.github !== undefined) {
    if (!safeEqual(headers.github, `sha256=${hmac(body)}`)) {
      throw new AuthenticationError(
        'X-Hub-Signature-256 does not match the body',
      );
    }
    return;
  }
  if (headers.generic !== undefined) {
    const given = headers.generic.replace(/^sha256=/, '');
    const expected =
      headers.timestamp === undefined
        ? hmac(body)
        : hmac(`${headers.timestamp}.`, body);
    if (!safeEqual(given, expected))
      throw new AuthenticationError('X-Signature does not match the body');
    return;
  }
  throw new AuthenticationError(
    'The request is not signed: send X-Hub-Signature-256 or X-Signature',
  );
}

interface KustomizeComponent {
  type?: string;
  properties?: {
    url?: string;
    git?: { branch?: string };
    imageRepository?: { image?: string };
  };
}

function kustomizeComponents(app: KubeObject): KustomizeComponent[] {
  const components =
    (app.spec as { components?: KustomizeComponent[] } | undefined)
      ?.components ?? [];
  return components.filter(c => c.type === 'kustomize');
}

/** `registry/name` of an image reference, as registries' notifications name it; undefined when it doesn't parse. */
export function imageName(reference: string): string | undefined {
  try {
    return parseImageReference(reference).name;
  } catch {
    return undefined;
  }
}

/** A tag a registry said was pushed: `image` is `registry/name`. */
export interface TagPush {
  image: string;
  tag: string;
  /** The registry's time of the push; the notification's arrival when it gave none or one ahead of ours. */
  pushedAt: Date;
}

/** The tags a CNCF distribution notification says were pushed (tagged manifests only). */
export function pushedTags(body: unknown, receivedAt = new Date()): TagPush[] {
  const events = (body as { events?: unknown })?.events;
  if (!Array.isArray(events)) {
    throw new InputError(
      'Not a registry notification: expected {"events": [...]}',
    );
  }
  const pushes: TagPush[] = [];
  for (const event of events) {
    const { action, target, request, timestamp } = event ?? {};
    // A blob, or a manifest pushed by digest only, changes no tag a policy could pick.
    if (
      action !== 'push' ||
      !target?.tag ||
      !target.repository ||
      !request?.host
    )
      continue;
    const image = imageName(`${request.host}/${target.repository}`);
    if (!image) continue;
    const at = typeof timestamp === 'string' ? Date.parse(timestamp) : NaN;
    pushes.push({
      image,
      tag: String(target.tag),
      pushedAt: new Date(
        Number.isNaN(at)
          ? receivedAt.getTime()
          : Math.min(at, receivedAt.getTime()),
      ),
    });
  }
  return pushes;
}

/** Applications with a kustomize component whose image automation watches one of `images`. */
export function applicationsForImages(
  apps: KubeObject[],
  images: string[],
): KubeObject[] {
  const wanted = new Set(images);
  return apps.filter(app =>
    kustomizeComponents(app).some(c => {
      const image = c.properties?.imageRepository?.image;
      const name = image && imageName(image);
      return name !== undefined && wanted.has(name);
    }),
  );
}

/** `https://user:pw@Host/org/repo.git/` → `host/org/repo`: one repository however it is written. */
export function normalizeRepoUrl(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    const repoPath = parsed.pathname.replace(/\/+$/, '').replace(/\.git$/, '');
    return `${parsed.host.toLowerCase()}${repoPath}`;
  } catch {
    return undefined;
  }
}

/** The repository URLs and branch a Git push event names (GitHub, GitLab, Gitea or a plain `{repository: {url}}`). */
export function pushedRepository(body: unknown): {
  urls: string[];
  branch?: string;
} {
  const payload = (body ?? {}) as {
    ref?: string;
    repository?: Record<string, unknown>;
    project?: Record<string, unknown>;
  };
  const fields = [
    'url',
    'clone_url',
    'html_url',
    'git_http_url',
    'http_url',
    'web_url',
  ];
  const urls = new Set<string>();
  for (const source of [payload.repository, payload.project]) {
    for (const field of fields) {
      const value = source?.[field];
      const normalized =
        typeof value === 'string' ? normalizeRepoUrl(value) : undefined;
      if (normalized) urls.add(normalized);
    }
  }
  if (urls.size === 0) {
    throw new InputError(
      'The push event names no repository URL (repository.clone_url or repository.url)',
    );
  }
  const branch = payload.ref?.startsWith('refs/heads/')
    ? payload.ref.slice('refs/heads/'.length)
    : undefined;
  return { urls: [...urls], branch };
}

/** Applications with a kustomize component synced from that repository (and branch, when the event names one). */
export function applicationsForRepository(
  apps: KubeObject[],
  pushed: { urls: string[]; branch?: string },
): KubeObject[] {
  const wanted = new Set(pushed.urls);
  return apps.filter(app =>
    kustomizeComponents(app).some(c => {
      const url = c.properties?.url && normalizeRepoUrl(c.properties.url);
      const branch = c.properties?.git?.branch ?? 'master';
      return (
        url !== undefined &&
        wanted.has(url) &&
        (!pushed.branch || pushed.branch === branch)
      );
    }),
  );
}
