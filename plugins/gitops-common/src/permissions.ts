import { createPermission } from '@backstage/plugin-permission-common';

/** See an Application's status, history and sync configuration. */
export const gitopsReadPermission = createPermission({
  name: 'gitops.application.read',
  attributes: { action: 'read' },
});

/** Trigger an immediate reconcile ("Sync now"). */
export const gitopsSyncPermission = createPermission({
  name: 'gitops.application.sync',
  attributes: { action: 'update' },
});

/** Suspend or resume image update automation for an Application. */
export const gitopsSuspendPermission = createPermission({
  name: 'gitops.application.suspend',
  attributes: { action: 'update' },
});

/** Resume a workflow step that waits in `suspend`. */
export const gitopsWorkflowResumePermission = createPermission({
  name: 'gitops.workflow.resume',
  attributes: { action: 'update' },
});

/** Redeploy an earlier revision of an Application. */
export const gitopsRollbackPermission = createPermission({
  name: 'gitops.application.rollback',
  attributes: { action: 'update' },
});

/** Every permission the plugin defines, for the permission policy integration. */
export const gitopsPermissions = [
  gitopsReadPermission,
  gitopsSyncPermission,
  gitopsSuspendPermission,
  gitopsWorkflowResumePermission,
  gitopsRollbackPermission,
];
