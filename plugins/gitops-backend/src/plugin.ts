import {
  coreServices,
  createBackendPlugin,
} from '@backstage/backend-plugin-api';
import { ScmIntegrations } from '@backstage/integration';
import { catalogServiceRef } from '@backstage/plugin-catalog-node';
import { eventsServiceRef } from '@backstage/plugin-events-node';
import { gitopsPermissions } from '@gitops-workflow/plugin-gitops-common';
import {
  createBuiltinDefinitions,
  credentialsFromIntegrations,
  gitopsDefinitionsExtensionPoint,
  GitSource,
  ImagePolicyEvaluator,
  ImageScanner,
  RegistryClient,
  TerraformRunner,
  Tofu,
} from '@gitops-workflow/plugin-gitops-node';
import path from 'node:path';
import { buildOptionsOf, readGitopsConfig } from './config';
import { createRouter } from './router';
import { createWebhookRouter } from './webhookRouter';
import { subscribeToPushEvents, WebhookSync } from './service/webhookSync';
import { ApplicationReconciler } from './service/ApplicationReconciler';
import { ApplicationEvents } from './service/ApplicationEvents';
import { ApplicationService } from './service/ApplicationService';
import { ClusterService } from './service/ClusterService';
import { DiffPreviewService } from './service/diffPreview';
import { scheduleHousekeeping } from './service/housekeeping';
import { applicationOf, LiveCache } from './service/LiveCache';
import { ReconcileLoop } from './service/ReconcileLoop';
import { ResourceTreeService } from './service/resourceTree';
import { TimelineService } from './service/timeline';
import { GitopsStore } from './store/GitopsStore';

/**
 * The GitOps with Workflow backend plugin, mounted at /api/gitops.
 *
 * @public
 */
export const gitopsPlugin = createBackendPlugin({
  pluginId: 'gitops',
  register(env) {
    // Modules add their definitions before init; the built-ins come first, through the same calls.
    let terraform: TerraformRunner | undefined;
    const definitions = createBuiltinDefinitions({
      terraform: () => terraform,
    });
    env.registerExtensionPoint(gitopsDefinitionsExtensionPoint, {
      addComponentType: d => definitions.addComponentType(d),
      addTrait: d => definitions.addTrait(d),
      addStepType: d => definitions.addStepType(d),
      addPolicyType: d => definitions.addPolicyType(d),
    });
    env.registerInit({
      deps: {
        config: coreServices.rootConfig,
        logger: coreServices.logger,
        database: coreServices.database,
        scheduler: coreServices.scheduler,
        auth: coreServices.auth,
        httpAuth: coreServices.httpAuth,
        httpRouter: coreServices.httpRouter,
        permissions: coreServices.permissions,
        permissionsRegistry: coreServices.permissionsRegistry,
        lifecycle: coreServices.lifecycle,
        catalog: catalogServiceRef,
        events: eventsServiceRef,
        cache: coreServices.cache,
      },
      async init(deps) {
        const { logger } = deps;
        const config = readGitopsConfig(deps.config);
        logger.info(
          `Configured clusters: ${
            config.clusters.map(c => c.name).join(', ') || 'none'
          }`,
        );
        deps.permissionsRegistry.addPermissions(gitopsPermissions);
        const store = await GitopsStore.create(deps.database);
        await scheduleHousekeeping({
          scheduler: deps.scheduler,
          store,
          logger,
          retentionDays: config.retentionDays,
        });
        const { timeouts, limits } = config;
        // One set of working clones for kustomize and terraform components.
        const git = new GitSource({
          cacheDir: config.cacheDir,
          timeoutMs: timeouts.gitMs,
          lockTimeoutMs: timeouts.cloneLockMs,
          maxRepositoryBytes: limits.maxRepositoryBytes,
          maxCloneBytes: limits.maxCloneBytes,
          maxCloneAgeMs: limits.maxCloneAgeMs,
          logger: {
            info: message => logger.info(message),
            debug: message => logger.debug(message),
          },
        });
        // `terraform` components: OpenTofu runs in the background of passes,
        // their records in the store, keyed like every Application's rows.
        const homeName = config.clusters[0]?.name ?? 'local';
        const cloudKey = (app: { namespace: string; name: string }) =>
          ReconcileLoop.keyOf(homeName, app.namespace, app.name);
        const tofu = new Tofu({
          tofuPath: config.tofuPath,
          timeoutMs: timeouts.tofuMs,
          providerMirror: config.tofuProviderMirror,
        });
        terraform = new TerraformRunner({
          tofu,
          git,
          store: {
            get: (app, component) =>
              store.getCloudResource(cloudKey(app), component),
            put: (app, component, record) =>
              store.putCloudResource(cloudKey(app), component, record),
            remove: (app, component) =>
              store.removeCloudResource(cloudKey(app), component),
          },
          workDir: path.join(config.cacheDir, 'tofu'),
          logger,
        });
        tofu
          .path()
          .then(found => logger.info(`terraform components run ${found}`))
          .catch(error =>
            logger.warn(`terraform components cannot run: ${error.message}`),
          );
        const runner = terraform;
        deps.lifecycle.addShutdownHook(() => runner.close());
        const clusters = new ClusterService(config.clusters, {
          kube: {
            requestTimeoutMs: timeouts.kubernetesMs,
            watchGraceMs: timeouts.watchGraceMs,
          },
        });
        // Informers mirror the clusters' Applications and what they applied:
        // views and ticks read them without asking the API servers each time.
        const live = new LiveCache({
          clusters,
          logger,
          informer: { watchSeconds: config.liveUpdates.watchSeconds },
        });
        clusters.readApplicationsFrom(live);
        const events = new ApplicationEvents({
          maxStreams: config.liveUpdates.maxStreams,
        });
        deps.lifecycle.addShutdownHook(async () => {
          events.close();
          await live.stop();
          clusters.close();
        });

        let loop: ReconcileLoop | undefined;
        let reconciler: ApplicationReconciler | undefined;
        const home = clusters.home;
        if (home) {
          reconciler = new ApplicationReconciler({
            logger,
            store,
            home,
            deployTargets: {
              clusters: clusters.configs,
              clientFor: target => clusters.clientFor(target.name),
              cachedObject: (cluster, ref) => live.peek(cluster, ref),
            },
            definitions,
            // Repositories without a secretRef may use the token Backstage has
            // for their host, when their project allows it (never by default).
            integrationCredentials: credentialsFromIntegrations(
              ScmIntegrations.fromConfig(deps.config),
            ),
            projects: config.projects,
            git,
            images: new ImagePolicyEvaluator({
              scanner: new ImageScanner({
                client: new RegistryClient({ timeoutMs: timeouts.registryMs }),
              }),
            }),
            author: config.commitAuthor,
            build: buildOptionsOf(config),
            analysis: {
              prometheusUrl: config.prometheusUrl,
              timeoutMs: config.timeouts.analysisMs,
            },
          });
          loop = new ReconcileLoop({
            logger,
            scheduler: deps.scheduler,
            store,
            cluster: home,
            applications: live,
            reconciler,
            matchLabels: config.matchLabels,
            concurrency: config.concurrency,
            tickSeconds: config.tickSeconds,
            shards: config.shards,
            shardLeaseSeconds: config.shardLeaseSeconds,
          });
          await loop.start();
          deps.lifecycle.addShutdownHook(() => loop?.stop());
        }
        // Open pages hear of every change to what they show; the loop of
        // changed specs and of rollouts that ended.
        live.subscribe(change => {
          loop?.notice(change);
          const app = applicationOf(change, home?.name ?? '');
          if (app)
            events.changed(
              ReconcileLoop.keyOf(app.cluster, app.namespace, app.name),
            );
        });
        store.onChange((key, record) => {
          events.changed(key);
          const inventories =
            record?.deployed?.inventories ?? record?.collecting?.inventories;
          if (inventories) live.watchInventories(inventories);
        });
        // Listeners first: the first lists' changes reach them too.
        live.start(await store.inventoryKinds());

        // Registries and Git hosts have no Backstage credentials; the webhooks check shared secrets instead.
        deps.httpRouter.addAuthPolicy({
          path: '/webhooks',
          allow: 'unauthenticated',
        });
        const webhookSync = new WebhookSync({
          matchLabels: config.matchLabels,
          clusters,
          loop,
          cache: deps.cache,
          logger,
          store,
        });
        deps.httpRouter.use(
          createWebhookRouter({ webhooks: config.webhooks, sync: webhookSync }),
        );
        // GitHub and GitLab push hooks checked by the events backend's modules.
        await subscribeToPushEvents({
          events: deps.events,
          sync: webhookSync,
          logger,
        });
        const applications = new ApplicationService({
          clusters,
          store,
          loop,
          catalog: deps.catalog,
          auth: deps.auth,
          logger,
          matchLabels: config.matchLabels,
          commitAuthor: config.commitAuthor,
          registry: reconciler,
          live,
        });
        deps.httpRouter.use(
          await createRouter({
            httpAuth: deps.httpAuth,
            permissions: deps.permissions,
            clusters,
            applications,
            timeline: new TimelineService({ store }),
            resourceTree: new ResourceTreeService({ clusters, store, live }),
            diffPreview: new DiffPreviewService({
              applications,
              reconciler,
              timeoutMs: config.timeouts.previewMs,
            }),
            events,
          }),
        );
      },
    });
  },
});
