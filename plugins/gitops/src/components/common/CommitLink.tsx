import { Link } from '@backstage/core-components';
import { commitUrl } from './format';

/** A commit SHA, linked to its forge page when the Git server is a known forge. */
export function CommitLink({ sha, gitUrl }: { sha: string; gitUrl?: string }) {
  const short = sha.slice(0, 7);
  const href = commitUrl(gitUrl, sha);
  return href ? (
    <Link to={href} aria-label={`Open commit ${short}`}>
      {short}
    </Link>
  ) : (
    <code title={sha}>{short}</code>
  );
}
