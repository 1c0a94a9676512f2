import { InfoCard } from '@backstage/core-components';
import { ResourcePermission } from '@backstage/plugin-permission-common';
import Box from '@material-ui/core/Box';
import Typography from '@material-ui/core/Typography';
import { Fragment, ReactNode } from 'react';
import { useEntityPermissionReason } from './WithReason';

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

/**
 * A card of things a person decides about (rollouts, cloud plans), all
 * guarded by one permission on the entity: each item is rendered with why
 * the user may not act (`denied`), and that reason stands once under them,
 * once the permission is known, while any item is open for a decision.
 */
export function DecisionCard<T>(props: {
  title: string;
  items: T[];
  keyOf: (item: T) => string;
  permission: ResourcePermission<'catalog-entity'>;
  /** Completes "You are not allowed to …". */
  what: string;
  open: (item: T) => boolean;
  children: (item: T, denied: string | undefined) => ReactNode;
}) {
  const permission = useEntityPermissionReason(props.permission, props.what);
  const note =
    !permission.loading && permission.reason && props.items.some(props.open);
  return (
    <InfoCard title={props.title}>
      {props.items.map(item => (
        <Fragment key={props.keyOf(item)}>
          {props.children(item, permission.reason)}
        </Fragment>
      ))}
      {note && (
        <Typography variant="caption" display="block">
          {permission.reason}
        </Typography>
      )}
    </InfoCard>
  );
}
