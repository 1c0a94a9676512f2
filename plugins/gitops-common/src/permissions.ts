import { RESOURCE_TYPE_CATALOG_ENTITY } from '@backstage/plugin-catalog-common/alpha';
import { createPermission } from '@backstage/plugin-permission-common';

/*
 * Each permission is a resource permission on the catalog entity an
 * Application is linked to (the entity annotated
 * `gitops-workflow.io/application`), so a policy can decide with the
 * catalog's own rules, e.g. `catalogConditions.isEntityOwner`: "owners of the
 * entity may sync". The backend authorizes with that entity's ref; for an
 * Application no entity is linked to, only an unconditional ALLOW passes.
 */

/** See an Application's status, history and sync configuration. */
export const gitopsReadPermission = createPermission({
  name: 'gitops.application.read',
  attributes: { action: 'read' },
  resourceType: RESOURCE_TYPE_CATALOG_ENTITY,
});

/** Trigger an immediate reconcile ("Sync now"). */
export const gitopsSyncPermission = createPermission({
  name: 'gitops.application.sync',
  attributes: { action: 'update' },
  resourceType: RESOURCE_TYPE_CATALOG_ENTITY,
});

/** Suspend or resume image update automation for an Application. */
export const gitopsSuspendPermission = createPermission({
  name: 'gitops.application.suspend',
  attributes: { action: 'update' },
  resourceType: RESOURCE_TYPE_CATALOG_ENTITY,
});

/** Resume a workflow step that waits in `suspend`. */
export const gitopsWorkflowResumePermission = createPermission({
  name: 'gitops.workflow.resume',
  attributes: { action: 'update' },
  resourceType: RESOURCE_TYPE_CATALOG_ENTITY,
});

/** Redeploy an earlier revision of an Application. */
export const gitopsRollbackPermission = createPermission({
  name: 'gitops.application.rollback',
  attributes: { action: 'update' },
  resourceType: RESOURCE_TYPE_CATALOG_ENTITY,
});

/** Promote or abort a component's progressive rollout (canary or blue-green). */
export const gitopsRolloutPermission = createPermission({
  name: 'gitops.rollout.decide',
  attributes: { action: 'update' },
  resourceType: RESOURCE_TYPE_CATALOG_ENTITY,
});

/** Approve the plan of a `terraform` component with `approve: manual`. */
export const gitopsCloudApprovePermission = createPermission({
  name: 'gitops.cloud.approve',
  attributes: { action: 'update' },
  resourceType: RESOURCE_TYPE_CATALOG_ENTITY,
});

/** Every permission the plugin defines, for the permission policy integration. */
export const gitopsPermissions = [
  gitopsReadPermission,
  gitopsSyncPermission,
  gitopsSuspendPermission,
  gitopsWorkflowResumePermission,
  gitopsRollbackPermission,
  gitopsRolloutPermission,
  gitopsCloudApprovePermission,
];

/** The permissions that change something: all but read. */
export const gitopsUpdatePermissions = gitopsPermissions.filter(
  p => p.attributes.action === 'update',
);
