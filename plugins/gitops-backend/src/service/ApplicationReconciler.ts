import { LoggerService } from '@backstage/backend-plugin-api';
import { stringifyError } from '@backstage/errors';
import {
  applyWorkflowCommand,
  impersonatedUser,
  PROGRESS_INTERVAL_MS,
  pollIntervalOf,
  prepareSources,
  runPipeline,
  WorkflowExecutor,
  type ClusterConnectionConfig,
  type DefinitionRegistry,
  type GitAuthor,
  type GitCredentialsProvider,
  type GitSource,
  type ImagePolicyEvaluator,
  type KubeClient,
  type KubeObject,
  type Project,
  type ReconcileOutcome,
  type WorkflowState,
} from '@gitops-workflow/plugin-gitops-node';
import { ReconcileTrigger } from '@gitops-workflow/plugin-gitops-common';
import { GitopsStore, ReconcileRecord } from '../store/GitopsStore';
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
  };
  definitions: DefinitionRegistry;
  git: GitSource;
  /** The backend's integration tokens, for the projects that allow them. */
  integrationCredentials?: GitCredentialsProvider;
  /** `gitops.projects`; Applications in none get the default project. */
  projects?: Project[];
  images: ImagePolicyEvaluator;
  author?: GitAuthor;
  kustomizePath?: string;
  metrics?: ReconcileMetrics;
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

  constructor(private readonly options: ApplicationReconcilerOptions) {
    this.metrics = options.metrics ?? new ReconcileMetrics();
    this.executor = new WorkflowExecutor({
      clusters: options.deployTargets.clusters,
      localCluster: options.home.name,
      clientFor: options.deployTargets.clientFor,
      definitions: options.definitions,
    });
  }

  async reconcile(
    app: KubeObject,
    key: string,
    trigger: ReconcileTrigger,
  ): Promise<void> {
    const { store, logger } = this.options;
    const log = logger.child({ application: key });
    const startedAt = new Date();
    let record: ReconcileRecord;
    try {
      const outcome = await this.runPass(app, key, trigger);
      record = this.recordOf(outcome, trigger, startedAt, app);
      this.report(outcome, key, log);
    } catch (error) {
      // The cluster or the database failed, not the Application: retry soon.
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
        nextAt: new Date(Date.now() + PROGRESS_INTERVAL_MS),
      };
    }
    await store.recordReconcile(key, record);
    this.metrics.reconciled(
      key,
      trigger,
      record.run.result,
      (record.run.finishedAt.getTime() - startedAt.getTime()) / 1000,
    );
  }

  private async runPass(
    app: KubeObject,
    key: string,
    trigger: ReconcileTrigger,
  ): Promise<ReconcileOutcome> {
    const { store } = this.options;
    let workflow = await store.getWorkflowState(key);
    for (const command of await store.takeWorkflowCommands(key)) {
      workflow = this.applyCommand(workflow, command, key);
    }
    return runPipeline(app, {
      home: this.options.home,
      executor: this.executor,
      definitions: this.options.definitions,
      projects: this.options.projects,
      sources: async (application, into, project) => {
        const user = impersonatedUser(application, project);
        await prepareSources(
          application,
          {
            // The Application's Secrets are read as its ServiceAccount, when it has one.
            client: user
              ? this.options.home.client.asUser(user)
              : this.options.home.client,
            git: this.options.git,
            integrationCredentials: this.options.integrationCredentials,
            project,
            images: this.options.images,
            automationSuspended: await store.isSuspended(key),
            author: this.options.author,
            kustomizePath: this.options.kustomizePath,
            refresh: trigger === 'manual' || trigger === 'webhook',
          },
          into,
        );
      },
      workflow,
      inventories: await store.inventories(key),
    });
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
  ): ReconcileRecord {
    const healthy = outcome.kind === 'deployed' && outcome.healthy;
    const revisions = Object.values(outcome.sources.revisions);
    const record: ReconcileRecord = {
      run: {
        trigger,
        startedAt,
        finishedAt: new Date(),
        result: outcome.failure ? 'failed' : 'succeeded',
        revision: revisions[0],
        error: outcome.failure?.message,
        objectsChanged: outcome.kind === 'deployed' ? outcome.writes : undefined,
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
      })),
      nextAt: new Date(
        Date.now() +
          (healthy ? withJitter(this.interval(app)) : PROGRESS_INTERVAL_MS),
      ),
    };
    if (outcome.kind === 'deployed') {
      record.deployed = {
        workflow: outcome.workflow,
        inventories: outcome.inventories,
        applied: outcome.failure?.stage !== 'apply',
        healthy,
      };
    }
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
        }) as ${update.revision}`,
      );
    }
    for (const warning of outcome.sources.warnings) log.warn(warning);
    if (outcome.failure) {
      log.warn(
        `Reconcile failed at ${outcome.failure.stage}: ${outcome.failure.message}`,
      );
      this.metrics.failed(key, outcome.failure.stage);
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
