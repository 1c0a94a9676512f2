import { createHash, randomUUID } from 'node:crypto';
import { LoggerService, SchedulerService } from '@backstage/backend-plugin-api';
import { ConflictError, stringifyError } from '@backstage/errors';
import {
  assessHealth,
  finalizersOf,
  getApplication,
  GITOPS_FINALIZER,
  isDeleting,
  KubeClient,
  KubeObject,
  listApplications,
  mapLimited,
  PassStoppedError,
  type PassFence,
  withRequestSignal,
  withUrgentRequests,
} from '@gitops-workflow/plugin-gitops-node';
import { ReconcileTrigger } from '@gitops-workflow/plugin-gitops-common';
import { GitopsStore, type Schedule } from '../store/GitopsStore';
import type { ApplicationReconciler } from './ApplicationReconciler';
import { KnownSchedules } from './knownSchedules';
import {
  applicationOf,
  type ApplicationCache,
  type LiveChange,
} from './LiveCache';

/** One scheduler task per shard: `gitops-reconcile-0`, `gitops-reconcile-1`, … */
export const reconcileTaskId = (shard: number) => `gitops-reconcile-${shard}`;

/** Which shard an Application belongs to: stable across replicas and restarts. */
export function shardOf(key: string, shards: number): number {
  return createHash('sha256').update(key).digest().readUInt32BE(0) % shards;
}

export interface ReconcileLoopOptions {
  logger: LoggerService;
  scheduler: SchedulerService;
  store: GitopsStore;
  /** The default cluster: where Applications live. */
  cluster: { name: string; client: KubeClient };
  /** Where ticks read the Applications once it has listed them (else they list them). */
  applications?: ApplicationCache;
  /** Runs and records one pass of one Application. */
  reconciler: Pick<
    ApplicationReconciler,
    'reconcile' | 'release' | 'retainSources'
  >;
  /** Only Applications with all of these labels are ours. */
  matchLabels: Record<string, string>;
  concurrency: number;
  tickSeconds?: number;
  /** Global tasks the Applications are split over; replicas share them out. */
  shards?: number;
  /** How long a shard's lease lasts: the takeover delay when a replica dies. */
  shardLeaseSeconds?: number;
}

/**
 * Runs reconciles on Backstage's scheduler. The Applications are split over
 * a few global-scope shard tasks: replicas sharing the database share the
 * shards out, each shard runs on one replica at a time (so an Application is
 * never reconciled twice at once), and a shard whose replica died is picked
 * up by another once its lease times out. The schedule and "Sync now"
 * requests live in the database, so they move with the shard.
 *
 * One tick of a shard reads the Applications (from the cache, else one
 * list request) and reconciles its due ones: their poll interval passed,
 * their spec changed since the last reconcile (generation), someone asked,
 * or they are still rolling out.
 */
export class ReconcileLoop {
  private readonly shards: number;
  /** This replica, in the shard leases. */
  private readonly holder = randomUUID();
  private readonly stopping = new AbortController();
  /** Shards asked for since their tick here last looked: it goes round once more. */
  private readonly rerun = new Set<number>();
  /** Shards whose tick runs in this replica now. */
  private readonly running = new Set<number>();
  /** The Applications by shard, worked out again only when they change. */
  private partition?: {
    apps: readonly KubeObject[];
    shards: Array<Array<{ app: KubeObject; key: string }>>;
  };
  /** Applications known to have a schedule row: a tick reads only the due ones. */
  private readonly scheduled = new KnownSchedules();

  constructor(private readonly options: ReconcileLoopOptions) {
    this.shards = options.shards ?? 4;
  }

  static keyOf(cluster: string, namespace: string, name: string): string {
    return `${cluster}/${namespace}/${name}`;
  }

  async start(): Promise<void> {
    for (let shard = 0; shard < this.shards; shard++) {
      await this.options.scheduler.scheduleTask({
        id: reconcileTaskId(shard),
        frequency: { seconds: this.options.tickSeconds ?? 5 },
        // The lease: a shard whose replica died is run elsewhere after this.
        timeout: { seconds: this.options.shardLeaseSeconds ?? 600 },
        scope: 'global',
        fn: async signal => {
          await this.tick(shard, Date.now(), signal);
        },
      });
    }
  }

  /** The backend stops: passes under way stop before their next write, and no tick starts. */
  stop(): void {
    this.stopping.abort(new Error('the backend is shutting down'));
  }

  /** Reconciles an Application now: its shard's tick starts here, or goes round once more. */
  async requestSync(key: string, trigger: ReconcileTrigger): Promise<void> {
    await this.options.store.requestSync(key, trigger);
    this.trigger(shardOf(key, this.shards));
  }

  /**
   * Starts a shard's tick now, here; one running here goes round once more
   * before it ends. Backstage's scheduler would only see a triggered task
   * at its next look at the database, up to 5 s later.
   */
  private trigger(shard: number): void {
    // Marked first: the running tick may be about to check.
    this.rerun.add(shard);
    if (this.running.has(shard)) return;
    this.tick(shard)
      .then(ran => (ran ? undefined : this.triggerElsewhere(shard)))
      .catch(error =>
        this.options.logger.warn(
          `Reconciling shard ${shard} failed: ${stringifyError(error)}`,
        ),
      );
  }

  /**
   * Another replica's tick holds the shard: the request waits in the
   * database, and the scheduler runs the shard next, wherever it may.
   */
  private async triggerElsewhere(shard: number): Promise<void> {
    try {
      await this.options.scheduler.triggerTask(reconcileTaskId(shard));
    } catch (error) {
      // Its tick is running: the request is picked up by its next one.
      if (
        !(error instanceof ConflictError) &&
        (error as Error).name !== 'ConflictError'
      )
        throw error;
    }
  }

  /**
   * When an Application is next reconciled: now when a sync was asked for,
   * undefined before its first reconcile.
   */
  async nextSyncAt(key: string): Promise<Date | undefined> {
    const schedule = (await this.options.store.schedules([key])).get(key);
    return schedule?.requested ? new Date() : schedule?.nextAt;
  }

  /**
   * Reconciles at once, instead of at its shard's next tick, an Application
   * whose spec changed (or whose deletion started), and one whose applied
   * object just became healthy or failed (a rollout ended), so its status
   * says so within a second. Fed with the cache's changes.
   */
  notice(change: LiveChange): void {
    const { cluster, logger } = this.options;
    const { type, object, previous } = change.event;
    let app: KubeObject | undefined;
    if (change.source === 'applications') {
      if (
        change.cluster === cluster.name &&
        type !== 'DELETED' &&
        specChanged(object)
      )
        app = object;
    } else if (change.source === 'inventory' && previous) {
      const was = assessHealth(previous).status;
      const now = assessHealth(object).status;
      const owner = applicationOf(change, cluster.name);
      if (was !== now && (now === 'Current' || now === 'Failed') && owner)
        app = this.options.applications?.application(
          owner.cluster,
          owner.namespace,
          owner.name,
        )?.object;
    }
    if (!app || !this.manages(app)) return;
    const key = ReconcileLoop.keyOf(
      cluster.name,
      app.metadata.namespace!,
      app.metadata.name,
    );
    this.requestSync(key, 'watch').catch(error =>
      logger.warn(
        `Could not request a sync of ${key}: ${stringifyError(error)}`,
      ),
    );
  }

  /**
   * One pass over a shard's Applications; false when another replica's
   * tick holds the shard (or the backend is stopping), so none ran here.
   */
  async tick(
    shard: number,
    now = Date.now(),
    signal?: AbortSignal,
  ): Promise<boolean> {
    // The backend is shutting down: its database may already be closed.
    if (this.stopping.signal.aborted) return false;
    if (this.running.has(shard)) {
      // The scheduler's tick met one started here: that one goes round again.
      this.rerun.add(shard);
      return true;
    }
    this.running.add(shard);
    let ran = false;
    try {
      ran = await this.claimAndTick(shard, now, signal);
      return ran;
    } finally {
      this.running.delete(shard);
      // A sync asked for while the shard was being released found it still
      // running here: it goes now, not at the scheduler's next look.
      if (ran && this.rerun.has(shard)) this.trigger(shard);
    }
  }

  private async claimAndTick(
    shard: number,
    now: number,
    signal?: AbortSignal,
  ): Promise<boolean> {
    const { store } = this.options;
    const leaseMs = (this.options.shardLeaseSeconds ?? 600) * 1000;
    if (
      !(await store.claimShard(shard, this.holder, new Date(now + leaseMs)))
    ) {
      // Another replica's tick of this shard is still running.
      this.options.logger.debug(`Shard ${shard} is held by another replica`);
      return false;
    }
    // Passes stop before the lease ends, so none writes once another replica may hold the shard.
    const deadline = AbortSignal.timeout(Math.floor(leaseMs * 0.8));
    const fence: PassFence = {
      signal: AbortSignal.any(
        [signal, deadline, this.stopping.signal].filter(
          (s): s is AbortSignal => s !== undefined,
        ),
      ),
      check: async () => {
        if (!(await store.holdsShard(shard, this.holder)))
          throw new PassStoppedError(
            `this replica no longer holds shard ${shard}`,
          );
      },
    };
    try {
      // A request still in flight when the pass stops is ended with it, so
      // none reaches the cluster after another replica took the shard.
      const round = (at: number) =>
        withRequestSignal(fence.signal, () => this.tickShard(shard, at, fence));
      this.rerun.delete(shard);
      await round(now);
      // Syncs asked for meanwhile run now, not at the next scheduled tick.
      while (this.rerun.delete(shard) && !fence.signal.aborted)
        await round(Date.now());
    } finally {
      // On shutdown the lease simply runs out: the database may be gone.
      if (!this.stopping.signal.aborted)
        await store.releaseShard(shard, this.holder);
    }
    return true;
  }

  private async tickShard(
    shard: number,
    now: number,
    fence: PassFence,
  ): Promise<void> {
    const { cluster, logger } = this.options;
    let apps: readonly KubeObject[];
    try {
      apps =
        this.options.applications?.applications(cluster.name) ??
        (await listApplications(cluster.client));
    } catch (error) {
      logger.warn(
        `Could not list Applications in cluster "${
          cluster.name
        }": ${stringifyError(error)}`,
      );
      return;
    }
    const inShard = this.partitioned(apps)[shard];
    // Ours no more (the selector changed): released, never collected.
    for (const { app, key } of inShard) {
      if (this.manages(app) || !finalizersOf(app).includes(GITOPS_FINALIZER))
        continue;
      await this.options.reconciler
        .release(app, key)
        .catch(error =>
          logger.warn(`Could not release ${key}: ${stringifyError(error)}`),
        );
    }
    const ours = inShard.filter(({ app }) => this.reconciles(app));
    const scheduleOf = await this.dueSchedules(
      ours.map(o => o.key),
      now,
    );
    const due = ours.filter(
      ({ app, key }) => dueTrigger(app, scheduleOf(key), now) !== undefined,
    );
    if (due.length)
      logger.debug(
        `Shard ${shard}: ${due.length} of ${ours.length} Applications due`,
      );
    await mapLimited(due, this.options.concurrency, async ({ app, key }) => {
      // Past the deadline, the rest wait for the next tick.
      if (fence.signal.aborted) return;
      const current = this.options.applications
        ? await this.readLive(app)
        : app;
      if (!current || !this.reconciles(current)) return;
      const schedule = scheduleOf(key);
      const trigger = dueTrigger(current, schedule, now);
      if (!trigger) return;
      if (schedule?.requested) await this.options.store.clearSyncRequest(key);
      const pass = () =>
        this.options.reconciler.reconcile(current, key, trigger, fence);
      // A rollout under way finishes before new work starts on a busy API server.
      await (rollingOut(current) ? withUrgentRequests(pass) : pass());
    });
  }

  /**
   * The Applications split into shards, with their keys. Worked out once
   * for all shards and only when the Applications changed (the cache gives
   * the same array until then); caches and clones of Applications that are
   * gone are forgotten at the same time.
   */
  private partitioned(
    apps: readonly KubeObject[],
  ): Array<Array<{ app: KubeObject; key: string }>> {
    if (this.partition?.apps === apps) return this.partition.shards;
    const { cluster } = this.options;
    const shards = Array.from(
      { length: this.shards },
      (): Array<{ app: KubeObject; key: string }> => [],
    );
    for (const app of apps) {
      const key = ReconcileLoop.keyOf(
        cluster.name,
        app.metadata.namespace!,
        app.metadata.name,
      );
      shards[shardOf(key, this.shards)].push({ app, key });
    }
    this.partition = { apps, shards };
    this.options.reconciler.retainSources(apps);
    return shards;
  }

  /**
   * Reads the schedules a tick acts on: the due ones, and those of
   * Applications not yet known to have one. Returns each Application's
   * schedule as far as the tick needs it.
   */
  private async dueSchedules(
    keys: string[],
    now: number,
  ): Promise<(key: string) => Schedule | undefined> {
    const unknown = this.scheduled.unknown(keys, now);
    return this.scheduled.read(
      await this.options.store.dueSchedules(new Date(now), unknown),
    );
  }

  /**
   * A pass starts from the Application as the API server has it now, not as
   * this replica's watch last saw it: a replica whose watch stalled (cut off
   * from the API server for a while) would otherwise apply a spec that
   * another replica has already replaced.
   */
  private async readLive(app: KubeObject): Promise<KubeObject | undefined> {
    const { cluster, logger } = this.options;
    try {
      return await getApplication(
        cluster.client,
        app.metadata.namespace!,
        app.metadata.name,
      );
    } catch (error) {
      logger.warn(
        `Could not read Application ${app.metadata.namespace}/${
          app.metadata.name
        } in cluster "${cluster.name}": ${stringifyError(error)}`,
      );
      return undefined;
    }
  }

  /** Whether a tick reconciles this Application. */
  private reconciles(app: KubeObject): boolean {
    return (
      this.manages(app) &&
      // Deleted before its first pass: nothing was applied, nothing to collect.
      (!isDeleting(app) || finalizersOf(app).includes(GITOPS_FINALIZER))
    );
  }

  /** Whether the selector picks this Application, so this loop reconciles it. */
  manages(app: KubeObject): boolean {
    const labels = app.metadata.labels ?? {};
    return Object.entries(this.options.matchLabels).every(
      ([k, v]) => labels[k] === v,
    );
  }
}

/**
 * Why an Application is due now, or undefined when it is not: someone asked,
 * its spec changed since the last reconcile (or its deletion started), it
 * was never reconciled, or its poll interval passed.
 */
export function dueTrigger(
  app: KubeObject,
  schedule: { nextAt?: Date; requested?: ReconcileTrigger } | undefined,
  now: number,
): ReconcileTrigger | undefined {
  if (schedule?.requested) return schedule.requested;
  if (specChanged(app)) return 'watch';
  if (!schedule?.nextAt || now >= schedule.nextAt.getTime()) return 'poll';
  return undefined;
}

/** Its workflow is running on the spec it last reconciled: a rollout under way. */
function rollingOut(app: KubeObject): boolean {
  const status = app.status as { status?: string } | undefined;
  return status?.status === 'runningWorkflow' && !specChanged(app);
}

/** Its spec changed since the last reconcile, or its deletion started. */
function specChanged(app: KubeObject): boolean {
  const status = app.status as { observedGeneration?: number } | undefined;
  return (
    (app.metadata.generation ?? 0) !== (status?.observedGeneration ?? -1) ||
    deletionStarted(app)
  );
}

/**
 * Deleted, and no pass has said so yet: due at once. A deletion that goes on
 * (objects still terminating) is then due at its schedule, seconds apart.
 */
function deletionStarted(app: KubeObject): boolean {
  return (
    isDeleting(app) &&
    (app.status as { status?: string } | undefined)?.status !== 'deleting'
  );
}
