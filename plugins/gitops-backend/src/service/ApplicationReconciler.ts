import { LoggerService } from '@backstage/backend-plugin-api';
import { stringifyError } from '@backstage/errors';
import {
  applyWorkflowCommand,
  GITOPS_FINALIZER,
  listApplications,
  ORPHAN_FINALIZER,
  releaseSources,
  removeFinalizers,
  impersonatedUser,
  PROGRESS_INTERVAL_MS,
  pollIntervalOf,
  retryDelay,
  prepareSources,
  listComponentImageTags,
  parseApplication,
  projectFor,
  PassStoppedError,
  type PassFence,
  runPipeline,
  previewPipeline,
  withRequestSignal,
  type PipelinePreview,
  WorkflowExecutor,
  type ClusterConnectionConfig,
  branchOf,
  imagePolicyId,
  kustomizeComponents,
  type Application,
  type ApplicationComponent,
  APPLICATION_GVK,
  type BuildOptions,
  type InventoryEntry,
  type DefinitionRegistry,
  type GitAuthor,
  type GitCredentialsProvider,
  type GitSource,
  type ImagePolicyEvaluator,
  type KubeClient,
  type KubeObject,
  type ObjectRef,
  type Project,
  type ReconcileOutcome,
  type WorkflowState,
} from '@gitops-workflow/plugin-gitops-node';
import { ReconcileTrigger } from '@gitops-workflow/plugin-gitops-common';
import { GitopsStore, ReconcileRecord } from '../store/GitopsStore';
import { AutomaticRollback } from './automaticRollback';
import { holdAbortedRollouts } from './rolloutDecisions';
import { ReconcileMetrics } from './metrics';

/**
 * Up to 10% more than the interval, so Applications created together do not
 * poll their Git hosts and registries in lockstep forever.
 */
export function withJitter(intervalMs: number, random = Math.random()): number {
  return Math.round(intervalMs * (1 + 0.1 * random));
}

export interface ApplicationReconcilerOptions {
  logger: LoggerService;
  store: GitopsStore;
  /** The cluster where Applications live: Secrets are read and status written there. */
  home: { name: string; client: KubeClient };
  /** Every cluster a workflow may deploy to, and its shared client. */
  deployTargets: {
    clusters: ClusterConnectionConfig[];
    clientFor: (cluster: ClusterConnectionConfig) => KubeClient;
    /** A watch cache's recent copy of an object, read instead of the API server. */
    cachedObject?: (
      cluster: string,
      ref: ObjectRef,
    ) => KubeObject | null | undefined;
  };
  definitions: DefinitionRegistry;
  git: GitSource;
  /** The backend's integration tokens, for the projects that allow them. */
  integrationCredentials?: GitCredentialsProvider;
  /** `gitops.projects`; Applications in none get the default project. */
  projects?: Project[];
  images: ImagePolicyEvaluator;
  author?: GitAuthor;
  /** The kustomize binary, its deadline and the build limits (`buildOptionsOf(config)`). */
  build?: Omit<BuildOptions, 'root'>;
  metrics?: ReconcileMetrics;
  /** Where progressive rollouts ask their analysis, and how long each call may take. */
  analysis?: { prometheusUrl?: string; timeoutMs: number };
}

/**
 * Runs one pass of one Application through the pipeline and records it:
 * loads what the last pass left (workflow state, inventories, queued
 * commands), runs the pass, and writes run, history, state, inventories and
 * schedule in one store transaction.
 */
export class ApplicationReconciler {
  private readonly metrics: ReconcileMetrics;
  private readonly executor: WorkflowExecutor;
  private readonly rollbacks: AutomaticRollback;

  constructor(private readonly options: ApplicationReconcilerOptions) {
    this.metrics = options.metrics ?? new ReconcileMetrics();
    this.executor = new WorkflowExecutor({
      clusters: options.deployTargets.clusters,
      localCluster: options.home.name,
      clientFor: options.deployTargets.clientFor,
      cachedObject: options.deployTargets.cachedObject,
      definitions: options.definitions,
      prometheusUrl: options.analysis?.prometheusUrl,
      httpTimeoutMs: options.analysis?.timeoutMs,
    });
    this.rollbacks = new AutomaticRollback({
      store: options.store,
      clientFor: name => this.clientFor(name),
    });
  }

  async reconcile(
    app: KubeObject,
    key: string,
    trigger: ReconcileTrigger,
    /** Stops the pass before any write once it should not write (see `PassFence`). */
    fence?: PassFence,
  ): Promise<void> {
    const { store, logger } = this.options;
    const log = logger.child({ application: key });
    const startedAt = new Date();
    // Debug lines at each hand-off: a pass that hangs shows where.
    log.debug(`Pass started (${trigger})`);
    const failures =
      ((await store.schedules([key])).get(key)?.failures ?? 0) + 1;
    let record: ReconcileRecord;
    let deployed: Application | undefined;
    try {
      const outcome = await this.runPass(app, key, trigger, fence, log);
      record = this.recordOf(outcome, trigger, startedAt, app, failures);
      if (outcome.kind === 'deployed') deployed = outcome.application;
      this.report(outcome, key, log);
    } catch (error) {
      if (error instanceof PassStoppedError) {
        // Another replica has the shard (or the backend stops): it records, not us.
        log.warn(`Pass stopped: ${error.message}`);
        return;
      }
      // The cluster or the database failed, not the Application: retry, backing off.
      log.error(`Reconcile could not complete: ${stringifyError(error)}`);
      this.metrics.failed(key, 'internal');
      record = {
        run: {
          trigger,
          startedAt,
          finishedAt: new Date(),
          result: 'failed',
          error: stringifyError(error),
        },
        imageUpdates: [],
        failures,
        nextAt: new Date(Date.now() + retryDelay(failures, this.interval(app))),
      };
    }
    try {
      // Recorded while this replica still holds the shard, even past the
      // deadline: what the pass wrote must not go unrecorded.
      await fence?.check();
    } catch (error) {
      log.warn(`Pass not recorded: ${(error as Error).message}`);
      return;
    }
    await store.recordReconcile(key, record);
    log.debug(
      `Pass recorded: ${record.run.result} in ${
        record.run.finishedAt.getTime() - startedAt.getTime()
      } ms`,
    );
    if (record.deployed) await this.holdAborted(app, key, record, log);
    if (deployed) await this.judgeRollouts(deployed, key, log);
    // Rows first, finalizer last: a crash in between leaves a deleting
    // Application that the next pass finds collected and lets go.
    if (record.collected) await this.letGo(app, log);
    this.metrics.reconciled(
      key,
      trigger,
      record.run.result,
      (record.run.finishedAt.getTime() - startedAt.getTime()) / 1000,
    );
  }

  /**
   * An Application that stopped being ours (the selector no longer picks
   * it): our finalizer goes, so deleting it later deletes nothing of what it
   * deployed; its objects, status and rows stay as they are.
   */
  async release(app: KubeObject, key: string): Promise<void> {
    await removeFinalizers(this.options.home.client, app, [GITOPS_FINALIZER]);
    this.options.logger.info(
      `Released ${key}: the selector no longer picks it; what it deployed is left in place`,
    );
  }

  /** After a deleted Application's objects are collected: its clones, then the finalizers. */
  private async letGo(app: KubeObject, log: LoggerService): Promise<void> {
    const { home, git } = this.options;
    try {
      const removed = await releaseSources(
        app,
        await listApplications(home.client),
        git,
      );
      for (const r of removed)
        log.info(`Removed the working clone of ${r.url} (${r.branch})`);
    } catch (error) {
      // A clone left behind costs disk, not correctness: it is renewed or reused later.
      log.warn(`Could not remove the working clones: ${stringifyError(error)}`);
    }
    // The orphan marker is removed too: with no KubeVela controller here, nobody else would.
    await removeFinalizers(home.client, app, [
      GITOPS_FINALIZER,
      ORPHAN_FINALIZER,
    ]);
    log.info(
      'Deleted: what it deployed is collected and its finalizer removed',
    );
  }

  /**
   * Keeps the memory of the image policies and Git clones these
   * Applications use, and forgets the rest (Applications deleted, or
   * changed to other repositories and images), so nothing grows with the
   * Applications that have come and gone.
   */
  retainSources(apps: readonly KubeObject[]): void {
    const policies: string[] = [];
    const repositories: Array<{ url: string; branch: string }> = [];
    for (const app of apps) {
      const components = ((app.spec as { components?: unknown[] } | undefined)
        ?.components ?? []) as ApplicationComponent[];
      for (const { component, props } of kustomizeComponents(components)) {
        repositories.push({ url: props.url, branch: branchOf(props) });
        if (props.imageRepository)
          policies.push(imagePolicyId(app.metadata.namespace!, component.name));
      }
    }
    this.options.images.retain(policies);
    this.options.git.retain(repositories);
  }

  /**
   * The tags the registry lists now for a component's image, read with the
   * Application's own credentials and within its project, as its passes do.
   */
  async listImageTags(app: KubeObject, component: string): Promise<string[]> {
    const { definitions, projects, home, images } = this.options;
    const application = parseApplication(app, { definitions });
    const project = projectFor(application, projects ?? [], home.name);
    return listComponentImageTags(application, component, {
      client: this.secretsClient(application, project),
      project,
      images,
    });
  }

  /** The Application's Secrets are read as its ServiceAccount, when it has one. */
  private secretsClient(application: Application, project: Project) {
    const user = impersonatedUser(application, project);
    return user
      ? this.options.home.client.asUser(user)
      : this.options.home.client;
  }

  private async runPass(
    app: KubeObject,
    key: string,
    trigger: ReconcileTrigger,
    fence: PassFence | undefined,
    log: LoggerService,
  ): Promise<ReconcileOutcome> {
    const { store } = this.options;
    let workflow = await store.getWorkflowState(key);
    for (const command of await store.takeWorkflowCommands(key)) {
      workflow = this.applyCommand(workflow, command, key);
    }
    const [imageHolds, imageReleases] = await Promise.all([
      store.listHolds(key),
      store.listReleases(key),
    ]);
    return runPipeline(app, {
      home: this.options.home,
      executor: this.executor,
      fence,
      readLive: trigger === 'manual',
      definitions: this.options.definitions,
      projects: this.options.projects,
      sources: async (application, into, project, pinnedRevisions) => {
        log.debug('Sources stage started');
        await prepareSources(
          application,
          {
            client: this.secretsClient(application, project),
            git: this.options.git,
            integrationCredentials: this.options.integrationCredentials,
            project,
            images: this.options.images,
            automationSuspended: await store.isSuspended(key),
            imageHolds,
            imageReleases,
            author: this.options.author,
            build: this.options.build,
            refresh: trigger === 'manual' || trigger === 'webhook',
            pinnedRevisions,
          },
          into,
        );
        log.debug('Sources stage done; rendering and applying');
      },
      workflow,
      imageHolds,
      inventories: await store.inventories(key),
      clientFor: name => this.clientFor(name),
    });
  }

  /** A configured cluster's client by name; undefined for one this backend does not know. */
  private clientFor(name: string): KubeClient | undefined {
    const cluster = this.options.deployTargets.clusters.find(
      c => c.name === name,
    );
    return cluster && this.options.deployTargets.clientFor(cluster);
  }

  /** The holds of the rollouts this pass aborted (see `holdAbortedRollouts`). */
  private async holdAborted(
    app: KubeObject,
    key: string,
    record: ReconcileRecord,
    log: LoggerService,
  ): Promise<void> {
    try {
      await holdAbortedRollouts(
        this.options.store,
        key,
        record.deployed!.workflow,
        { app, home: this.options.home },
        log,
      );
    } catch (error) {
      // The abort stands (traffic is back on stable); only its hold is missing.
      log.error(
        `Could not hold the tag of an aborted rollout: ${stringifyError(
          error,
        )}`,
      );
    }
  }

  /**
   * Automatic rollback, after the pass is recorded (its rollout milestones
   * included): a failed rollout found now is rolled back by the next pass.
   */
  private async judgeRollouts(
    app: Application,
    key: string,
    log: LoggerService,
  ): Promise<void> {
    try {
      await this.rollbacks.afterPass(app, key, log);
    } catch (error) {
      // Judged again at the next pass: the workloads or the store may answer then.
      log.warn(
        `Could not judge the rollouts for automatic rollback: ${stringifyError(
          error,
        )}`,
      );
    }
  }

  /**
   * What the next pass of an Application would change (`previewPipeline`):
   * Git's HEAD built read-only (no image scan, commit or push) and a
   * server-side dry-run on every cluster; nothing is written anywhere. The
   * signal ends it, its Git and Kubernetes requests included.
   */
  async preview(
    app: KubeObject,
    key: string,
    signal: AbortSignal,
  ): Promise<PipelinePreview> {
    const { store } = this.options;
    const [workflow, inventories] = await Promise.all([
      store.getWorkflowState(key),
      store.inventories(key),
    ]);
    return withRequestSignal(signal, () =>
      previewPipeline(app, {
        home: this.options.home,
        executor: this.executor,
        definitions: this.options.definitions,
        projects: this.options.projects,
        sources: async (application, into, project, pinnedRevisions) => {
          await prepareSources(
            application,
            {
              client: this.secretsClient(application, project),
              git: this.options.git,
              integrationCredentials: this.options.integrationCredentials,
              project,
              images: this.options.images,
              build: this.options.build,
              readOnly: true,
              signal,
              pinnedRevisions,
            },
            into,
          );
        },
        workflow,
        inventories,
      }),
    );
  }

  private applyCommand(
    state: WorkflowState | undefined,
    command: Parameters<typeof applyWorkflowCommand>[1],
    key: string,
  ): WorkflowState | undefined {
    if (!state) return state;
    try {
      return applyWorkflowCommand(state, command);
    } catch (error) {
      this.options.logger.warn(
        `Could not ${command.type} the workflow of ${key}: ${stringifyError(
          error,
        )}`,
      );
      return state;
    }
  }

  private recordOf(
    outcome: ReconcileOutcome,
    trigger: ReconcileTrigger,
    startedAt: Date,
    app: KubeObject,
    /** Failed passes in a row if this one failed too. */
    failures: number,
  ): ReconcileRecord {
    const healthy = outcome.kind === 'deployed' && outcome.healthy;
    const failure = failureOf(outcome);
    let delay = PROGRESS_INTERVAL_MS; // still rolling out (or deleting): look again soon
    if (failure) delay = retryDelay(failures, this.interval(app));
    else if (healthy) delay = withJitter(this.interval(app));
    const revisions = Object.values(outcome.sources.revisions);
    const record: ReconcileRecord = {
      run: {
        trigger,
        startedAt,
        finishedAt: new Date(),
        result: failure ? 'failed' : 'succeeded',
        revision: revisions[0],
        error: failure?.message,
        objectsChanged:
          outcome.kind === 'notDeployed' ? undefined : outcome.writes,
        cloudDrift:
          outcome.kind === 'deployed' && outcome.cloudDrift.length
            ? outcome.cloudDrift
            : undefined,
      },
      imageUpdates: outcome.sources.imageUpdates.map(update => ({
        component: update.component,
        image: update.image,
        oldTag: update.oldTag,
        newTag: update.newTag,
        policy: update.policy,
        commitSha: update.commit,
        trigger,
        detectedAt: update.detectedAt.toISOString(),
        pushedAt: update.pushedAt.toISOString(),
        action: update.action,
        requestedBy: update.requestedBy,
        reason: update.reason,
        digest: update.digest,
        target: update.target && {
          cluster: clusterOfApplication(
            update.target,
            outcome.kind === 'deployed' ? outcome.inventories : {},
            this.options.home.name,
          ),
          ...update.target,
        },
      })),
      wouldPick: outcome.sources.wouldPick,
      settledReleases: outcome.sources.settledReleases,
      failures,
      nextAt: new Date(Date.now() + delay),
    };
    if (outcome.kind === 'deployed') {
      record.deployed = {
        workflow: outcome.workflow,
        inventories: outcome.inventories,
        applied: outcome.failure?.stage !== 'apply',
        healthy,
        healthySince: outcome.healthySince,
      };
    }
    if (outcome.kind === 'collecting')
      record.collecting = { inventories: outcome.inventories };
    if (outcome.kind === 'collected') record.collected = true;
    return record;
  }

  private report(
    outcome: ReconcileOutcome,
    key: string,
    log: LoggerService,
  ): void {
    for (const update of outcome.sources.imageUpdates) {
      this.metrics.committed(key, update.component);
      log.info(
        `Committed ${update.image}:${update.newTag} (was ${
          update.oldTag ?? 'unset'
        }) as ${update.revision}${
          update.action === 'update'
            ? ''
            : ` (${update.action}${
                update.requestedBy ? ` requested by ${update.requestedBy}` : ''
              })`
        }`,
      );
    }
    for (const warning of outcome.sources.warnings) log.warn(warning);
    const failure = failureOf(outcome);
    if (failure) {
      log.warn(`Reconcile failed at ${failure.stage}: ${failure.message}`);
      this.metrics.failed(key, failure.stage);
    }
    if (outcome.kind === 'collecting' && outcome.status.conditions)
      log.info(
        outcome.status.conditions.find(c => c.type === 'Deleted')?.message ??
          'Deleting',
      );
  }

  private interval(app: KubeObject): number {
    try {
      return pollIntervalOf(app);
    } catch {
      return PROGRESS_INTERVAL_MS;
    }
  }
}

/**
 * The cluster an Application applied from Git lives on: the one whose
 * inventory holds it (the home cluster first), else the home cluster.
 */
function clusterOfApplication(
  app: { namespace: string; name: string },
  inventories: Record<string, InventoryEntry[]>,
  home: string,
): string {
  const holds = (cluster: string) =>
    (inventories[cluster] ?? []).some(
      e =>
        e.group === APPLICATION_GVK.group &&
        e.kind === APPLICATION_GVK.kind &&
        e.namespace === app.namespace &&
        e.name === app.name,
    );
  if (holds(home)) return home;
  return Object.keys(inventories).find(holds) ?? home;
}

/** Where a deploying pass stopped, if it did; a deletion pass reports what is left in its status instead. */
function failureOf(outcome: ReconcileOutcome) {
  return outcome.kind === 'notDeployed' || outcome.kind === 'deployed'
    ? outcome.failure
    : undefined;
}
