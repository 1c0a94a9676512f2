import os from 'node:os';
import path from 'node:path';
import {
  coreServices,
  createBackendPlugin,
} from '@backstage/backend-plugin-api';
import { gitopsPermissions } from '@gitops-workflow/plugin-gitops-common';
import {
  GitSource,
  ImagePolicyEvaluator,
  KubeClient,
} from '@gitops-workflow/plugin-gitops-node';
import { createRouter } from './router';
import { ClusterService, readClusterConfigs } from './service/ClusterService';
import { ReconcileLoop } from './service/ReconcileLoop';
import { GitopsStore } from './store/GitopsStore';

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
        database: coreServices.database,
        scheduler: coreServices.scheduler,
        httpAuth: coreServices.httpAuth,
        httpRouter: coreServices.httpRouter,
        permissions: coreServices.permissions,
        permissionsRegistry: coreServices.permissionsRegistry,
      },
      async init(deps) {
        const { config, logger } = deps;
        const clusterConfigs = readClusterConfigs(config);
        logger.info(
          `Configured clusters: ${clusterConfigs.map(c => c.name).join(', ') || 'none'}`,
        );
        deps.permissionsRegistry.addPermissions(gitopsPermissions);
        const store = await GitopsStore.create(deps.database);

        let loop: ReconcileLoop | undefined;
        if (clusterConfigs.length > 0) {
          const home = clusterConfigs[0];
          loop = new ReconcileLoop({
            logger,
            scheduler: deps.scheduler,
            store,
            cluster: { name: home.name, client: KubeClient.fromCluster(home) },
            git: new GitSource({
              cacheDir:
                config.getOptionalString('gitops.cacheDir') ??
                path.join(os.tmpdir(), 'backstage-gitops', 'clones'),
              logger: {
                info: message => logger.info(message),
                debug: message => logger.debug(message),
              },
            }),
            images: new ImagePolicyEvaluator(),
            matchLabels:
              config.getOptional<Record<string, string>>('gitops.selector.matchLabels') ?? {},
            concurrency: config.getOptionalNumber('gitops.concurrency') ?? 4,
            author: config.getOptional('gitops.commitAuthor'),
            kustomizePath: config.getOptionalString('gitops.kustomizePath'),
            tickSeconds: config.getOptionalNumber('gitops.tickSeconds'),
          });
          await loop.start();
        }

        deps.httpRouter.use(
          await createRouter({
            httpAuth: deps.httpAuth,
            permissions: deps.permissions,
            clusters: new ClusterService(clusterConfigs),
            store,
            loop,
          }),
        );
      },
    });
  },
});
