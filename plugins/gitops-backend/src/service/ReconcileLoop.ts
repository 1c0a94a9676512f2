import { LoggerService, SchedulerService } from '@backstage/backend-plugin-api';
import { ConflictError, stringifyError } from '@backstage/errors';
import {
  createGitKustomizeSource,
  GitAuthor,
  GitSource,
  ImagePolicyEvaluator,
  KubeClient,
  KubeObject,
  listApplications,
  PROGRESS_INTERVAL_MS,
  pollIntervalOf,
  reconcileApplication,
  type InventoryEntry,
} from '@gitops-workflow/plugin-gitops-node';
import { ReconcileTrigger } from '@gitops-workflow/plugin-gitops-common';
import { GitopsStore } from '../store/GitopsStore';
import { mapLimited } from './limit';
import { ReconcileMetrics } from './metrics';

export const RECONCILE_TASK_ID = 'gitops-reconcile';

export interface ReconcileLoopOptions {
  logger: LoggerService;
  scheduler: SchedulerService;
  store: GitopsStore;
  /** The default cluster: where Applications live and deploy to. */
  cluster: { name: string; client: KubeClient };
  git: GitSource;
  images: ImagePolicyEvaluator;
  /** Only Applications with all of these labels are ours. */
  matchLabels: Record<string, string>;
  concurrency: number;
  author?: GitAuthor;
  kustomizePath?: string;
  tickSeconds?: number;
}

interface AppState {
  nextAt: number;
  running?: Promise<void>;
}

/**
 * Runs reconciles on Backstage's scheduler. One tick lists the Applications
 * (one cheap request) and reconciles those that are due: their poll interval
 * passed, their spec changed since the last reconcile (generation), someone
 * asked ("Sync now"), or they are still rolling out. The task has global
 * scope, so across replicas one tick runs at a time and an Application is
 * never reconciled twice at once.
 */
export class ReconcileLoop {
  private readonly state = new Map<string, AppState>();
  private readonly requested = new Map<string, ReconcileTrigger>();
  private readonly metrics = new ReconcileMetrics();

  constructor(private readonly options: ReconcileLoopOptions) {}

  static keyOf(cluster: string, namespace: string, name: string): string {
    return `${cluster}/${namespace}/${name}`;
  }

  async start(): Promise<void> {
    await this.options.scheduler.scheduleTask({
      id: RECONCILE_TASK_ID,
      frequency: { seconds: this.options.tickSeconds ?? 5 },
      timeout: { minutes: 30 },
      scope: 'global',
      fn: () => this.tick(),
    });
  }

  /** Reconciles an Application at the next tick, which starts now. */
  async requestSync(key: string, trigger: ReconcileTrigger): Promise<void> {
    this.requested.set(key, trigger);
    try {
      await this.options.scheduler.triggerTask(RECONCILE_TASK_ID);
    } catch (error) {
      // A tick is running: the request waits for the next one, seconds away.
      if (
        !(error instanceof ConflictError) &&
        (error as Error).name !== 'ConflictError'
      )
        throw error;
    }
  }

  /**
   * When this replica will next reconcile an Application: now when a sync
   * was asked for, undefined before its first reconcile here.
   */
  nextSyncAt(key: string): Date | undefined {
    if (this.requested.has(key)) return new Date();
    const nextAt = this.state.get(key)?.nextAt;
    return nextAt ? new Date(nextAt) : undefined;
  }

  /** One pass over the cluster's Applications; exported for tests. */
  async tick(now = Date.now()): Promise<void> {
    const { cluster, logger } = this.options;
    let apps: KubeObject[];
    try {
      apps = await listApplications(cluster.client);
    } catch (error) {
      logger.warn(
        `Could not list Applications in cluster "${
          cluster.name
        }": ${stringifyError(error)}`,
      );
      return;
    }
    const ours = apps.filter(app => this.manages(app));
    const due: Array<{
      app: KubeObject;
      key: string;
      trigger: ReconcileTrigger;
    }> = [];
    for (const app of ours) {
      const key = ReconcileLoop.keyOf(
        cluster.name,
        app.metadata.namespace!,
        app.metadata.name,
      );
      const state = this.state.get(key) ?? { nextAt: 0 };
      this.state.set(key, state);
      const requested = this.requested.get(key);
      const status = app.status as { observedGeneration?: number } | undefined;
      const specChanged =
        (app.metadata.generation ?? 0) !== (status?.observedGeneration ?? -1);
      if (requested || specChanged || now >= state.nextAt) {
        this.requested.delete(key);
        due.push({
          app,
          key,
          trigger: requested ?? (specChanged ? 'watch' : 'poll'),
        });
      }
    }
    await mapLimited(due, this.options.concurrency, ({ app, key, trigger }) =>
      this.reconcile(app, key, trigger),
    );
  }

  /** Whether the selector picks this Application, so this loop reconciles it. */
  manages(app: KubeObject): boolean {
    const labels = app.metadata.labels ?? {};
    return Object.entries(this.options.matchLabels).every(
      ([k, v]) => labels[k] === v,
    );
  }

  private async reconcile(
    app: KubeObject,
    key: string,
    trigger: ReconcileTrigger,
  ): Promise<void> {
    const { store, cluster, logger } = this.options;
    const state = this.state.get(key)!;
    const runId = await store.startRun(key, trigger);
    const log = logger.child({ application: key });
    const started = performance.now();
    const finished = (result: 'succeeded' | 'failed') =>
      this.metrics.reconciled(
        key,
        trigger,
        result,
        (performance.now() - started) / 1000,
      );
    try {
      const { source, report } = createGitKustomizeSource({
        client: cluster.client,
        git: this.options.git,
        images: this.options.images,
        automationSuspended: await store.isSuspended(key),
        author: this.options.author,
        kustomizePath: this.options.kustomizePath,
        refresh: trigger === 'manual' || trigger === 'webhook',
      });
      const result = await reconcileApplication(cluster.client, app, {
        kustomizeSource: source,
        inventory: (await store.getInventory(key)) as InventoryEntry[],
        cluster: cluster.name,
      });
      for (const update of report.imageUpdates) {
        const now = new Date().toISOString();
        await store.addImageUpdate(key, {
          component: update.component,
          image: update.image,
          oldTag: update.oldTag,
          newTag: update.newTag,
          policy: update.policy,
          commitSha: update.commit,
          trigger,
          detectedAt: now,
          pushedAt: now,
        });
        this.metrics.committed(key, update.component);
        log.info(
          `Committed ${update.image}:${update.newTag} (was ${
            update.oldTag ?? 'unset'
          }) as ${update.revision}`,
        );
      }
      const healthy = !result.failure && result.status.status === 'running';
      if (result.applied) {
        await store.setInventory(key, result.inventory);
        await store.markRollout(key, 'applied');
      }
      if (healthy) await store.markRollout(key, 'healthy');
      for (const warning of report.warnings) log.warn(warning);
      if (result.failure) {
        log.warn(
          `Reconcile failed at ${result.failure.stage}: ${result.failure.message}`,
        );
        this.metrics.failed(key, result.failure.stage);
      }
      await store.finishRun(runId, {
        result: result.failure ? 'failed' : 'succeeded',
        revision: report.revisions[0],
        error: result.failure?.message,
        objectsChanged: result.applied?.writes ?? 0,
      });
      finished(result.failure ? 'failed' : 'succeeded');
      state.nextAt =
        Date.now() + (healthy ? this.interval(app) : PROGRESS_INTERVAL_MS);
    } catch (error) {
      // The cluster or the database failed, not the Application: retry soon.
      log.error(`Reconcile could not complete: ${stringifyError(error)}`);
      await store.finishRun(runId, {
        result: 'failed',
        error: stringifyError(error),
      });
      this.metrics.failed(key, 'internal');
      finished('failed');
      state.nextAt = Date.now() + PROGRESS_INTERVAL_MS;
    }
  }

  private interval(app: KubeObject): number {
    try {
      return pollIntervalOf(app);
    } catch {
      return PROGRESS_INTERVAL_MS;
    }
  }
}
