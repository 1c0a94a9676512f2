import { useApi } from '@backstage/core-plugin-api';
import {
  ApplicationRef,
  gitopsSuspendPermission,
  gitopsSyncPermission,
  stringifyApplicationRef,
} from '@gitops-workflow/plugin-gitops-common';
import Box from '@material-ui/core/Box';
import Button from '@material-ui/core/Button';
import Dialog from '@material-ui/core/Dialog';
import DialogActions from '@material-ui/core/DialogActions';
import DialogContent from '@material-ui/core/DialogContent';
import DialogContentText from '@material-ui/core/DialogContentText';
import DialogTitle from '@material-ui/core/DialogTitle';
import Typography from '@material-ui/core/Typography';
import { ReactNode, useState } from 'react';
import { gitopsApiRef } from '../../api';
import { backendMessage } from '../common/errors';
import { useEntityPermissionReason, WithReason } from '../common/WithReason';

function GuardedButton(props: {
  label: string;
  ariaLabel: string;
  reason?: string;
  busy: boolean;
  onClick: () => void;
  color?: 'primary' | 'default';
}) {
  const button = (
    <Button
      variant="contained"
      color={props.color ?? 'default'}
      aria-label={props.ariaLabel}
      disabled={Boolean(props.reason) || props.busy}
      onClick={props.onClick}
    >
      {props.label}
    </Button>
  );
  return <WithReason reason={props.reason}>{button}</WithReason>;
}

/** Sync now and Suspend/Resume automation, each guarded by its permission. */
export function ApplicationActions(props: {
  appRef: ApplicationRef;
  suspended: boolean;
  onDone: () => void;
}) {
  const { appRef, suspended, onDone } = props;
  const api = useApi(gitopsApiRef);
  const name = stringifyApplicationRef(appRef);
  const sync = useEntityPermissionReason(gitopsSyncPermission, `sync ${name}`);
  const suspend = useEntityPermissionReason(
    gitopsSuspendPermission,
    `${suspended ? 'resume' : 'suspend'} automation of ${name}`,
  );
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [outcome, setOutcome] = useState<{ ok: boolean; text: ReactNode }>();

  async function act(
    run: () => Promise<void>,
    success: string,
    failure: string,
  ) {
    setBusy(true);
    try {
      await run();
      setOutcome({ ok: true, text: success });
      onDone();
    } catch (e) {
      setOutcome({
        ok: false,
        text: `${failure}: ${backendMessage(e as Error)}`,
      });
    } finally {
      setBusy(false);
    }
  }

  const automation = suspended ? 'Resume automation' : 'Suspend automation';
  const reasons = [sync, suspend]
    .map(d => (d.loading ? undefined : d.reason))
    .filter(Boolean);

  return (
    <Box>
      <Box display="flex" gridGap={8} flexWrap="wrap">
        <GuardedButton
          label="Sync now"
          ariaLabel={`Sync ${name} now`}
          color="primary"
          reason={sync.reason}
          busy={busy}
          onClick={() =>
            act(
              () => api.sync(appRef),
              `Sync of ${name} started; the page updates when it finishes.`,
              'Sync could not start',
            )
          }
        />
        <GuardedButton
          label={automation}
          ariaLabel={`${automation} of ${name}`}
          reason={suspend.reason}
          busy={busy}
          onClick={() => setConfirming(true)}
        />
      </Box>
      {reasons.map(r => (
        <Typography key={r} variant="caption" display="block">
          {r}
        </Typography>
      ))}
      {outcome && (
        <Typography
          role="status"
          variant="body2"
          color={outcome.ok ? 'textPrimary' : 'error'}
        >
          {outcome.text}
        </Typography>
      )}
      <Dialog
        open={confirming}
        onClose={() => setConfirming(false)}
        aria-labelledby="gitops-automation-dialog-title"
      >
        <DialogTitle id="gitops-automation-dialog-title">
          {automation} of {name}?
        </DialogTitle>
        <DialogContent>
          <DialogContentText>
            {suspended
              ? 'New image tags will be committed to Git and rolled out again.'
              : 'New image tags will no longer be committed to Git until automation is resumed. Git changes are still applied.'}
          </DialogContentText>
        </DialogContent>
        <DialogActions>
          <Button aria-label="Cancel" onClick={() => setConfirming(false)}>
            Cancel
          </Button>
          <Button
            aria-label={`Confirm: ${automation.toLowerCase()}`}
            color="primary"
            onClick={() => {
              setConfirming(false);
              act(
                () => api.setSuspended(appRef, !suspended),
                suspended
                  ? `Automation of ${name} resumed.`
                  : `Automation of ${name} suspended.`,
                `Could not ${suspended ? 'resume' : 'suspend'} automation`,
              );
            }}
          >
            {automation}
          </Button>
        </DialogActions>
      </Dialog>
    </Box>
  );
}
