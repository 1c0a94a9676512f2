import { Table, TableColumn } from '@backstage/core-components';
import { Page, ReconcileRun } from '@gitops-workflow/plugin-gitops-common';
import { CommitLink } from '../common/CommitLink';
import { formatDuration, formatTime, parseRevision } from '../common/format';

/** The latest reconciles: what started each, what it synced, and why one failed. */
export function RunsTable(props: {
  runs: Page<ReconcileRun>;
  gitUrl?: string;
}) {
  const { runs, gitUrl } = props;
  const columns: TableColumn<ReconcileRun>[] = [
    { title: 'Started', render: r => formatTime(r.startedAt) },
    { title: 'Trigger', field: 'trigger' },
    { title: 'Took', render: r => formatDuration(r.startedAt, r.finishedAt) },
    {
      title: 'Revision',
      render: r => {
        const parsed = r.revision ? parseRevision(r.revision) : undefined;
        return parsed ? (
          <CommitLink sha={parsed.sha} gitUrl={gitUrl} />
        ) : (
          r.revision ?? '—'
        );
      },
    },
    {
      title: 'Result',
      render: r =>
        r.repeats
          ? `${r.result}, ${r.repeats} times until ${formatTime(r.finishedAt!)}`
          : r.result ?? 'running',
    },
    { title: 'Objects changed', render: r => r.objectsChanged ?? '—' },
    { title: 'Error', render: r => r.error ?? '' },
  ];
  return (
    <Table
      title="Recent syncs"
      subtitle={
        runs.totalCount > runs.items.length
          ? `latest ${runs.items.length} of ${runs.totalCount}`
          : undefined
      }
      options={{ paging: false, search: false, padding: 'dense' }}
      columns={columns}
      data={runs.items}
      emptyContent={
        <div style={{ padding: 16 }}>
          No syncs recorded yet: this backend has not reconciled the
          Application, or another backend reconciles it.
        </div>
      }
    />
  );
}
