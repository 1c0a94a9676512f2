import { catalogEntityReadPermission } from '@backstage/plugin-catalog-common/alpha';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import { PolicyQueryUser } from '@backstage/plugin-permission-node';
import {
  gitopsPermissions,
  gitopsReadPermission,
  gitopsRollbackPermission,
  gitopsSyncPermission,
  gitopsUpdatePermissions,
} from '@gitops-workflow/plugin-gitops-common';
import { DemoPermissionPolicy } from './permissionPolicy';

const guest: PolicyQueryUser = {
  info: {
    userEntityRef: 'user:development/guest',
    ownershipEntityRefs: ['user:development/guest', 'group:default/guests'],
  },
  credentials: {
    $$type: '@backstage/BackstageCredentials',
    principal: { type: 'user', userEntityRef: 'user:development/guest' },
  },
};

describe('the demo permission policy', () => {
  it('lets the owners of the entity sync, suspend, resume workflows, roll back, decide rollouts and approve cloud plans', async () => {
    const policy = new DemoPermissionPolicy();
    expect(gitopsUpdatePermissions.map(p => p.name).sort()).toEqual([
      'gitops.application.rollback',
      'gitops.application.suspend',
      'gitops.application.sync',
      'gitops.cloud.approve',
      'gitops.rollout.decide',
      'gitops.workflow.resume',
    ]);
    for (const permission of gitopsUpdatePermissions) {
      expect(await policy.handle({ permission }, guest)).toEqual({
        result: AuthorizeResult.CONDITIONAL,
        pluginId: 'catalog',
        resourceType: 'catalog-entity',
        conditions: {
          rule: 'IS_ENTITY_OWNER',
          resourceType: 'catalog-entity',
          params: {
            claims: ['user:development/guest', 'group:default/guests'],
          },
        },
      });
    }
    // Without a user, no one is an owner.
    expect(
      await policy.handle({ permission: gitopsSyncPermission }),
    ).toMatchObject({ conditions: { params: { claims: [] } } });
  });

  it('lets everyone read Applications and the catalog', async () => {
    const policy = new DemoPermissionPolicy();
    for (const permission of [
      gitopsReadPermission,
      catalogEntityReadPermission,
    ]) {
      expect(await policy.handle({ permission }, guest)).toEqual({
        result: AuthorizeResult.ALLOW,
      });
    }
  });

  it('denies the permissions of permission.denyPermissions to everyone, owners too', async () => {
    const policy = new DemoPermissionPolicy(
      new Set([gitopsSyncPermission.name, gitopsReadPermission.name]),
    );
    expect(
      await policy.handle({ permission: gitopsSyncPermission }, guest),
    ).toEqual({ result: AuthorizeResult.DENY });
    expect(
      await policy.handle({ permission: gitopsReadPermission }, guest),
    ).toEqual({ result: AuthorizeResult.DENY });
    expect(
      await policy.handle({ permission: gitopsRollbackPermission }, guest),
    ).toMatchObject({ result: AuthorizeResult.CONDITIONAL });
    expect(gitopsPermissions.every(p => p.type === 'resource')).toBe(true);
  });
});
