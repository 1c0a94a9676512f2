import {
  coreServices,
  createBackendPlugin,
} from '@backstage/backend-plugin-api';
import { gitopsPermissions } from '@gitops-workflow/plugin-gitops-common';
import { createRouter } from './router';
import { ClusterService, readClusterConfigs } from './service/ClusterService';

/**
 * The GitOps with Workflow backend plugin, mounted at /api/gitops.
 *
 * @public
 */
export const gitopsPlugin = createBackendPlugin({
  pluginId: 'gitops',
  register(env) {
    env.registerInit({
      deps: {
        config: coreServices.rootConfig,
        logger: coreServices.logger,
        httpAuth: coreServices.httpAuth,
        httpRouter: coreServices.httpRouter,
        permissions: coreServices.permissions,
        permissionsRegistry: coreServices.permissionsRegistry,
      },
      async init({ config, logger, httpAuth, httpRouter, permissions, permissionsRegistry }) {
        const clusterConfigs = readClusterConfigs(config);
        logger.info(
          `Configured clusters: ${clusterConfigs.map(c => c.name).join(', ') || 'none'}`,
        );
        permissionsRegistry.addPermissions(gitopsPermissions);
        httpRouter.use(
          await createRouter({
            httpAuth,
            permissions,
            clusters: new ClusterService(clusterConfigs),
          }),
        );
      },
    });
  },
});
