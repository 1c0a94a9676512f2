import { stringifyEntityRef } from '@backstage/catalog-model';
import { useEntity } from '@backstage/plugin-catalog-react';
import { ResourcePermission } from '@backstage/plugin-permission-common';
import { usePermission } from '@backstage/plugin-permission-react';
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

/**
 * Asks whether the user holds `permission` on the entity whose page this is
 * (the gitops permissions are permissions on the Application's catalog
 * entity, e.g. only its owners may sync), and says why not, for
 * {@link WithReason}. `what` completes "You are not allowed to …".
 */
export function useEntityPermissionReason(
  permission: ResourcePermission<'catalog-entity'>,
  what: string,
): { loading: boolean; reason?: string } {
  const { entity } = useEntity();
  const entityRef = stringifyEntityRef(entity);
  const { loading, allowed } = usePermission({
    permission,
    resourceRef: entityRef,
  });
  if (loading) return { loading, reason: 'Checking your permissions…' };
  if (!allowed) {
    return {
      loading,
      reason: `You are not allowed to ${what} (permission ${permission.name} on ${entityRef}). Ask an owner of ${entityRef} or an administrator.`,
    };
  }
  return { loading, reason: undefined };
}
