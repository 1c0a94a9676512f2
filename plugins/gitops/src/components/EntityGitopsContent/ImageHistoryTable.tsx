import { Table, TableColumn } from '@backstage/core-components';
import { ImageHistoryEntry, Page } from '@gitops-workflow/plugin-gitops-common';
import { CommitLink } from '../common/CommitLink';
import { formatDuration, formatTime } from '../common/format';

/** Every committed image update, newest first. */
export function ImageHistoryTable(props: {
  history: Page<ImageHistoryEntry>;
  gitUrl?: string;
}) {
  const { history, gitUrl } = props;
  const columns: TableColumn<ImageHistoryEntry>[] = [
    { title: 'When', render: e => formatTime(e.detectedAt) },
    { title: 'Component', field: 'component' },
    { title: 'Image', field: 'image' },
    {
      title: 'Tag',
      render: e => `${e.oldTag ?? '(none)'} → ${e.newTag}`,
    },
    {
      title: 'Commit',
      render: e =>
        e.commitSha ? <CommitLink sha={e.commitSha} gitUrl={gitUrl} /> : '—',
    },
    {
      title: 'Rolled out',
      render: e => (e.appliedAt ? formatTime(e.appliedAt) : 'not yet'),
    },
    {
      title: 'Time to healthy',
      render: e =>
        e.healthyAt
          ? formatDuration(e.pushedAt, e.healthyAt)
          : 'not healthy yet',
    },
    { title: 'Trigger', field: 'trigger' },
  ];
  return (
    <Table
      title="Image history"
      subtitle={
        history.totalCount > history.items.length
          ? `latest ${history.items.length} of ${history.totalCount}`
          : undefined
      }
      options={{ paging: false, search: false, padding: 'dense' }}
      columns={columns}
      data={history.items}
      emptyContent={
        <div style={{ padding: 16 }}>
          No image updates yet. When the registry has a newer tag that matches
          the policy, it is committed to Git and appears here.
        </div>
      }
    />
  );
}
