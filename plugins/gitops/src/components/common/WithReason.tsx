import Tooltip from '@material-ui/core/Tooltip';
import { ReactElement } from 'react';

/**
 * Shows why a control is disabled on hover and focus. A disabled button fires
 * no mouse events, so the tooltip hangs on a span around it.
 */
export function WithReason(props: { reason?: string; children: ReactElement }) {
  return props.reason ? (
    <Tooltip title={props.reason}>
      <span>{props.children}</span>
    </Tooltip>
  ) : (
    props.children
  );
}
