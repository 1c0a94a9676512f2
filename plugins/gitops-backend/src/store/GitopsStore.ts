import {
  DatabaseService,
  resolvePackagePath,
} from '@backstage/backend-plugin-api';
import { ConflictError } from '@backstage/errors';
import {
  AuditEntry,
  CloudResourceStatus,
  ImageHistoryEntry,
  ImageHold,
  Page,
  ReconcileRun,
  ReconcileTrigger,
} from '@gitops-workflow/plugin-gitops-common';
import type {
  CloudResourceRecord,
  InventoryEntry,
  WorkflowCommand,
  WorkflowState,
} from '@gitops-workflow/plugin-gitops-node';
import { Knex } from 'knex';

const migrationsDir = resolvePackagePath(
  '@gitops-workflow/plugin-gitops-backend',
  'migrations',
);

/** Everything one pass leaves to keep, written together by `recordReconcile`. */
export interface ReconcileRecord {
  run: {
    trigger: ReconcileTrigger;
    startedAt: Date;
    finishedAt: Date;
    result: 'succeeded' | 'failed';
    revision?: string;
    error?: string;
    objectsChanged?: number;
    /** `terraform` components found changed outside Git. */
    cloudDrift?: string[];
  };
  /** The bot's commits of this pass. */
  imageUpdates: NewImageUpdate[];
  /** When the workflow ran: its state and what it left applied on each cluster replace the stored ones. */
  deployed?: {
    workflow: WorkflowState;
    inventories: Record<string, InventoryEntry[]>;
    /** Everything committed so far is applied (no step failed to apply). */
    applied: boolean;
    healthy: boolean;
    /** Per component: when its objects became ready, as they record it (ISO 8601). */
    healthySince?: Record<string, string>;
  };
  /** A deletion pass: what is still to delete on each cluster replaces the stored inventories. */
  collecting?: { inventories: Record<string, InventoryEntry[]> };
  /**
   * The Application's objects are collected: its schedule, workflow state,
   * pending commands, inventories and automation switch go; its history
   * stays, marked deleted.
   */
  collected?: boolean;
  nextAt: Date;
  /** Failed passes in a row, this one included (for backoff); ignored when the pass succeeded. */
  failures?: number;
  /**
   * Components whose released hold this pass has let go of (automation
   * picked again, committing or finding nothing to change): their release
   * is done.
   */
  settledReleases?: string[];
  /** What the policies of held components picked, not committed. */
  wouldPick?: Array<{ component: string; tag: string; at: Date }>;
}

export type NewImageUpdate = Omit<
  ImageHistoryEntry,
  'id' | 'appliedAt' | 'healthyAt'
>;

/** A hold to place; `heldAt` defaults to now. */
export type NewImageHold = Omit<
  ImageHold,
  'heldAt' | 'automatic' | 'wouldPick' | 'wouldPickAt'
> & { heldAt?: Date; automatic?: boolean };

/** A hold a person released, until a pass lets automation resume. */
export interface ImageHoldRelease {
  component: string;
  releasedBy: string;
  releasedAt: string;
  reason?: string;
}

/** An action to audit; `at` defaults to now. */
export type NewAuditEntry = Omit<AuditEntry, 'id' | 'at'> & { at?: Date };

const toIso = (value: unknown): string | undefined => {
  if (value === null || value === undefined) return undefined;
  const date =
    value instanceof Date ? value : new Date(value as string | number);
  return date.toISOString();
};
const orUndefined = <T>(value: T | null): T | undefined => value ?? undefined;

const runOf = (r: any): ReconcileRun => ({
  id: Number(r.id),
  trigger: r.trigger,
  startedAt: toIso(r.started_at)!,
  finishedAt: toIso(r.finished_at),
  revision: orUndefined(r.revision),
  result: orUndefined(r.result),
  error: orUndefined(r.error),
  objectsChanged: orUndefined(r.objects_changed),
  applicationDeletedAt: toIso(r.app_deleted_at),
  ...(Number(r.repeats ?? 1) > 1 ? { repeats: Number(r.repeats) } : {}),
  ...(r.cloud_drift ? { cloudDrift: JSON.parse(r.cloud_drift) } : {}),
});

const holdOf = (r: any): ImageHold => ({
  component: r.component,
  image: r.image,
  tag: r.tag,
  digest: orUndefined(r.digest),
  heldBy: r.held_by,
  heldAt: toIso(r.held_at)!,
  reason: orUndefined(r.reason),
  automatic: Boolean(r.automatic),
  failedTag: orUndefined(r.failed_tag),
  wouldPick: orUndefined(r.would_pick),
  wouldPickAt: toIso(r.would_pick_at),
});

const auditOf = (r: any): AuditEntry => ({
  id: Number(r.id),
  action: r.action,
  actor: r.actor,
  at: toIso(r.at)!,
  reason: orUndefined(r.reason),
  component: orUndefined(r.component),
  summary: r.summary,
});

const historyOf = (r: any): ImageHistoryEntry => ({
  id: Number(r.id),
  component: r.component,
  image: r.image,
  oldTag: orUndefined(r.old_tag),
  newTag: r.new_tag,
  policy: orUndefined(r.policy),
  commitSha: orUndefined(r.commit_sha),
  trigger: r.trigger,
  detectedAt: toIso(r.detected_at)!,
  pushedAt: toIso(r.pushed_at),
  appliedAt: toIso(r.applied_at),
  healthyAt: toIso(r.healthy_at),
  applicationDeletedAt: toIso(r.app_deleted_at),
  digest: orUndefined(r.digest),
  action: orUndefined(r.action),
  requestedBy: orUndefined(r.requested_by),
  reason: orUndefined(r.reason),
  failedAt: toIso(r.failed_at),
  failure: orUndefined(r.failure),
  rolledBackAt: toIso(r.rolled_back_at),
});

const ROLLBACK_ACTIONS = ['rollback', 'automaticRollback'];

/** `cluster/namespace/name`, the loop's key of an Application, and back. */
const keyOfRef = (ref: { cluster: string; namespace: string; name: string }) =>
  `${ref.cluster}/${ref.namespace}/${ref.name}`;
const refOfKey = (key: string) => {
  const [cluster, namespace, name] = key.split('/');
  return { cluster, namespace, name };
};

/**
 * An image history row as the Application `appKey` sees it: its own
 * automation's, naming where the marker sat; or one another Application's
 * automation committed into its manifest, under its own component's name.
 */
const historyFor =
  (appKey: string) =>
  (r: any): ImageHistoryEntry => {
    const entry = historyOf(r);
    if (r.target_app_key)
      entry.target = {
        ...refOfKey(r.target_app_key),
        component: r.target_component,
      };
    if (r.app_key !== appKey) {
      entry.committedBy = { ...refOfKey(r.app_key), component: r.component };
      entry.component = r.target_component;
    }
    return entry;
  };

/** Any fixed number: it names our migration lock among PostgreSQL's advisory locks. */
const MIGRATION_LOCK_KEY = 0x6769746f7073;

/**
 * Brings the schema up to date. Replicas that start together on a fresh
 * PostgreSQL database would race to create knex's own tables (the loser fails
 * its startup), so there one migrates at a time under an advisory lock, which
 * PostgreSQL releases if its holder dies; the next finds nothing left to do.
 */
async function migrateLatest(client: Knex): Promise<void> {
  const migrate = () => client.migrate.latest({ directory: migrationsDir });
  if (client.client.dialect !== 'postgresql') {
    await migrate();
    return;
  }
  await client.transaction(async tx => {
    await tx.raw("set local lock_timeout = '120s'");
    await tx.raw('select pg_advisory_xact_lock(?)', [MIGRATION_LOCK_KEY]);
    await migrate();
  });
}

/** When an Application is next due, and a sync asked for and not yet started. */
export interface Schedule {
  nextAt?: Date;
  requested?: ReconcileTrigger;
  failures: number;
}

function schedulesOf(
  rows: Array<{
    app_key: string;
    next_at?: unknown;
    requested_trigger?: string | null;
    failures?: number | string | null;
  }>,
): Map<string, Schedule> {
  return new Map(
    rows.map(r => [
      r.app_key,
      {
        nextAt: r.next_at ? new Date(toIso(r.next_at)!) : undefined,
        requested: orUndefined(r.requested_trigger) as
          | ReconcileTrigger
          | undefined,
        failures: Number(r.failures ?? 0),
      },
    ]),
  );
}

/**
 * The plugin's persistent state, in the Backstage database (SQLite or
 * PostgreSQL): reconcile runs, image history, inventory and the automation
 * switch. Applications and their status live in the cluster, not here.
 */
export class GitopsStore {
  static async create(database: DatabaseService): Promise<GitopsStore> {
    const client = await database.getClient();
    if (!database.migrations?.skip) await migrateLatest(client);
    return new GitopsStore(client);
  }

  private readonly changeListeners = new Set<
    (appKey: string, record?: ReconcileRecord) => void
  >();

  constructor(private readonly db: Knex) {}

  /**
   * Calls `listener` with an Application's key each time its records
   * changed here (a pass recorded, with its record; automation switched; a
   * human action audited), once the write has committed, so whoever it tells
   * reads the new rows. Returns the unsubscribe.
   */
  onChange(
    listener: (appKey: string, record?: ReconcileRecord) => void,
  ): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  private changed(appKey: string, record?: ReconcileRecord): void {
    for (const listener of this.changeListeners) listener(appKey, record);
  }

  /**
   * Records one pass in one transaction: its run, the bot's commits, the
   * workflow state and inventories it left, the rollout milestones it
   * reached and when it is next due. A crash leaves all of it or none.
   */
  async recordReconcile(
    appKey: string,
    record: ReconcileRecord,
  ): Promise<void> {
    await this.db.transaction(async tx => {
      const { run } = record;
      const last = await tx('gitops_reconcile_runs')
        .where({ app_key: appKey })
        .orderBy('id', 'desc')
        .first('id', 'result', 'error');
      const repeated =
        run.result === 'failed' &&
        last?.result === 'failed' &&
        (last.error ?? undefined) === run.error;
      if (repeated) {
        // The same failure again is one row that counts, not a new row each retry.
        await tx('gitops_reconcile_runs')
          .where({ id: last.id })
          .update({
            finished_at: run.finishedAt,
            trigger: run.trigger,
            repeats: tx.raw('repeats + 1'),
          });
      } else {
        await tx('gitops_reconcile_runs').insert({
          app_key: appKey,
          trigger: run.trigger,
          started_at: run.startedAt,
          finished_at: run.finishedAt,
          result: run.result,
          revision: run.revision ?? null,
          error: run.error ?? null,
          objects_changed: run.objectsChanged ?? null,
          cloud_drift: run.cloudDrift?.length
            ? JSON.stringify(run.cloudDrift)
            : null,
        });
      }
      for (const update of record.imageUpdates) {
        await this.insertImageUpdate(tx, appKey, update);
      }
      if (record.deployed) {
        const { workflow, inventories, applied, healthy } = record.deployed;
        await this.writeWorkflowState(tx, appKey, workflow);
        await this.writeInventories(tx, appKey, inventories);
        if (applied)
          await this.markRollout(appKey, 'applied', run.finishedAt, tx);
        if (applied && healthy)
          await this.markHealthy(
            appKey,
            run.finishedAt,
            record.deployed.healthySince ?? {},
            tx,
          );
      }
      if (record.settledReleases?.length)
        await tx('gitops_image_holds')
          .where({ app_key: appKey })
          .whereIn('component', record.settledReleases)
          .whereNotNull('released_at')
          .delete();
      for (const pick of record.wouldPick ?? [])
        await this.recordWouldPick(
          appKey,
          pick.component,
          pick.tag,
          pick.at,
          tx,
        );
      if (record.collecting)
        await this.writeInventories(tx, appKey, record.collecting.inventories);
      if (record.collected) {
        await this.forget(tx, appKey, run.finishedAt);
        return;
      }
      const failures = run.result === 'failed' ? record.failures ?? 1 : 0;
      await tx('gitops_schedule')
        .insert({ app_key: appKey, next_at: record.nextAt, failures })
        .onConflict('app_key')
        .merge(['next_at', 'failures']);
    });
    this.changed(appKey, record);
  }

  /** Drops a deleted Application's rows and marks its history deleted (in the caller's transaction). */
  private async forget(tx: Knex, appKey: string, at: Date): Promise<void> {
    for (const table of [
      'gitops_schedule',
      'gitops_workflow_state', // with its pending commands
      'gitops_inventories',
      'gitops_automation',
      'gitops_image_holds',
      'gitops_cloud_resources',
    ]) {
      await tx(table).where({ app_key: appKey }).delete();
    }
    for (const table of ['gitops_reconcile_runs', 'gitops_image_history']) {
      await tx(table)
        .where({ app_key: appKey })
        .whereNull('app_deleted_at')
        .update({ app_deleted_at: at });
    }
  }

  async listRuns(
    appKey: string,
    options: { limit: number; offset: number },
  ): Promise<Page<ReconcileRun>> {
    const query = this.db('gitops_reconcile_runs').where({ app_key: appKey });
    const [{ count }] = await query.clone().count({ count: '*' });
    const rows = await query
      .orderBy([
        { column: 'started_at', order: 'desc' },
        { column: 'id', order: 'desc' },
      ])
      .limit(options.limit)
      .offset(options.offset);
    return {
      totalCount: Number(count),
      items: rows.map(runOf),
    };
  }

  /**
   * The last finished reconcile, and the last Git revision any reconcile
   * synced (a failed render has none, but the cluster still runs the one
   * before).
   */
  async lastSync(
    appKey: string,
  ): Promise<{ run?: ReconcileRun; revision?: string }> {
    const finished = await this.db('gitops_reconcile_runs')
      .where({ app_key: appKey })
      .whereNotNull('finished_at')
      .orderBy([
        { column: 'finished_at', order: 'desc' },
        { column: 'id', order: 'desc' },
      ])
      .first();
    const withRevision = await this.db('gitops_reconcile_runs')
      .where({ app_key: appKey })
      .whereNotNull('revision')
      .orderBy([
        { column: 'finished_at', order: 'desc' },
        { column: 'id', order: 'desc' },
      ])
      .first('revision');
    return {
      run: finished && runOf(finished),
      revision: orUndefined(withRevision?.revision ?? null),
    };
  }

  async addImageUpdate(
    appKey: string,
    update: NewImageUpdate,
  ): Promise<number> {
    return this.insertImageUpdate(this.db, appKey, update);
  }

  private async insertImageUpdate(
    db: Knex,
    appKey: string,
    update: NewImageUpdate,
  ): Promise<number> {
    const [row] = await db('gitops_image_history')
      .insert({
        app_key: appKey,
        component: update.component,
        image: update.image,
        old_tag: update.oldTag ?? null,
        new_tag: update.newTag,
        policy: update.policy ?? null,
        commit_sha: update.commitSha ?? null,
        trigger: update.trigger,
        detected_at: new Date(update.detectedAt),
        pushed_at: update.pushedAt ? new Date(update.pushedAt) : null,
        digest: update.digest ?? null,
        action: update.action ?? null,
        requested_by: update.requestedBy ?? null,
        reason: update.reason ?? null,
        target_app_key: update.target ? keyOfRef(update.target) : null,
        target_component: update.target?.component ?? null,
      })
      .returning('id');
    const id = typeof row === 'object' ? Number(row.id) : Number(row);
    if (update.action && ROLLBACK_ACTIONS.includes(update.action)) {
      // The update it undoes: the component's latest row that put in the tag it replaced.
      const undone = db('gitops_image_history')
        .where({ app_key: appKey, component: update.component })
        .whereNull('app_deleted_at')
        .where('id', '<', id);
      if (update.oldTag) undone.where({ new_tag: update.oldTag });
      const previous = await undone.orderBy('id', 'desc').first('id');
      if (previous)
        await this.markRolledBack(
          Number(previous.id),
          new Date(update.pushedAt ?? update.detectedAt),
          db,
        );
    }
    return id;
  }

  /**
   * Whether a component of the Application ran `tag`, per its image history
   * (the bot wrote it, or replaced it), and the digest the bot last wrote
   * with it, if any.
   */
  async ranImageTag(
    appKey: string,
    component: string,
    tag: string,
  ): Promise<{ digest?: string } | undefined> {
    const rows = await this.db('gitops_image_history')
      .where({ app_key: appKey, component })
      .whereNull('app_deleted_at')
      .andWhere(q => q.where({ new_tag: tag }).orWhere({ old_tag: tag }))
      .orderBy('id', 'desc')
      .select('new_tag', 'digest');
    if (rows.length === 0) return undefined;
    const written = rows.find(r => r.new_tag === tag && r.digest);
    return written ? { digest: written.digest } : {};
  }

  /** A rollout found failed (kstatus Failed, a progress deadline, not healthy in time): the first finding stands. */
  async markRolloutFailed(
    historyId: number,
    failure: string,
    at = new Date(),
  ): Promise<boolean> {
    const updated = await this.db('gitops_image_history')
      .where({ id: historyId })
      .whereNull('failed_at')
      .update({ failed_at: at, failure });
    return updated > 0;
  }

  /** A later commit rolled this update back. */
  async markRolledBack(
    historyId: number,
    at = new Date(),
    db: Knex = this.db,
  ): Promise<boolean> {
    const updated = await db('gitops_image_history')
      .where({ id: historyId })
      .whereNull('rolled_back_at')
      .update({ rolled_back_at: at });
    return updated > 0;
  }

  /**
   * Stamps the rollout milestones on image updates that haven't reached them
   * yet: an update is applied once a reconcile applied its commit, and
   * healthy once the Application was healthy after that.
   */
  async markRollout(
    appKey: string,
    milestone: 'applied' | 'healthy',
    at = new Date(),
    db: Knex = this.db,
  ): Promise<number> {
    const column = milestone === 'applied' ? 'applied_at' : 'healthy_at';
    // An update rolled back (or failed) before the milestone never reaches it.
    const query = db('gitops_image_history')
      .where({ app_key: appKey })
      .whereNull(column)
      .whereNull('rolled_back_at')
      .whereNull('failed_at');
    if (milestone === 'healthy') query.whereNotNull('applied_at');
    return query.update({ [column]: at });
  }

  /**
   * Stamps `healthy_at` on the applied updates of a healthy pass: when the
   * component's objects became ready as they record it (a Deployment's
   * completed rollout, a child Application's Ready transition), not when
   * this pass, up to a poll interval later, saw it; never before it was
   * applied. A time from before the bot's push is an earlier rollout's: the
   * pass's own time stands then.
   */
  private async markHealthy(
    appKey: string,
    observedAt: Date,
    /** Component → ISO time its objects became ready, from the pass. */
    healthySince: Record<string, string>,
    db: Knex,
  ): Promise<void> {
    const rows = await db('gitops_image_history')
      .where({ app_key: appKey })
      .whereNull('healthy_at')
      .whereNotNull('applied_at')
      // The healthy pass after a rollback is the previous tag's, not theirs.
      .whereNull('rolled_back_at')
      .whereNull('failed_at')
      .select('id', 'component', 'pushed_at', 'detected_at', 'applied_at');
    for (const row of rows) {
      const since = healthySince[row.component];
      const pushed = Date.parse(toIso(row.pushed_at ?? row.detected_at)!);
      const applied = Date.parse(toIso(row.applied_at)!);
      let at = observedAt;
      // Condition times are whole seconds: within the push's second counts,
      // and a rollout done before its pass had finished applying is healthy
      // when that pass was done, never before it.
      if (since && Date.parse(since) > pushed - 1000)
        at = new Date(Math.max(Date.parse(since), pushed, applied));
      await db('gitops_image_history')
        .where({ id: row.id })
        .update({ healthy_at: at < observedAt ? at : observedAt });
    }
  }

  /** The image history rows of an Application: its automation's, and those committed into its manifest. */
  private imageRowsOf(appKey: string, db: Knex = this.db) {
    return db('gitops_image_history').where(q =>
      q.where({ app_key: appKey }).orWhere({ target_app_key: appKey }),
    );
  }

  async listImageHistory(
    appKey: string,
    options: { limit: number; offset: number },
  ): Promise<Page<ImageHistoryEntry>> {
    const query = this.imageRowsOf(appKey);
    const [{ count }] = await query.clone().count({ count: '*' });
    const rows = await query
      .orderBy([
        { column: 'detected_at', order: 'desc' },
        { column: 'id', order: 'desc' },
      ])
      .limit(options.limit)
      .offset(options.offset);
    return {
      totalCount: Number(count),
      items: rows.map(historyFor(appKey)),
    };
  }

  /** Each of these components' newest image update: the bot's latest commit for it. */
  async latestImageUpdates(
    appKey: string,
    components: string[],
  ): Promise<Map<string, ImageHistoryEntry>> {
    const ofComponents = (db: Knex.QueryBuilder) =>
      db
        .where({ app_key: appKey })
        .whereIn('component', components)
        .whereNull('app_deleted_at');
    const rows = await ofComponents(this.db('gitops_image_history')).whereIn(
      'id',
      ofComponents(this.db('gitops_image_history').max('id')).groupBy(
        'component',
      ),
    );
    return new Map(
      rows.map((r: { component: string }) => [r.component, historyOf(r)]),
    );
  }

  /**
   * What the timeline of an Application tells about `[from, to)`, oldest
   * first: the image updates with a milestone in it, the reconciles that
   * failed or changed objects, and the audit trail. At most `limit` of each,
   * the newest; `truncated` says when older ones were left out.
   */
  async timelineRecords(
    appKey: string,
    window: { from: Date; to: Date },
    limit: number,
  ): Promise<{
    images: ImageHistoryEntry[];
    runs: ReconcileRun[];
    audit: AuditEntry[];
    truncated: boolean;
  }> {
    const { from, to } = window;
    const newest = async (
      query: Knex.QueryBuilder,
      column: string,
    ): Promise<any[]> => {
      const rows = await query
        .orderBy([
          { column, order: 'desc' },
          { column: 'id', order: 'desc' },
        ])
        .limit(limit + 1);
      return rows.reverse();
    };
    const [images, runs, audit] = await Promise.all([
      newest(
        this.imageRowsOf(appKey)
          .where('detected_at', '<', to)
          .where(q => {
            for (const column of [
              'detected_at',
              'pushed_at',
              'applied_at',
              'healthy_at',
              'failed_at',
              'rolled_back_at',
            ])
              q.orWhere(column, '>=', from);
          }),
        'detected_at',
      ),
      newest(
        this.db('gitops_reconcile_runs')
          .where({ app_key: appKey })
          .where('started_at', '<', to)
          .where(q =>
            q
              .where('started_at', '>=', from)
              .orWhere('finished_at', '>=', from),
          )
          .where(q =>
            q
              .where({ result: 'failed' })
              .orWhere('objects_changed', '>', 0)
              .orWhereNotNull('cloud_drift'),
          ),
        'started_at',
      ),
      newest(
        this.db('gitops_audit')
          .where({ app_key: appKey })
          .where('at', '>=', from)
          .where('at', '<', to),
        'at',
      ),
    ]);
    const truncated = [images, runs, audit].some(rows => rows.length > limit);
    const kept = (rows: any[]) => rows.slice(Math.max(0, rows.length - limit));
    return {
      images: kept(images).map(historyFor(appKey)),
      runs: kept(runs).map(runOf),
      audit: kept(audit).map(auditOf),
      truncated,
    };
  }

  /** When tags reached their registry, as its push notifications said (`image` is `registry/name`). */
  async recordTagPushes(
    pushes: Array<{ image: string; tag: string; pushedAt: Date }>,
  ): Promise<void> {
    for (const push of pushes) {
      await this.db('gitops_tag_pushes')
        .insert({ image: push.image, tag: push.tag, pushed_at: push.pushedAt })
        .onConflict(['image', 'tag'])
        .merge(['pushed_at']);
    }
  }

  /** The last push time of each `image:tag` the registry told us about. */
  async tagPushTimes(
    tags: Array<{ image: string; tag: string }>,
  ): Promise<Map<string, string>> {
    const times = new Map<string, string>();
    const images = [...new Set(tags.map(t => t.image))];
    for (const image of images) {
      const wanted = [
        ...new Set(tags.filter(t => t.image === image).map(t => t.tag)),
      ];
      const rows = await this.db('gitops_tag_pushes')
        .where({ image })
        .whereIn('tag', wanted);
      for (const r of rows) times.set(`${image}:${r.tag}`, toIso(r.pushed_at)!);
    }
    return times;
  }

  /** What an Application applied on each cluster; undefined when nothing is stored (a new or lost database). */
  async inventories(
    appKey: string,
  ): Promise<Record<string, InventoryEntry[]> | undefined> {
    const rows = await this.db('gitops_inventories').where({ app_key: appKey });
    if (rows.length === 0) return undefined;
    return Object.fromEntries(
      rows.map(r => [
        r.cluster as string,
        JSON.parse(r.entries) as InventoryEntry[],
      ]),
    );
  }

  /** Every kind some inventory holds, per cluster: what a cache of live objects mirrors from the start. */
  async inventoryKinds(): Promise<
    Array<{ cluster: string; group: string; version: string; kind: string }>
  > {
    const kinds = new Map<
      string,
      { cluster: string; group: string; version: string; kind: string }
    >();
    const rows = await this.db('gitops_inventories').select(
      'cluster',
      'entries',
    );
    for (const row of rows) {
      for (const e of JSON.parse(row.entries) as InventoryEntry[]) {
        const kind = {
          cluster: row.cluster as string,
          group: e.group,
          version: e.version,
          kind: e.kind,
        };
        kinds.set(`${kind.cluster}|${e.group}/${e.version}/${e.kind}`, kind);
      }
    }
    return [...kinds.values()];
  }

  private async writeInventories(
    tx: Knex,
    appKey: string,
    inventories: Record<string, InventoryEntry[]>,
  ): Promise<void> {
    await tx('gitops_inventories')
      .where({ app_key: appKey })
      .whereNotIn('cluster', Object.keys(inventories))
      .delete();
    for (const [cluster, entries] of Object.entries(inventories)) {
      await tx('gitops_inventories')
        .insert({
          app_key: appKey,
          cluster,
          entries: JSON.stringify(entries),
          updated_at: new Date(),
        })
        .onConflict(['app_key', 'cluster'])
        .merge(['entries', 'updated_at']);
    }
  }

  async isSuspended(appKey: string): Promise<boolean> {
    const row = await this.db('gitops_automation')
      .where({ app_key: appKey })
      .first();
    return Boolean(row?.suspended);
  }

  async setSuspended(
    appKey: string,
    suspended: boolean,
    changedBy: string,
  ): Promise<void> {
    await this.db('gitops_automation')
      .insert({
        app_key: appKey,
        suspended,
        changed_by: changedBy,
        updated_at: new Date(),
      })
      .onConflict('app_key')
      .merge();
    this.changed(appKey);
  }

  /**
   * Holds a component's image automation at `tag`, replacing any hold or
   * release it had: the next pass commits that tag, and later ones keep it.
   */
  async placeHold(appKey: string, hold: NewImageHold): Promise<ImageHold> {
    const row = {
      app_key: appKey,
      component: hold.component,
      image: hold.image,
      tag: hold.tag,
      digest: hold.digest ?? null,
      held_by: hold.heldBy,
      held_at: hold.heldAt ?? new Date(),
      reason: hold.reason ?? null,
      automatic: hold.automatic ?? false,
      failed_tag: hold.failedTag ?? null,
      would_pick: null,
      would_pick_at: null,
      released_by: null,
      released_at: null,
      release_reason: null,
    };
    await this.db('gitops_image_holds')
      .insert(row)
      .onConflict(['app_key', 'component'])
      .merge();
    return holdOf(row);
  }

  /**
   * Releases a component's hold: automation picks again at the next pass,
   * whose commit names who released it. Undefined when it was not held.
   */
  async releaseHold(
    appKey: string,
    component: string,
    release: { releasedBy: string; reason?: string; at?: Date },
  ): Promise<ImageHold | undefined> {
    return this.db.transaction(async tx => {
      const row = await this.lockedFirst(
        tx('gitops_image_holds')
          .where({ app_key: appKey, component })
          .whereNull('released_at'),
      );
      if (!row) return undefined;
      await tx('gitops_image_holds')
        .where({ app_key: appKey, component })
        .update({
          released_by: release.releasedBy,
          released_at: release.at ?? new Date(),
          release_reason: release.reason ?? null,
        });
      return holdOf(row);
    });
  }

  /** The components held now, by component name. */
  async listHolds(appKey: string): Promise<ImageHold[]> {
    const rows = await this.db('gitops_image_holds')
      .where({ app_key: appKey })
      .whereNull('released_at')
      .orderBy('component');
    return rows.map(holdOf);
  }

  /** The holds released since the last pass, which the next pass lets go of. */
  async listReleases(appKey: string): Promise<ImageHoldRelease[]> {
    const rows = await this.db('gitops_image_holds')
      .where({ app_key: appKey })
      .whereNotNull('released_at')
      .orderBy('component');
    return rows.map(r => ({
      component: r.component,
      releasedBy: r.released_by,
      releasedAt: toIso(r.released_at)!,
      reason: orUndefined(r.release_reason),
    }));
  }

  /**
   * What the policy picked for a held component, not committed. `at` is
   * when it first picked that tag: the same pick again keeps its time.
   */
  async recordWouldPick(
    appKey: string,
    component: string,
    tag: string,
    at = new Date(),
    db: Knex = this.db,
  ): Promise<void> {
    await db('gitops_image_holds')
      .where({ app_key: appKey, component })
      .whereNull('released_at')
      .andWhere(q => q.whereNull('would_pick').orWhereNot('would_pick', tag))
      .update({ would_pick: tag, would_pick_at: at });
  }

  async appendAudit(appKey: string, entry: NewAuditEntry): Promise<AuditEntry> {
    const row = {
      app_key: appKey,
      action: entry.action,
      actor: entry.actor,
      at: entry.at ?? new Date(),
      reason: entry.reason ?? null,
      component: entry.component ?? null,
      summary: entry.summary,
    };
    const [inserted] = await this.db('gitops_audit')
      .insert(row)
      .returning('id');
    this.changed(appKey);
    return auditOf({
      ...row,
      id: typeof inserted === 'object' ? inserted.id : inserted,
    });
  }

  /** The audit trail, newest first. */
  async listAudit(
    appKey: string,
    options: { limit: number; offset: number },
  ): Promise<Page<AuditEntry>> {
    const query = this.db('gitops_audit').where({ app_key: appKey });
    const [{ count }] = await query.clone().count({ count: '*' });
    const rows = await query
      .orderBy([
        { column: 'at', order: 'desc' },
        { column: 'id', order: 'desc' },
      ])
      .limit(options.limit)
      .offset(options.offset);
    return { totalCount: Number(count), items: rows.map(auditOf) };
  }

  /** When each Application is next due, and which have a pending sync request. */
  async schedules(appKeys: string[]): Promise<Map<string, Schedule>> {
    const rows = appKeys.length
      ? await this.db('gitops_schedule').whereIn('app_key', appKeys)
      : [];
    return schedulesOf(rows);
  }

  /**
   * The schedules that are due at `now` (a sync was asked for, or their time
   * came), of every Application, and those of `appKeys` whatever their time:
   * a tick reads what it must act on, not every row of its shard.
   */
  async dueSchedules(
    now: Date,
    appKeys: string[],
  ): Promise<Map<string, Schedule>> {
    const rows = await this.db('gitops_schedule').where(q => {
      q.whereNotNull('requested_trigger')
        .orWhereNull('next_at')
        .orWhere('next_at', '<=', now);
      if (appKeys.length) q.orWhereIn('app_key', appKeys);
    });
    return schedulesOf(rows);
  }

  /** Asks for a reconcile of an Application at its shard's next tick. */
  async requestSync(appKey: string, trigger: ReconcileTrigger): Promise<void> {
    await this.db('gitops_schedule')
      .insert({
        app_key: appKey,
        requested_trigger: trigger,
        requested_at: new Date(),
      })
      .onConflict('app_key')
      .merge(['requested_trigger', 'requested_at']);
  }

  /** The reconcile started: the request is served; `nextAt` is set when it ends. */
  async clearSyncRequest(appKey: string): Promise<void> {
    await this.db('gitops_schedule')
      .where({ app_key: appKey })
      .update({ requested_trigger: null, requested_at: null });
  }

  /** A `terraform` component's record, as its last tofu run left it. */
  async getCloudResource(
    appKey: string,
    component: string,
  ): Promise<CloudResourceRecord | undefined> {
    const row = await this.db('gitops_cloud_resources')
      .where({ app_key: appKey, component })
      .first('record');
    return row ? (JSON.parse(row.record) as CloudResourceRecord) : undefined;
  }

  async putCloudResource(
    appKey: string,
    component: string,
    record: CloudResourceRecord,
  ): Promise<void> {
    await this.db('gitops_cloud_resources')
      .insert({
        app_key: appKey,
        component,
        record: JSON.stringify(record),
        updated_at: new Date(),
      })
      .onConflict(['app_key', 'component'])
      .merge(['record', 'updated_at']);
    this.changed(appKey);
  }

  async removeCloudResource(appKey: string, component: string): Promise<void> {
    await this.db('gitops_cloud_resources')
      .where({ app_key: appKey, component })
      .delete();
    this.changed(appKey);
  }

  /** The status of every `terraform` component of an Application, by component name. */
  async listCloudResources(appKey: string): Promise<CloudResourceStatus[]> {
    const rows = await this.db('gitops_cloud_resources')
      .where({ app_key: appKey })
      .orderBy('component')
      .select('record');
    return rows.map(r => (JSON.parse(r.record) as CloudResourceRecord).status);
  }

  /**
   * Approves the plan a component waits on: its next pass applies exactly
   * that plan. A ConflictError when no plan waits.
   */
  async approveCloudPlan(
    appKey: string,
    component: string,
    approved: { by: string; at: Date },
  ): Promise<CloudResourceStatus> {
    const status = await this.db.transaction(async tx => {
      const row = await this.lockedFirst(
        tx('gitops_cloud_resources')
          .where({ app_key: appKey, component })
          .select('record'),
      );
      const record = row
        ? (JSON.parse(row.record) as CloudResourceRecord)
        : undefined;
      if (
        !record?.pendingPlan ||
        record.status.state !== 'waitingForApproval'
      ) {
        throw new ConflictError(
          `Component ${component} has no plan waiting for approval${
            record ? ` (it is ${record.status.state})` : ''
          }`,
        );
      }
      if (record.pendingPlan.approved)
        throw new ConflictError(
          `The plan of ${component} was already approved by ${record.pendingPlan.approved.by}`,
        );
      record.pendingPlan.approved = {
        by: approved.by,
        at: approved.at.toISOString(),
      };
      record.status = {
        ...record.status,
        message: `plan approved by ${approved.by}; applying next pass`,
      };
      await tx('gitops_cloud_resources')
        .where({ app_key: appKey, component })
        .update({ record: JSON.stringify(record), updated_at: approved.at });
      return record.status;
    });
    this.changed(appKey);
    return status;
  }

  /** Where an Application's workflow stands, as the last pass left it. */
  async getWorkflowState(appKey: string): Promise<WorkflowState | undefined> {
    const row = await this.db('gitops_workflow_state')
      .where({ app_key: appKey })
      .first();
    return row?.state ? (JSON.parse(row.state) as WorkflowState) : undefined;
  }

  private async writeWorkflowState(
    tx: Knex,
    appKey: string,
    state: WorkflowState,
  ): Promise<void> {
    await tx('gitops_workflow_state')
      .insert({
        app_key: appKey,
        state: JSON.stringify(state),
        updated_at: new Date(),
      })
      .onConflict('app_key')
      .merge(['state', 'updated_at']);
  }

  /**
   * Queues a request (resume a step, roll back) for the reconcile loop, the
   * only writer of the workflow state, so a pass under way cannot overwrite it.
   */
  async queueWorkflowCommand(
    appKey: string,
    command: WorkflowCommand,
  ): Promise<void> {
    await this.db.transaction(async tx => {
      const row = await this.lockedRow(tx, appKey);
      const commands = [...JSON.parse(row?.commands ?? '[]'), command];
      await tx('gitops_workflow_state')
        .insert({
          app_key: appKey,
          commands: JSON.stringify(commands),
          updated_at: new Date(),
        })
        .onConflict('app_key')
        .merge(['commands', 'updated_at']);
    });
  }

  /** The first row of `query`, locked until the transaction ends (SQLite locks the whole database anyway). */
  private lockedFirst(query: Knex.QueryBuilder) {
    const sqlite = String(this.db.client.config.client).includes('sqlite');
    return (sqlite ? query : query.forUpdate()).first();
  }

  /** The workflow row, locked until the transaction ends. */
  private lockedRow(tx: Knex.Transaction, appKey: string) {
    return this.lockedFirst(
      tx('gitops_workflow_state').where({ app_key: appKey }),
    );
  }

  /** The queued requests, removed from the queue. */
  async takeWorkflowCommands(appKey: string): Promise<WorkflowCommand[]> {
    return this.db.transaction(async tx => {
      const row = await this.lockedRow(tx, appKey);
      if (!row?.commands) return [];
      await tx('gitops_workflow_state')
        .where({ app_key: appKey })
        .update({ commands: null });
      return JSON.parse(row.commands);
    });
  }

  /**
   * Takes a shard for `holder` until `expiresAt`, unless another holder's
   * lease is still running. Returns whether `holder` holds it now.
   */
  async claimShard(
    shard: number,
    holder: string,
    expiresAt: Date,
  ): Promise<boolean> {
    return this.db.transaction(async tx => {
      const row = await this.lockedFirst(
        tx('gitops_shard_leases').where({ shard }),
      );
      if (
        row &&
        row.holder !== holder &&
        new Date(toIso(row.expires_at)!).getTime() > Date.now()
      )
        return false;
      await tx('gitops_shard_leases')
        .insert({ shard, holder, expires_at: expiresAt })
        .onConflict('shard')
        .merge(['holder', 'expires_at']);
      return true;
    });
  }

  /** Whether `holder` still holds the shard: its lease is its own and not expired. */
  async holdsShard(shard: number, holder: string): Promise<boolean> {
    const row = await this.db('gitops_shard_leases').where({ shard }).first();
    return (
      row?.holder === holder &&
      new Date(toIso(row.expires_at)!).getTime() > Date.now()
    );
  }

  /** Lets the shard go at the end of a tick, so any replica may take the next one at once. */
  async releaseShard(shard: number, holder: string): Promise<void> {
    await this.db('gitops_shard_leases')
      .where({ shard, holder })
      .update({ expires_at: new Date() });
  }

  /** Drops runs, image history, audit entries and tag push times older than the retention window. */
  async deleteHistoryBefore(
    cutoff: Date,
  ): Promise<{ runs: number; images: number; audit: number }> {
    const runs = await this.db('gitops_reconcile_runs')
      .where('started_at', '<', cutoff)
      .delete();
    const images = await this.db('gitops_image_history')
      .where('detected_at', '<', cutoff)
      .delete();
    const audit = await this.db('gitops_audit')
      .where('at', '<', cutoff)
      .delete();
    await this.db('gitops_tag_pushes').where('pushed_at', '<', cutoff).delete();
    return { runs, images, audit };
  }
}
