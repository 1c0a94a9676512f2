import { Table, TableColumn } from '@backstage/core-components';
import { Page, ReconcileRun } from '@gitops-workflow/plugin-gitops-common';
import { CommitLink } from '../common/CommitLink';
import { formatDuration, parseRevision } from '../common/format';
import { RelativeTime } from '../common/RelativeTime';
import { ShortRef } from '../common/ShortRef';

// A constant: the table rebuilds its body whenever this element changes.
const NO_RUNS = (
  <div style={{ padding: 16 }}>
    No syncs recorded yet: this backend has not reconciled the Application.
    Press Sync now; if nothing appears, check that the Application carries the
    labels of <code>gitops.selector.matchLabels</code> in app-config.yaml, or
    whether another backend reconciles it.
  </div>
);

/** The latest reconciles: what started each, what it synced, and why one failed. */
export function RunsTable(props: {
  runs: Page<ReconcileRun>;
  gitUrl?: string;
}) {
  const { runs, gitUrl } = props;
  const columns: TableColumn<ReconcileRun>[] = [
    { title: 'Started', render: r => <RelativeTime iso={r.startedAt} /> },
    { title: 'Trigger', field: 'trigger' },
    { title: 'Took', render: r => formatDuration(r.startedAt, r.finishedAt) },
    {
      title: 'Revision',
      render: r => {
        const parsed = r.revision ? parseRevision(r.revision) : undefined;
        if (parsed) return <CommitLink sha={parsed.sha} gitUrl={gitUrl} />;
        return r.revision ? (
          <ShortRef value={r.revision} label="revision" />
        ) : (
          '—'
        );
      },
    },
    {
      title: 'Result',
      render: r =>
        r.repeats ? (
          <>
            {r.result}, {r.repeats} times until{' '}
            <RelativeTime iso={r.finishedAt} />
          </>
        ) : (
          r.result ?? 'running'
        ),
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
      emptyContent={NO_RUNS}
    />
  );
}
