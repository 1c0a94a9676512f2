/** Hosts whose commit pages we know how to link to. */
const COMMIT_PATHS: Record<string, string> = {
  'github.com': '/commit/',
  'gitlab.com': '/-/commit/',
  'bitbucket.org': '/commits/',
  'codeberg.org': '/commit/',
};

/**
 * The web page of a commit on a known forge, or undefined for any other Git
 * server (where guessing a URL would give a dead link).
 */
export function commitUrl(
  gitUrl: string | undefined,
  sha: string,
): string | undefined {
  if (!gitUrl) return undefined;
  let url: URL;
  try {
    url = new URL(gitUrl.replace(/^git@([^:]+):/, 'https://$1/'));
  } catch {
    return undefined;
  }
  const path = COMMIT_PATHS[url.hostname];
  if (!path) return undefined;
  const repo = url.pathname.replace(/\.git$/, '').replace(/\/$/, '');
  return `https://${url.hostname}${repo}${path}${sha}`;
}

/** Splits KubeVela's `branch@sha1:<sha>` revision. */
export function parseRevision(
  revision: string,
): { branch: string; sha: string } | undefined {
  const match = /^(.*)@sha1:([0-9a-f]{7,64})$/.exec(revision);
  return match ? { branch: match[1], sha: match[2] } : undefined;
}

/** A duration between two timestamps, e.g. `1 m 12 s`; a dash if either is missing. */
export function formatDuration(from?: string, to?: string): string {
  if (!from || !to) return '—';
  const ms = new Date(to).getTime() - new Date(from).getTime();
  if (!(ms >= 0)) return '—';
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return seconds === 0 ? `${ms} ms` : `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} m ${seconds % 60} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} m`;
}

/** The longest ref shown whole; longer ones keep what tells them apart. */
const MAX_REF_LENGTH = 48;
/** Hex digits kept of a digest or commit: enough to tell them apart on one page. */
const DIGEST_HEX = 12;
const SHA_HEX = 7;

/**
 * A long reference made short enough for a table cell, keeping what tells
 * it apart: `master@sha1:<40 hex>` → `master@sha1:3f1c2a9`,
 * `sha256:<64 hex>` → `sha256:0123456789ab…`, an image ref → its last path
 * segment with tag and short digest (`…/web:0.1.6@sha256:0123456789ab…`),
 * anything else over 48 characters → its start and end.
 */
export function shortenRef(value: string): string {
  const revision = parseRevision(value);
  if (revision) {
    return `${revision.branch}@sha1:${revision.sha.slice(0, SHA_HEX)}`;
  }
  const digestAt = value.search(/(^|@)[a-z0-9]+:[0-9a-f]{32,}$/);
  if (digestAt < 0) return shortenImage(value, MAX_REF_LENGTH);
  const at = value[digestAt] === '@' ? digestAt + 1 : digestAt;
  const [algorithm, hex] = value.slice(at).split(':');
  const digest = `${algorithm}:${hex.slice(0, DIGEST_HEX)}…`;
  if (at === 0) return digest;
  const image = shortenImage(
    value.slice(0, at - 1),
    MAX_REF_LENGTH - digest.length - 1,
  );
  return `${image}@${digest}`;
}

/** An image ref within `max` characters: without its registry and parent paths, else its start and end. */
function shortenImage(value: string, max: number): string {
  if (value.length <= max) return value;
  const slash = value.lastIndexOf('/');
  const last = slash >= 0 ? `…${value.slice(slash)}` : value;
  if (last.length <= max) return last;
  const half = Math.floor((max - 1) / 2);
  return `${value.slice(0, half)}…${value.slice(-half)}`;
}

const RELATIVE_UNITS: Array<[Intl.RelativeTimeFormatUnit, number]> = [
  ['year', 365 * 24 * 3600],
  ['month', 30 * 24 * 3600],
  ['day', 24 * 3600],
  ['hour', 3600],
  ['minute', 60],
];

/** A timestamp exactly, with its zone, in the reader's locale. */
export function formatExactTime(iso: string): string {
  return new Date(iso).toLocaleString(undefined, {
    dateStyle: 'medium',
    timeStyle: 'long',
  });
}

/** `3 minutes ago`, `in 30 seconds`, `yesterday`: a timestamp relative to `now`. */
export function formatRelativeTime(iso: string, now: number): string {
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  if (Number.isNaN(seconds)) return iso;
  const format = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  for (const [unit, size] of RELATIVE_UNITS) {
    if (Math.abs(seconds) >= size) {
      return format.format(Math.round(seconds / size), unit);
    }
  }
  return format.format(seconds, 'second');
}

/** A person (`user:default/jane`) or the part of the backend that acted. */
export function describeActor(actor: string): string {
  return actor === 'gitops:automatic-rollback'
    ? 'the automatic rollback'
    : actor;
}
