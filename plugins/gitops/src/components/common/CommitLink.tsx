import { Link } from '@backstage/core-components';
import { commitUrl } from './format';
import { CopyButton } from './ShortRef';

/**
 * A commit's short SHA, linked to its forge page when the Git server is a
 * known forge; the full SHA on hover and a button to copy it.
 */
export function CommitLink({ sha, gitUrl }: { sha: string; gitUrl?: string }) {
  const short = sha.slice(0, 7);
  const href = commitUrl(gitUrl, sha);
  return (
    <span style={{ whiteSpace: 'nowrap' }}>
      {href ? (
        <Link to={href} aria-label={`Open commit ${short}`} title={sha}>
          {short}
        </Link>
      ) : (
        <code title={sha}>{short}</code>
      )}
      <CopyButton value={sha} label="commit SHA" />
    </span>
  );
}
