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

/** A timestamp in the reader's locale, or a dash. */
export function formatTime(iso?: string): string {
  return iso ? new Date(iso).toLocaleString() : '—';
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
