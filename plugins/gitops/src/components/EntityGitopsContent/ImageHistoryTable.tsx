import {
  StatusError,
  StatusOK,
  StatusPending,
  Table,
  TableColumn,
} from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import {
  ApplicationRef,
  gitopsRollbackPermission,
  ImageHistoryEntry,
  Page,
  stringifyApplicationRef,
} from '@gitops-workflow/plugin-gitops-common';
import Button from '@material-ui/core/Button';
import Typography from '@material-ui/core/Typography';
import { useState } from 'react';
import { gitopsApiRef } from '../../api';
import { CommitLink } from '../common/CommitLink';
import { describeActor, formatDuration } from '../common/format';
import { compactColumns } from '../common/layout';
import { ReasonDialog } from '../common/ReasonDialog';
import { RelativeTime } from '../common/RelativeTime';
import { ShortRef } from '../common/ShortRef';
import { useEntityPermissionReason, WithReason } from '../common/WithReason';

/** A row's "Roll back to" target. */
interface RollbackTarget {
  component: string;
  image: string;
  tag: string;
}

// A constant: the table rebuilds its body whenever this element changes.
const NO_HISTORY = (
  <div style={{ padding: 16 }}>
    No image updates yet. Give a kustomize component an{' '}
    <code>imageRepository</code> with a tag policy and mark the image fields in
    Git with <code>{'# {"$imagepolicy": "ns:name"}'}</code>: when the registry
    has a newer tag that matches, the bot commits it and it appears here.
  </div>
);

/**
 * The tag each row offers to roll back to: its own tag, unless that is what
 * runs now; the row of what runs offers the tag it replaced when no older row
 * shows it (e.g. the tag the repository started with). Rows of a deleted
 * Application offer nothing.
 */
export function rollbackTargets(
  rows: ImageHistoryEntry[],
): Map<number, RollbackTarget> {
  const targets = new Map<number, RollbackTarget>();
  const running = new Map<string, string>();
  // Newest first: the first row of a component is what runs.
  for (const row of rows) {
    if (!running.has(row.component)) running.set(row.component, row.newTag);
  }
  for (const [index, row] of rows.entries()) {
    if (row.applicationDeletedAt) continue;
    const current = running.get(row.component);
    let tag: string | undefined;
    if (row.newTag !== current) tag = row.newTag;
    else if (
      row.oldTag &&
      row.oldTag !== current &&
      !rows
        .slice(index + 1)
        .some(o => o.component === row.component && o.newTag === row.oldTag)
    ) {
      tag = row.oldTag;
    }
    if (tag) {
      targets.set(row.id, { component: row.component, image: row.image, tag });
    }
  }
  return targets;
}

/** Why the bot made this commit, and what became of it. */
function Why({ entry }: { entry: ImageHistoryEntry }) {
  const by = entry.requestedBy ? ` by ${describeActor(entry.requestedBy)}` : '';
  const reason = entry.reason ? `: ${entry.reason}` : '';
  let why: string;
  switch (entry.action) {
    case 'rollback':
      why = `rollback${by}${reason}`;
      break;
    case 'automaticRollback':
      why = `rolled back automatically${reason}`;
      break;
    case 'release':
      why = `hold released${by}${reason}`;
      break;
    default:
      why = `${entry.policy ?? 'policy'} (${entry.trigger})`;
  }
  return (
    <>
      {why}
      {entry.rolledBackAt && (
        <Typography variant="caption" display="block">
          rolled back <RelativeTime iso={entry.rolledBackAt} />
        </Typography>
      )}
    </>
  );
}

/** How the rollout went: when it was applied, and time to healthy or why it failed. */
function Outcome({ entry }: { entry: ImageHistoryEntry }) {
  let health;
  if (entry.failedAt) {
    health = (
      <StatusError>
        failed <RelativeTime iso={entry.failedAt} />
        {entry.failure ? `: ${entry.failure}` : ''}
      </StatusError>
    );
  } else if (entry.healthyAt) {
    health = (
      <StatusOK>
        healthy in {formatDuration(entry.pushedAt, entry.healthyAt)}
      </StatusOK>
    );
  } else {
    health = <StatusPending>not healthy yet</StatusPending>;
  }
  return (
    <>
      {health}
      <Typography variant="caption" display="block">
        rolled out <RelativeTime iso={entry.appliedAt} missing="not yet" />
      </Typography>
    </>
  );
}

/**
 * Every committed image update, newest first, with why it was made (policy,
 * rollback, automatic rollback, release), how its rollout went, and on each
 * row "Roll back to <tag>" for tags other than the one running.
 */
export function ImageHistoryTable(props: {
  history: Page<ImageHistoryEntry>;
  gitUrl?: string;
  appRef: ApplicationRef;
  onDone: () => void;
}) {
  const { history, gitUrl, appRef, onDone } = props;
  const api = useApi(gitopsApiRef);
  const name = stringifyApplicationRef(appRef);
  const permission = useEntityPermissionReason(
    gitopsRollbackPermission,
    `roll back images of ${name}`,
  );
  // The target outlives the dialog's closing, so its title stays put while it fades.
  const [target, setTarget] = useState<RollbackTarget>();
  const [open, setOpen] = useState(false);
  const [done, setDone] = useState<string>();
  const targets = rollbackTargets(history.items);

  const columns: TableColumn<ImageHistoryEntry>[] = [
    { title: 'When', render: e => <RelativeTime iso={e.detectedAt} /> },
    {
      title: 'Component and image',
      render: e => (
        <>
          {e.component}
          <Typography variant="caption" display="block">
            <ShortRef value={e.image} label="image" />
          </Typography>
        </>
      ),
    },
    {
      title: 'Tag',
      render: e => (
        <>
          <span>
            {e.oldTag ?? '(none)'} → {e.newTag}
          </span>
          {e.digest && (
            <div>
              <ShortRef value={e.digest} label="digest" />
            </div>
          )}
        </>
      ),
    },
    { title: 'Why', render: e => <Why entry={e} /> },
    {
      title: 'Commit',
      render: e =>
        e.commitSha ? <CommitLink sha={e.commitSha} gitUrl={gitUrl} /> : '—',
    },
    { title: 'Rollout', render: e => <Outcome entry={e} /> },
    {
      title: 'Action',
      render: e => {
        const t = targets.get(e.id);
        if (!t) return null;
        return (
          <WithReason reason={permission.reason}>
            <Button
              size="small"
              variant="outlined"
              aria-label={`Roll back ${t.component} to ${t.tag}`}
              disabled={Boolean(permission.reason)}
              onClick={() => {
                setTarget(t);
                setOpen(true);
              }}
            >
              Roll back to {t.tag}
            </Button>
          </WithReason>
        );
      },
    },
  ];
  return (
    <>
      <Table
        title="Image history"
        subtitle={
          history.totalCount > history.items.length
            ? `latest ${history.items.length} of ${history.totalCount}`
            : undefined
        }
        options={{ paging: false, search: false, padding: 'dense' }}
        columns={compactColumns(columns)}
        data={history.items}
        emptyContent={NO_HISTORY}
      />
      {!permission.loading && permission.reason && targets.size > 0 && (
        <Typography variant="caption" display="block">
          {permission.reason}
        </Typography>
      )}
      {done && (
        <Typography role="status" variant="body2">
          {done}
        </Typography>
      )}
      <ReasonDialog
        open={open}
        title={`Roll ${target?.component} back to ${target?.tag}?`}
        description={
          target && (
            <>
              The bot commits {target.image}:{target.tag} to Git (with you as
              the requester) and the rollout follows. Image automation of{' '}
              {target.component} is then held at {target.tag}: newer tags are
              recorded but not committed until someone releases the hold.
            </>
          )
        }
        confirm="Roll back"
        failure="Could not roll back"
        onClose={() => setOpen(false)}
        onConfirm={async reason => {
          if (!target) return;
          const { hold } = await api.rollbackImage(appRef, target.component, {
            to: target.tag,
            reason,
          });
          setDone(
            `Rolling ${hold.component} back to ${hold.tag}: automation is held there until released.`,
          );
          onDone();
        }}
      />
    </>
  );
}
