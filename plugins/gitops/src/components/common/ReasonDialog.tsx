import Button from '@material-ui/core/Button';
import Dialog from '@material-ui/core/Dialog';
import DialogActions from '@material-ui/core/DialogActions';
import DialogContent from '@material-ui/core/DialogContent';
import DialogContentText from '@material-ui/core/DialogContentText';
import DialogTitle from '@material-ui/core/DialogTitle';
import TextField from '@material-ui/core/TextField';
import Typography from '@material-ui/core/Typography';
import { ReactNode, useState } from 'react';

let dialogs = 0;
import { backendMessage } from './errors';

/**
 * Confirms an action that is audited, asking an optional reason for the
 * audit trail. Stays open with the backend's words when the action fails, so
 * the person can fix the cause and try again.
 */
export function ReasonDialog(props: {
  open: boolean;
  title: string;
  description: ReactNode;
  /** The confirm button's label, e.g. "Roll back". */
  confirm: string;
  /** What failed, before the backend's reason: "Could not roll back". */
  failure: string;
  onConfirm: (reason?: string) => Promise<void>;
  onClose: () => void;
}) {
  const { open, title, description, confirm, failure, onConfirm, onClose } =
    props;
  const [titleId] = useState(() => `gitops-reason-dialog-${++dialogs}`);
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const close = () => {
    setReason('');
    setError(undefined);
    onClose();
  };
  const submit = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await onConfirm(reason.trim() || undefined);
      close();
    } catch (e) {
      setError(`${failure}: ${backendMessage(e as Error)}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog open={open} onClose={close} aria-labelledby={titleId} fullWidth>
      <DialogTitle id={titleId}>{title}</DialogTitle>
      <DialogContent>
        <DialogContentText component="div">{description}</DialogContentText>
        <TextField
          id={`${titleId}-reason`}
          label="Reason (optional, recorded in the audit trail)"
          value={reason}
          onChange={e => setReason(e.target.value)}
          fullWidth
          multiline
          variant="outlined"
          margin="dense"
        />
        {error && (
          <Typography role="alert" color="error" variant="body2">
            {error}
          </Typography>
        )}
      </DialogContent>
      <DialogActions>
        <Button onClick={close} disabled={busy}>
          Cancel
        </Button>
        <Button
          color="primary"
          variant="contained"
          onClick={submit}
          disabled={busy}
        >
          {confirm}
        </Button>
      </DialogActions>
    </Dialog>
  );
}
