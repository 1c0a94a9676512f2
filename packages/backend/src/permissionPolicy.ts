import {
  coreServices,
  createBackendModule,
} from '@backstage/backend-plugin-api';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import {
  PermissionPolicy,
  PolicyQuery,
} from '@backstage/plugin-permission-node';
import { policyExtensionPoint } from '@backstage/plugin-permission-node/alpha';

/**
 * Allows everything except the permissions named in
 * `permission.denyPermissions`, e.g. to see the app as a user who may read
 * Applications but not sync them. Without that key it is the allow-all policy.
 */
export default createBackendModule({
  pluginId: 'permission',
  moduleId: 'deny-listed-policy',
  register(reg) {
    reg.registerInit({
      deps: {
        config: coreServices.rootConfig,
        policy: policyExtensionPoint,
      },
      async init({ config, policy }) {
        const denied = new Set(
          config.getOptionalStringArray('permission.denyPermissions') ?? [],
        );
        const listPolicy: PermissionPolicy = {
          async handle(request: PolicyQuery) {
            return {
              result: denied.has(request.permission.name)
                ? AuthorizeResult.DENY
                : AuthorizeResult.ALLOW,
            };
          },
        };
        policy.setPolicy(listPolicy);
      },
    });
  },
});
