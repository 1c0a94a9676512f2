import { useApi } from '@backstage/core-plugin-api';
import {
  ApplicationRef,
  gitopsRollbackPermission,
  ImageHold,
  stringifyApplicationRef,
  SyncState,
} from '@gitops-workflow/plugin-gitops-common';
import Box from '@material-ui/core/Box';
import Button from '@material-ui/core/Button';
import Typography from '@material-ui/core/Typography';
import Alert from '@material-ui/lab/Alert';
import AlertTitle from '@material-ui/lab/AlertTitle';
import { ReactNode, useState } from 'react';
import { gitopsApiRef } from '../../api';
import { describeActor } from '../common/format';
import { ReasonDialog } from '../common/ReasonDialog';
import { RelativeTime } from '../common/RelativeTime';
import { ShortRef } from '../common/ShortRef';
import { useEntityPermissionReason, WithReason } from '../common/WithReason';

/** Who placed a hold, when and why, in one sentence. */
export function HoldStory({ hold }: { hold: ImageHold }) {
  return (
    <>
      {hold.automatic
        ? `Rolled back automatically${
            hold.failedTag ? ` from ${hold.failedTag}` : ''
          } `
        : `Rolled back by ${describeActor(hold.heldBy)} `}
      <RelativeTime iso={hold.heldAt} />
      {hold.reason ? `: ${hold.reason}` : ' (no reason given)'}.
    </>
  );
}

/** What the tag policy would commit if the hold were released now. */
export function WouldPick({ hold }: { hold: ImageHold }) {
  if (!hold.wouldPick) return <>The policy has found no other tag since.</>;
  if (hold.wouldPick === hold.tag) {
    return <>The policy would pick {hold.tag} too.</>;
  }
  return (
    <>
      The policy would pick {hold.wouldPick} now
      {hold.wouldPickAt && (
        <>
          {' '}
          (seen <RelativeTime iso={hold.wouldPickAt} />)
        </>
      )}
      : releasing the hold commits it.
    </>
  );
}

/** A banner with one guarded action that asks for a reason first. */
function Banner(props: {
  title: ReactNode;
  children: ReactNode;
  action: string;
  ariaLabel: string;
  permission: { loading: boolean; reason?: string };
  dialog: {
    title: string;
    description: ReactNode;
    failure: string;
    onConfirm: (reason?: string) => Promise<void>;
  };
}) {
  const [open, setOpen] = useState(false);
  return (
    <Alert
      severity="warning"
      action={
        <WithReason reason={props.permission.reason}>
          <Button
            color="inherit"
            variant="outlined"
            size="small"
            aria-label={props.ariaLabel}
            disabled={Boolean(props.permission.reason)}
            onClick={() => setOpen(true)}
          >
            {props.action}
          </Button>
        </WithReason>
      }
    >
      <AlertTitle>{props.title}</AlertTitle>
      {props.children}
      {!props.permission.loading && props.permission.reason && (
        <Typography variant="caption" display="block">
          {props.permission.reason}
        </Typography>
      )}
      <ReasonDialog
        open={open}
        confirm={props.action}
        onClose={() => setOpen(false)}
        {...props.dialog}
      />
    </Alert>
  );
}

/**
 * The tab's banners for what a rollback holds in place: each image hold
 * (who, when, why, which tag, what the policy would pick now) and a pinned
 * workflow revision, each with its Release action.
 */
export function HoldBanner(props: {
  sync?: SyncState;
  appRef: ApplicationRef;
  onDone: () => void;
}) {
  const { sync, appRef, onDone } = props;
  const api = useApi(gitopsApiRef);
  const name = stringifyApplicationRef(appRef);
  const permission = useEntityPermissionReason(
    gitopsRollbackPermission,
    `release holds of ${name}`,
  );
  const holds = sync?.holds ?? [];
  const pinned = sync?.pinnedRevision;
  if (holds.length === 0 && !pinned) return null;
  return (
    <Box display="flex" flexDirection="column" gridGap={8} mb={3}>
      {holds.map(hold => (
        <Banner
          key={hold.component}
          title={
            <>
              Image automation of {hold.component} is held at {hold.tag}
              {hold.digest && (
                <>
                  {' '}
                  <ShortRef value={hold.digest} label="digest" />
                </>
              )}
            </>
          }
          action="Release hold"
          ariaLabel={`Release the hold on ${hold.component}`}
          permission={permission}
          dialog={{
            title: `Release the hold on ${hold.component}?`,
            description: (
              <>
                Automation resumes: the policy picks the newest tag again and
                the bot commits it to Git. <WouldPick hold={hold} />
              </>
            ),
            failure: 'Could not release the hold',
            onConfirm: async reason => {
              await api.releaseImageHold(appRef, hold.component, reason);
              onDone();
            },
          }}
        >
          <Typography variant="body2">
            <HoldStory hold={hold} /> New tags of{' '}
            <ShortRef value={hold.image} label="image" /> are recorded but not
            committed until someone releases the hold. <WouldPick hold={hold} />
          </Typography>
        </Banner>
      ))}
      {pinned && (
        <Banner
          title={`Workflow revision ${pinned.revision} is pinned`}
          action="Release"
          ariaLabel={`Release the pinned workflow revision ${pinned.revision}`}
          permission={permission}
          dialog={{
            title: `Release workflow revision ${pinned.revision}?`,
            description:
              'The next pass applies the Application as Git and the cluster have it now, replacing the rolled-back revision.',
            failure: 'Could not release the revision',
            onConfirm: async reason => {
              await api.releaseWorkflowRevision(appRef, reason);
              onDone();
            },
          }}
        >
          <Typography variant="body2">
            Rolled back
            {pinned.by && ` by ${describeActor(pinned.by)}`}
            {pinned.at && (
              <>
                {' '}
                <RelativeTime iso={pinned.at} />
              </>
            )}
            {pinned.reason ? `: ${pinned.reason}` : ''}. Newer revisions of the
            Application are not applied until someone releases it.
          </Typography>
        </Banner>
      )}
    </Box>
  );
}
