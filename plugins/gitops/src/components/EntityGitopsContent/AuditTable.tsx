import { Table, TableColumn } from '@backstage/core-components';
import {
  AuditAction,
  AuditEntry,
  Page,
} from '@gitops-workflow/plugin-gitops-common';
import { describeActor } from '../common/format';
import { RelativeTime } from '../common/RelativeTime';

/** Each audited action as a person would name it. */
const ACTION_WORDS: Record<AuditAction, string> = {
  sync: 'sync',
  suspend: 'suspend automation',
  resume: 'resume automation',
  workflowResume: 'resume workflow step',
  workflowRollback: 'roll back workflow',
  workflowRelease: 'release workflow revision',
  imageRollback: 'roll back image',
  imageRelease: 'release hold',
  automaticRollback: 'automatic rollback',
  rolloutPromote: 'promote rollout',
  rolloutAbort: 'abort rollout',
  cloudApprove: 'approve cloud plan',
};

const columns: TableColumn<AuditEntry>[] = [
  { title: 'When', render: e => <RelativeTime iso={e.at} /> },
  {
    title: 'Action',
    render: e => (
      <span style={{ whiteSpace: 'nowrap' }}>
        {ACTION_WORDS[e.action] ?? e.action}
      </span>
    ),
  },
  { title: 'Who', render: e => describeActor(e.actor) },
  { title: 'What', field: 'summary' },
  { title: 'Reason', render: e => e.reason ?? '—' },
];

// A constant: the table rebuilds its body whenever this element changes.
const NO_ACTIONS = (
  <div style={{ padding: 16 }}>
    No actions recorded yet. Sync now, suspending automation, rollbacks,
    releases and resumed workflow steps — from this tab, the <code>gitops</code>{' '}
    CLI or the API — appear here with who took them and why.
  </div>
);

/** Who did what to the Application, when and why: newest first. */
export function AuditTable({ audit }: { audit: Page<AuditEntry> }) {
  return (
    <Table
      title="Audit"
      subtitle={
        audit.totalCount > audit.items.length
          ? `latest ${audit.items.length} of ${audit.totalCount}`
          : undefined
      }
      options={{ paging: false, search: false, padding: 'dense' }}
      columns={columns}
      data={audit.items}
      emptyContent={NO_ACTIONS}
    />
  );
}
