import {
  coreServices,
  createBackendModule,
} from '@backstage/backend-plugin-api';
import {
  catalogConditions,
  createCatalogConditionalDecision,
} from '@backstage/plugin-catalog-backend/alpha';
import { RESOURCE_TYPE_CATALOG_ENTITY } from '@backstage/plugin-catalog-common/alpha';
import {
  AuthorizeResult,
  isResourcePermission,
  PolicyDecision,
} from '@backstage/plugin-permission-common';
import {
  PermissionPolicy,
  PolicyQuery,
  PolicyQueryUser,
} from '@backstage/plugin-permission-node';
import { policyExtensionPoint } from '@backstage/plugin-permission-node/alpha';
import { gitopsUpdatePermissions } from '@gitops-workflow/plugin-gitops-common';

const GITOPS_UPDATES = new Set(gitopsUpdatePermissions.map(p => p.name));

/**
 * The demo's policy. The gitops permissions are resource permissions on the
 * catalog entity an Application is linked to: the owners of that entity (the
 * user or one of their groups, the catalog's `isEntityOwner`) may sync,
 * suspend or resume automation, resume a workflow, roll back, promote or
 * abort a rollout and approve a cloud plan; everyone may read. Everything else is allowed. The permissions named in
 * `permission.denyPermissions` are denied to everyone, owners included, e.g.
 * `[gitops.application.sync]` to see the app as a user who may look but not
 * sync.
 */
export class DemoPermissionPolicy implements PermissionPolicy {
  constructor(private readonly denied: ReadonlySet<string> = new Set()) {}

  async handle(
    request: PolicyQuery,
    user?: PolicyQueryUser,
  ): Promise<PolicyDecision> {
    const { permission } = request;
    if (this.denied.has(permission.name)) {
      return { result: AuthorizeResult.DENY };
    }
    if (
      GITOPS_UPDATES.has(permission.name) &&
      isResourcePermission(permission, RESOURCE_TYPE_CATALOG_ENTITY)
    ) {
      return createCatalogConditionalDecision(
        permission,
        catalogConditions.isEntityOwner({
          claims: user?.info.ownershipEntityRefs ?? [],
        }),
      );
    }
    return { result: AuthorizeResult.ALLOW };
  }
}

export default createBackendModule({
  pluginId: 'permission',
  moduleId: 'demo-policy',
  register(reg) {
    reg.registerInit({
      deps: {
        config: coreServices.rootConfig,
        policy: policyExtensionPoint,
      },
      async init({ config, policy }) {
        policy.setPolicy(
          new DemoPermissionPolicy(
            new Set(
              config.getOptionalStringArray('permission.denyPermissions') ?? [],
            ),
          ),
        );
      },
    });
  },
});
