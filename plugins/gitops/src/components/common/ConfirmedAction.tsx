import Button from '@material-ui/core/Button';
import { ComponentProps, useState } from 'react';
import { ReasonDialog } from './ReasonDialog';
import { WithReason } from './WithReason';

/**
 * A button for an audited action that asks to confirm, with an optional
 * reason, first. Disabled with `denied` (why, on hover) when the permission
 * policy does not let the user act.
 */
export function ConfirmedAction(props: {
  label: string;
  ariaLabel: string;
  denied?: string;
  color?: 'primary' | 'default';
  dialog: Omit<
    ComponentProps<typeof ReasonDialog>,
    'open' | 'onClose' | 'confirm'
  >;
}) {
  const [open, setOpen] = useState(false);
  return (
    <>
      <WithReason reason={props.denied}>
        <Button
          size="small"
          variant="outlined"
          color={props.color ?? 'default'}
          aria-label={props.ariaLabel}
          disabled={Boolean(props.denied)}
          onClick={() => setOpen(true)}
        >
          {props.label}
        </Button>
      </WithReason>
      <ReasonDialog
        open={open}
        confirm={props.label}
        onClose={() => setOpen(false)}
        {...props.dialog}
      />
    </>
  );
}
