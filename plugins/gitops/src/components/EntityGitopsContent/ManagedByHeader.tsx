import { EntityRefLink } from '@backstage/plugin-catalog-react';
import { ManagedBy } from '@gitops-workflow/plugin-gitops-common';
import Typography from '@material-ui/core/Typography';
import { CommitLink } from '../common/CommitLink';
import { parseRevision } from '../common/format';
import { ShortRef } from '../common/ShortRef';

/** A `branch@sha1:<sha>` revision with its commit linked (on a known forge) and copyable. */
export function Revision(props: { revision?: string; gitUrl?: string }) {
  if (!props.revision) return <>not synced from Git yet</>;
  const parsed = parseRevision(props.revision);
  if (!parsed) return <ShortRef value={props.revision} label="revision" />;
  return (
    <span style={{ whiteSpace: 'nowrap' }}>
      {parsed.branch}@sha1:
      <CommitLink sha={parsed.sha} gitUrl={props.gitUrl} />
    </span>
  );
}

/**
 * "managed by default/git-app, master@sha1:3f1c2a9": the Application that
 * applied this one from Git, linked to its catalog entity when it has one,
 * and the revision of its that carried this Application's spec.
 */
export function ManagedByHeader({ managedBy }: { managedBy: ManagedBy }) {
  const name = `${managedBy.namespace}/${managedBy.name}`;
  return (
    <Typography variant="body2" component="p" aria-label="Managed by">
      managed by{' '}
      {managedBy.entityRef ? (
        <EntityRefLink entityRef={managedBy.entityRef} title={name} />
      ) : (
        <strong>{name}</strong>
      )}
      {', '}
      <Revision revision={managedBy.revision} gitUrl={managedBy.url} />
      {` (its component ${managedBy.component}, on cluster ${managedBy.cluster})`}
    </Typography>
  );
}
