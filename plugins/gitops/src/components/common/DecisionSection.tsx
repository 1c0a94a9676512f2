import Box from '@material-ui/core/Box';
import Typography from '@material-ui/core/Typography';
import { ReactNode } from 'react';

/**
 * One thing on a card a person decides about (a rollout, a cloud plan):
 * its title, what is known of it, its actions while a decision is open, and
 * what the last decision did.
 */
export function DecisionSection(props: {
  title: string;
  children: ReactNode;
  actions?: ReactNode;
  outcome?: string;
}) {
  return (
    <Box
      component="section"
      aria-label={props.title}
      mb={3}
      display="flex"
      flexDirection="column"
      gridGap={8}
    >
      <Typography variant="h6">{props.title}</Typography>
      {props.children}
      {props.actions && (
        <Box display="flex" gridGap={8}>
          {props.actions}
        </Box>
      )}
      {props.outcome && (
        <Typography role="status" variant="body2">
          {props.outcome}
        </Typography>
      )}
    </Box>
  );
}

/** Why the user may not take a card's actions, once the permission is known, while any is offered. */
export function PermissionNote(props: {
  permission: { loading: boolean; reason?: string };
  offered: boolean;
}) {
  const { permission, offered } = props;
  if (!offered || permission.loading || !permission.reason) return null;
  return (
    <Typography variant="caption" display="block">
      {permission.reason}
    </Typography>
  );
}
