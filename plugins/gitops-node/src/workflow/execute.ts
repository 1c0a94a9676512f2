import { createHash } from 'node:crypto';
import {
  ConflictError,
  InputError,
  NotAllowedError,
  NotFoundError,
} from '@backstage/errors';
import type {
  ApplicationPhase,
  ComponentStatus,
  WorkflowStatus,
  WorkflowStepStatus,
} from '@gitops-workflow/plugin-gitops-common';
import {
  applyObjects,
  type ApplyResult,
  type InventoryEntry,
  type ObjectChange,
} from '../apply/apply';
import { assessComponents } from '../assess/components';
import type { ClusterConnectionConfig } from '../clusters';
import { builtinDefinitions } from '../definitions/builtins';
import type {
  DefinitionRegistry,
  PreparedManifests,
  StepContext,
} from '../definitions/registry';
import { KubeClient } from '../kube/client';
import {
  apiVersionOf,
  groupOf,
  objectKey,
  refKey,
  refOf,
  type KubeObject,
  type ObjectRef,
} from '../kube/objects';
import { isRecord } from '../model/fields';
import { impersonatedUser, type Project } from '../model/project';
import {
  applicationOwner,
  type Application,
  type ApplicationComponent,
  type ApplicationStatus,
  type WorkflowStep,
} from '../model/types';
import { renderApplication, type RenderedApplication } from '../render/render';
import { compareBytes } from '../util/bytes';
import {
  initialSteps,
  modeOf,
  planWorkflow,
  recordOutcome,
  resumeStep,
  terminateSteps,
  workflowOf,
  type StepOutcome,
} from './plan';
import { admitObjects } from './admission';
import { deletionPolicy, type DeployTarget } from './oamPolicies';
import type { StepState, WorkflowRevision, WorkflowState } from './types';
import { PassStoppedError } from './errors';
import { ClusterRollouts, RolloutAbortedError } from '../rollout/controller';
import { decideRollout, type RolloutDecision } from '../rollout/progress';

/**
 * The revision identity of an Application: a hash of its normalised spec
 * with map keys sorted, so reordering YAML keys is not a new revision.
 */
export function applicationRevision(app: Pick<Application, 'spec'>): string {
  const canonical = JSON.stringify(app.spec, (_key, value) =>
    isRecord(value)
      ? Object.fromEntries(
          Object.entries(value).sort(([a], [b]) => compareBytes(a, b)),
        )
      : value,
  );
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}

/** Resumes a suspended step of the run (404/409-style errors when it cannot). */
export function resumeWorkflow(
  state: WorkflowState,
  step: string,
  now: Date = new Date(),
): WorkflowState {
  return { ...state, steps: resumeStep(state.steps, step, now) };
}

/** Stops the run: the Application's phase becomes `workflowTerminated` until its spec changes. */
export function terminateWorkflow(
  state: WorkflowState,
  now: Date = new Date(),
): WorkflowState {
  return {
    ...state,
    steps: terminateSteps(state.steps, now),
    terminated: true,
    finishedAt: now.toISOString(),
  };
}

/**
 * Starts a new run of an earlier revision's spec and pins it: it stays in
 * force, with its Git-backed components built at the commits it recorded,
 * whatever the Application's spec becomes, until `releaseRollback`.
 */
export function rollbackTo(
  state: WorkflowState,
  revision: number,
  now: Date = new Date(),
  request: { by?: string; reason?: string } = {},
): WorkflowState {
  const target = state.revisions.find(r => r.revision === revision);
  if (!target) {
    throw new NotFoundError(
      `Revision ${revision} is not kept (kept: ${state.revisions
        .map(r => r.revision)
        .join(', ')})`,
    );
  }
  return {
    ...state,
    revision,
    hash: target.hash,
    startedAt: now.toISOString(),
    finishedAt: undefined,
    terminated: undefined,
    steps: initialSteps(workflowOf(target).steps),
    rollback: { revision, at: now.toISOString(), ...request },
  };
}

/**
 * Ends a rollback's pin: the next pass runs the Application's spec as it is
 * now, its Git-backed components built from their branches' heads, with
 * image automation. A ConflictError when no rollback is in force.
 */
export function releaseRollback(state: WorkflowState): WorkflowState {
  if (!state.rollback)
    throw new ConflictError(
      'No rollback is in force: the workflow already runs the current spec',
    );
  const { rollback: _released, ...released } = state;
  return released;
}

/** The revision a rollback pinned, while it is in force. */
export function pinnedRevisionOf(
  state: WorkflowState | undefined,
): WorkflowRevision | undefined {
  const pinned = state?.rollback?.revision;
  return pinned === undefined
    ? undefined
    : state!.revisions.find(r => r.revision === pinned);
}

/**
 * The Application a pass runs and builds: while a rollback is pinned, the
 * pinned revision's spec, with the commits its Git-backed components ran
 * at (`pinnedRevisions`); otherwise the Application as it is.
 */
export function applicationToRun(
  app: Application,
  state: WorkflowState | undefined,
): { app: Application; pinnedRevisions?: Record<string, string> } {
  const pinned = pinnedRevisionOf(state);
  return pinned
    ? {
        app: { ...app, spec: structuredClone(pinned.spec) },
        pinnedRevisions: pinned.sources ?? {},
      }
    : { app };
}

/** A person's request to a workflow, queued for the next pass to apply. */
export type WorkflowCommand =
  | { type: 'resume'; step: string }
  | { type: 'rollback'; revision: number; by?: string; reason?: string }
  | { type: 'release' }
  | ({ type: 'rollout'; component: string; cluster: string } & RolloutDecision);

/** Applies a queued request to the workflow state (NotFound/Conflict errors when it cannot). */
export function applyWorkflowCommand(
  state: WorkflowState,
  command: WorkflowCommand,
  now: Date = new Date(),
): WorkflowState {
  switch (command.type) {
    case 'resume':
      return resumeWorkflow(state, command.step, now);
    case 'rollback':
      return rollbackTo(state, command.revision, now, {
        by: command.by,
        reason: command.reason,
      });
    case 'rollout': {
      const { type: _, component, cluster, ...decision } = command;
      return {
        ...state,
        rollouts: decideRollout(
          state.rollouts ?? [],
          component,
          cluster,
          decision,
        ),
      };
    }
    default:
      return releaseRollback(state);
  }
}

export interface WorkflowExecutorOptions {
  /** Every cluster topology policies may choose from (`gitops.clusters`). */
  clusters: ClusterConnectionConfig[];
  /** The cluster used without a topology policy and by `apply-component` without `cluster` (default `local`). */
  localCluster?: string;
  /** How to reach a cluster (default `KubeClient.fromCluster`); clients are kept until `close()`. */
  clientFor?: (cluster: ClusterConnectionConfig) => KubeClient;
  /** A watch cache's recent copy of an object on a cluster, read instead of the API server (see `ApplyOptions.cached`). */
  cachedObject?: (
    cluster: string,
    ref: ObjectRef,
  ) => KubeObject | null | undefined;
  definitions?: DefinitionRegistry;
  fieldManager?: string;
  now?: () => Date;
  /** Revisions kept for rollback (default 10). */
  revisionLimit?: number;
  /** How long an outgoing HTTP call of a step (a notification, an analysis) may take (default 10 s). */
  httpTimeoutMs?: number;
  /** Where progressive rollouts ask their metrics (`gitops.prometheus.url`). */
  prometheusUrl?: string;
}

/** What one pass starts from besides the Application and its workflow state. */
export interface WorkflowPassInput {
  /** The objects of Git-backed components, prepared once for this pass. */
  sources?: PreparedManifests;
  /** What is applied on each cluster, by cluster name. */
  inventories?: Record<string, InventoryEntry[]>;
  /**
   * What the Application may do. With one, every object of the pass is
   * checked against it before any step runs (a refusal throws a
   * NotAllowedError and nothing is applied), and its reads and writes go as
   * its ServiceAccount when it names one. Without one, nothing is checked.
   */
  project?: Project;
  /** Called before every write to a cluster; throws to stop the pass (see `PassFence`). */
  beforeWrite?: () => Promise<void>;
  /**
   * `branch@sha1:<sha>` each Git-backed component was built at for this
   * pass, recorded on the revision that runs (unless a rollback pinned it).
   */
  sourceRevisions?: Record<string, string>;
  /** Someone asked for this pass: every object is read from its API server, none from a watch cache. */
  readLive?: boolean;
}

/** `status.workflow.steps[]` with KubeVela's `subSteps`. */
export type WorkflowStepStatusWithSubSteps = WorkflowStepStatus & {
  subSteps?: WorkflowStepStatus[];
};

/** KubeVela's `status.workflow`, with the revision it runs. */
export type WorkflowRunStatus = Omit<WorkflowStatus, 'steps'> & {
  appRevision: string;
  steps: WorkflowStepStatusWithSubSteps[];
};

export interface WorkflowPassResult {
  /** Persist this; pass it to the next `run`. */
  state: WorkflowState;
  phase: ApplicationPhase;
  /** What is applied on each cluster now: persist it with the state. */
  inventories: Record<string, InventoryEntry[]>;
  /** What this pass changed on every cluster, in order. */
  changes: ObjectChange[];
  /** Objects edited outside Git that this pass restored. */
  drifted: ObjectRef[];
  /** Provisioned components (a `terraform` one) found changed outside Git, with what changed. */
  cloudDrift: string[];
  /** Writes made on every cluster (zero for a pass that changed nothing). */
  writes: number;
  /**
   * The healthy components this pass assessed, with when their objects
   * last became ready as they record it (a Deployment's completed rollout),
   * latest over the clusters; ISO 8601.
   */
  healthySince: Record<string, string>;
  /** The first step that failed in this run, and why. */
  failure?: { step: string; message: string; reason?: string };
  /** To write into the Application's status (with the caller's conditions). */
  status: Pick<
    ApplicationStatus,
    'status' | 'services' | 'appliedResources'
  > & {
    workflow: WorkflowRunStatus;
  };
}

/** Errors that running again cannot fix: the step fails. Anything else (a cluster down) is retried. */
const isPermanent = (error: unknown) =>
  error instanceof InputError ||
  error instanceof ConflictError ||
  error instanceof NotFoundError ||
  error instanceof NotAllowedError;

const failureReason = (error: unknown) => {
  if (error instanceof ConflictError) return 'Conflict';
  // Refused by the project or by the cluster's RBAC for the impersonated user.
  if (error instanceof NotAllowedError) return 'Forbidden';
  return 'ApplyFailed';
};

function stepStatus(state: StepState): WorkflowStepStatusWithSubSteps {
  const out: WorkflowStepStatusWithSubSteps = {
    name: state.name,
    type: state.type,
    phase: state.phase,
  };
  if (state.message) out.message = state.message;
  if (state.reason) out.reason = state.reason;
  if (state.startedAt) out.firstExecuteTime = state.startedAt;
  if (state.lastExecuteTime ?? state.startedAt)
    out.lastExecuteTime = state.lastExecuteTime ?? state.startedAt;
  if (state.subSteps) out.subSteps = state.subSteps.map(stepStatus);
  return out;
}

const serviceKey = (s: ComponentStatus) =>
  `${s.cluster}/${s.namespace}/${s.name}`;

/** Levels of components by `dependsOn`: each level depends only on earlier ones. */
function componentLevels(components: ApplicationComponent[]): string[][] {
  const names = new Set(components.map(c => c.name));
  const placed = new Set<string>();
  const levels: string[][] = [];
  while (placed.size < components.length) {
    const level = components
      .filter(
        c =>
          !placed.has(c.name) &&
          c.dependsOn.every(d => placed.has(d) || !names.has(d)),
      )
      .map(c => c.name);
    if (level.length === 0) {
      throw new InputError(
        `the dependsOn of components ${components
          .filter(c => !placed.has(c.name))
          .map(c => `"${c.name}"`)
          .join(', ')} form a cycle`,
      );
    }
    level.forEach(n => placed.add(n));
    levels.push(level);
  }
  return levels;
}

const flattenSteps = (steps: StepState[]): StepState[] =>
  steps.flatMap(s => [s, ...flattenSteps(s.subSteps ?? [])]);

/** What one pass accumulates while its steps run. */
interface PassScope {
  app: Application;
  state: WorkflowState;
  sources?: PreparedManifests;
  project?: Project;
  /** The Kubernetes user the pass reads and writes as (`Impersonate-User`), if not the backend. */
  user?: string;
  /** Objects are read from the API server, never from a watch cache. */
  readLive: boolean;
  inventories: Record<string, InventoryEntry[]>;
  services: Map<string, ComponentStatus>;
  /** Clusters a step applied to in this pass. */
  touched: Set<string>;
  beforeWrite?: () => Promise<void>;
  changes: ObjectChange[];
  drifted: ObjectRef[];
  /** Provisioned components found changed outside Git this pass. */
  cloudDrift: string[];
  writes: number;
  /** The first step of a finished run that could not apply again this pass, and why. */
  keepFailure?: { step: string; message: string; reason?: string };
  /** Per component assessed this pass: when its objects last became ready, on any cluster (ISO 8601). */
  healthySince: Map<string, string>;
}

/**
 * Runs Application workflows one pass at a time: plan, run the steps that
 * are due through their definitions, record what they came to, and plan
 * again until nothing moves. An Application without a workflow runs
 * KubeVela's implicit `deploy` step, so every Application goes through here.
 * The caller persists the returned state and inventories.
 */
export class WorkflowExecutor {
  private readonly clients = new Map<string, KubeClient>();
  private readonly localCluster: string;
  private readonly definitions: DefinitionRegistry;

  constructor(private readonly options: WorkflowExecutorOptions) {
    this.localCluster = options.localCluster ?? 'local';
    this.definitions = options.definitions ?? builtinDefinitions();
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }

  /** The cluster's shared client, acting as the pass's user when it has one. */
  private client(
    cluster: ClusterConnectionConfig,
    scope: Pick<PassScope, 'user'>,
  ): KubeClient {
    let client = this.clients.get(cluster.name);
    if (!client) {
      client = (this.options.clientFor ?? KubeClient.fromCluster)(cluster);
      this.clients.set(cluster.name, client);
    }
    return scope.user ? client.asUser(scope.user) : client;
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  /** The state to run now: the same run, or a new one for a new spec (or a rollback's pinned revision). */
  private prepare(
    app: Application,
    previous: WorkflowState | undefined,
  ): { state: WorkflowState; app: Application } {
    const now = this.now().toISOString();
    const hash = applicationRevision(app);
    const toRun = applicationToRun(app, previous);
    if (toRun.pinnedRevisions) return { state: previous!, app: toRun.app };
    const revisions = [...(previous?.revisions ?? [])];
    // Without a workflow there is nothing to have failed for good: a failed
    // implicit deploy (a conflict, a rejected object) is tried again each pass.
    const implicitFailed =
      !app.spec.workflow?.steps.length &&
      flattenSteps(previous?.steps ?? []).some(s => s.phase === 'failed');
    if (previous && previous.hash === hash && !implicitFailed)
      return { state: previous, app };
    let record = revisions.find(r => r.hash === hash);
    if (!record) {
      const latest: WorkflowRevision | undefined =
        revisions[revisions.length - 1];
      record = {
        revision: (latest?.revision ?? 0) + 1,
        hash,
        createdAt: now,
        spec: structuredClone(app.spec),
      };
      revisions.push(record);
      revisions.splice(
        0,
        Math.max(0, revisions.length - (this.options.revisionLimit ?? 10)),
      );
    }
    return {
      app,
      state: {
        revision: record.revision,
        hash,
        startedAt: now,
        steps: initialSteps(workflowOf(app).steps),
        services: previous?.services,
        revisions,
        rollouts: previous?.rollouts,
      },
    };
  }

  /** One pass over an Application's workflow, from the state the last pass returned. */
  async run(
    live: Application,
    previous?: WorkflowState,
    input: WorkflowPassInput = {},
  ): Promise<WorkflowPassResult> {
    const scope = this.scopeOf(live, previous, input);
    const { app, state } = scope;
    const workflow = workflowOf(app);

    if (scope.project) await this.admit(scope, workflow.steps);

    const ran = new Set<WorkflowStep>();
    // Each round runs what is due; a round where nothing finishes ends the pass.
    for (let round = 0; round <= 2 * workflow.steps.length + 8; round++) {
      const now = this.now();
      const plan = planWorkflow(workflow, state.steps, now, {
        terminated: state.terminated,
      });
      state.steps = plan.steps;
      if (plan.run.length === 0) break;
      let finished = 0;
      for (const due of plan.run) {
        ran.add(due.step);
        const outcome = await this.runStep(scope, due.step);
        state.steps = recordOutcome(state.steps, due.path, outcome, this.now());
        if (outcome.phase !== 'running') finished++;
      }
      if (finished === 0) break;
    }

    const plan = planWorkflow(workflow, state.steps, this.now(), {
      terminated: state.terminated,
    });
    state.steps = plan.steps;
    if (plan.finished && !state.terminated) {
      await this.keepState(scope, workflow.steps, state.steps, ran);
      await this.pruneUntouchedClusters(scope);
    }
    // Components on a cluster the Application left are not its services any more.
    state.services = [...scope.services.values()].filter(
      s =>
        s.cluster === undefined ||
        scope.inventories[s.cluster] !== undefined ||
        scope.touched.has(s.cluster),
    );
    if (plan.finished && !state.finishedAt)
      state.finishedAt = this.now().toISOString();
    const mode = modeOf(workflow);
    const workflowStatus: WorkflowRunStatus = {
      appRevision: `${app.metadata.name}-v${state.revision}`,
      mode: `${mode.steps}-${mode.subSteps}`,
      suspend: plan.phase === 'workflowSuspending',
      terminated: state.terminated === true,
      finished: plan.finished,
      startTime: state.startedAt,
      steps: state.steps.map(stepStatus),
    };
    if (state.finishedAt) workflowStatus.endTime = state.finishedAt;
    // Past its workflow, an Application is as healthy as its components (KubeVela's phases).
    const phase: ApplicationPhase =
      plan.phase === 'running' && state.services.some(s => !s.healthy)
        ? 'unhealthy'
        : plan.phase;
    const failed = flattenSteps(state.steps).find(s => s.phase === 'failed');
    const result: WorkflowPassResult = {
      state,
      phase,
      inventories: scope.inventories,
      changes: scope.changes,
      drifted: scope.drifted,
      cloudDrift: scope.cloudDrift,
      writes: scope.writes,
      healthySince: Object.fromEntries(scope.healthySince),
      status: {
        status: phase,
        workflow: workflowStatus,
        services: state.services,
        appliedResources: appliedResourcesOf(scope.inventories),
      },
    };
    if (failed)
      result.failure = {
        step: failed.name,
        message: failed.message ?? `step "${failed.name}" failed`,
        reason: failed.reason,
      };
    else if (scope.keepFailure) result.failure = scope.keepFailure;
    return result;
  }

  /**
   * What the next pass would change on each cluster, found by server-side
   * dry-run and nothing written: every object the workflow's deploying
   * steps plan (checked against the project first, as a pass does), and
   * what would be pruned, the objects of clusters no step deploys to
   * included. A step type without `plan` is not seen.
   */
  async preview(
    live: Application,
    previous?: WorkflowState,
    input: Omit<WorkflowPassInput, 'beforeWrite'> = {},
  ): Promise<Array<{ cluster: string; result: ApplyResult }>> {
    const scope = this.scopeOf(live, previous, input);
    const { app } = scope;
    const byCluster = new Map<
      string,
      { cluster: ClusterConnectionConfig; objects: Map<string, KubeObject> }
    >();
    for await (const { target, objects } of this.planned(
      scope,
      workflowOf(app).steps,
    )) {
      await this.admitOnCluster(scope, target, objects);
      let entry = byCluster.get(target.cluster.name);
      if (!entry) {
        entry = { cluster: target.cluster, objects: new Map() };
        byCluster.set(target.cluster.name, entry);
      }
      // Two steps deploying the same object apply it in turn: the last one stays.
      for (const object of objects)
        entry.objects.set(objectKey(object), object);
    }
    for (const name of Object.keys(scope.inventories)) {
      const cluster = this.options.clusters.find(c => c.name === name);
      if (cluster && !byCluster.has(name))
        byCluster.set(name, { cluster, objects: new Map() });
    }
    const { prune, allowDrift, driftPaths } = deletionPolicy(app, undefined);
    const previews = [];
    for (const [name, { cluster, objects }] of byCluster) {
      const result = await applyObjects(
        this.client(cluster, scope),
        [...objects.values()],
        {
          owner: applicationOwner(app.metadata),
          inventory: scope.inventories[name] ?? [],
          prune,
          allowDrift,
          driftPaths,
          fieldManager: this.options.fieldManager,
          dryRun: true,
        },
      );
      previews.push({ cluster: name, result });
    }
    return previews;
  }

  /** The scope of one pass: the spec to run (a rollback's pinned one), its state and what it starts from. */
  private scopeOf(
    live: Application,
    previous: WorkflowState | undefined,
    input: WorkflowPassInput,
  ): PassScope {
    const prepared = this.prepare(live, previous);
    const app = prepared.app;
    const state: WorkflowState = structuredClone(prepared.state);
    // An abort is reported by the pass that made it, once.
    for (const rollout of state.rollouts ?? []) delete rollout.abortedAt;
    const running = state.revisions.find(r => r.revision === state.revision);
    const built = input.sourceRevisions ?? {};
    if (running && !state.rollback && Object.keys(built).length > 0)
      running.sources = { ...built };
    const components = new Set(app.spec.components.map(c => c.name));
    return {
      app,
      state,
      sources: input.sources,
      project: input.project,
      user: input.project && impersonatedUser(app, input.project),
      readLive: input.readLive ?? false,
      inventories: structuredClone(input.inventories ?? {}),
      services: new Map<string, ComponentStatus>(
        (state.services ?? [])
          .filter(s => components.has(s.name))
          .map(s => [serviceKey(s), s]),
      ),
      touched: new Set(),
      beforeWrite: input.beforeWrite,
      changes: [],
      drifted: [],
      cloudDrift: [],
      writes: 0,
      healthySince: new Map(),
    };
  }

  /**
   * Once the run is over, what its deploy and apply-component steps applied
   * is applied again each pass (zero writes when nothing changed), as
   * KubeVela keeps state: drift is taken back and health stays current. The
   * steps' phases no longer change.
   */
  private async keepState(
    scope: PassScope,
    steps: WorkflowStep[],
    states: StepState[],
    ran: ReadonlySet<WorkflowStep>,
  ): Promise<void> {
    const byName = new Map(states.map(s => [s.name, s]));
    for (const step of steps) {
      const current = byName.get(step.name);
      // A step that ran in this pass has just applied its objects.
      if (current?.phase !== 'succeeded' || ran.has(step)) continue;
      if (step.type === 'step-group') {
        await this.keepState(
          scope,
          step.subSteps ?? [],
          current.subSteps ?? [],
          ran,
        );
      } else if (step.type === 'deploy' || step.type === 'apply-component') {
        const outcome = await this.runStep(scope, step);
        // Its phase stays, but the pass failed: a cluster down, an object
        // refused. Recorded and retried, and the status says so.
        const failed =
          outcome.phase === 'failed' || outcome.reason === 'Retrying';
        if (failed && !scope.keepFailure)
          scope.keepFailure = {
            step: step.name,
            message:
              outcome.message ?? `step "${step.name}" could not apply again`,
            reason: outcome.phase === 'failed' ? outcome.reason : 'ApplyFailed',
          };
      }
    }
  }

  /**
   * A finished run owns only the clusters its steps deployed to: objects on a
   * cluster dropped from the topology (or left by an earlier mode of the
   * Application) are pruned, as the garbage-collect policy allows.
   */
  private async pruneUntouchedClusters(scope: PassScope): Promise<void> {
    const { prune } = deletionPolicy(scope.app, undefined);
    for (const [name, inventory] of Object.entries(scope.inventories)) {
      if (scope.touched.has(name) || prune === false) continue;
      const cluster = this.options.clusters.find(c => c.name === name);
      if (!cluster) continue; // not configured here: nothing to reach it with
      await scope.beforeWrite?.();
      const result = await applyObjects(this.client(cluster, scope), [], {
        owner: applicationOwner(scope.app.metadata),
        inventory,
        prune,
        fieldManager: this.options.fieldManager,
      });
      this.collect(scope, result);
      const kept = inventory.filter(
        e => !result.changes.some(c => refKey(c.ref) === refKey(e)),
      );
      if (kept.length > 0) scope.inventories[name] = kept;
      else delete scope.inventories[name];
    }
  }

  private collect(
    scope: PassScope,
    result: { changes: ObjectChange[]; drifted: ObjectRef[]; writes: number },
  ): void {
    scope.changes.push(...result.changes);
    scope.drifted.push(...result.drifted);
    scope.writes += result.writes;
  }

  /**
   * Checks everything the pass's steps would deploy against the project,
   * before any of them runs: one refused object on any cluster stops the
   * whole pass with a NotAllowedError, and nothing is applied.
   */
  private async admit(scope: PassScope, steps: WorkflowStep[]): Promise<void> {
    for await (const { target, objects } of this.planned(scope, steps))
      await this.admitOnCluster(scope, target, objects);
  }

  /** The objects each step (sub-steps included) plans to deploy, rendered per target. */
  private async *planned(
    scope: PassScope,
    steps: WorkflowStep[],
  ): AsyncGenerator<{ target: DeployTarget; objects: KubeObject[] }> {
    for (const step of steps) {
      if (step.subSteps?.length) yield* this.planned(scope, step.subSteps);
      const definition = this.definitions.getStepType(step.type);
      let deployments;
      try {
        deployments = definition?.plan?.(this.stepContext(scope, step)) ?? [];
      } catch (error) {
        // A step that cannot plan (a bad policy) fails when it runs, with its own message.
        if (error instanceof InputError) continue;
        throw error;
      }
      for (const { components, targets } of deployments) {
        for (const target of targets) {
          const objects = (await this.renderFor(scope, components, target))
            .objects;
          yield { target, objects };
        }
      }
    }
  }

  private async admitOnCluster(
    scope: PassScope,
    target: DeployTarget,
    objects: KubeObject[],
  ): Promise<void> {
    if (!scope.project) return;
    const client = this.client(target.cluster, scope);
    const namespaced = await namespacedKinds(client, objects);
    admitObjects({
      project: scope.project,
      cluster: target.cluster.name,
      objects,
      defaultNamespace: target.namespace ?? scope.app.metadata.namespace,
      namespaced: object => namespaced(object),
    });
  }

  private renderFor(
    scope: PassScope,
    components: ApplicationComponent[],
    target: DeployTarget,
  ): Promise<RenderedApplication> {
    const { app } = scope;
    return renderApplication(
      {
        ...app,
        metadata: {
          ...app.metadata,
          namespace: target.namespace ?? app.metadata.namespace,
        },
        spec: { ...app.spec, components },
      },
      { definitions: this.definitions, sources: scope.sources },
    );
  }

  private stepContext(scope: PassScope, step: WorkflowStep): StepContext {
    return {
      app: scope.app,
      step,
      where: `step "${step.name}"`,
      revision: scope.state.revision,
      steps: scope.state.steps,
      clusters: this.options.clusters,
      localCluster: this.localCluster,
      definitions: this.definitions,
      httpTimeoutMs: this.options.httpTimeoutMs ?? 10_000,
      deploy: (components, targets, owns) =>
        this.applyToCluster(scope, components, targets, owns),
      project: scope.project,
    };
  }

  private async runStep(
    scope: PassScope,
    step: WorkflowStep,
  ): Promise<StepOutcome> {
    const definition = this.definitions.getStepType(step.type);
    if (!definition?.run) {
      return {
        phase: 'failed',
        reason: 'UnknownStepType',
        message: `unknown step type "${step.type}" (known: ${this.definitions
          .listStepTypes()
          .join(', ')})`,
      };
    }
    const ctx = this.stepContext(scope, step);
    try {
      return await definition.run(ctx);
    } catch (error) {
      if (error instanceof PassStoppedError) throw error;
      const message = (error as Error).message;
      if (error instanceof RolloutAbortedError)
        return { phase: 'failed', reason: 'RolloutAborted', message };
      if (isPermanent(error))
        return { phase: 'failed', reason: failureReason(error), message };
      return { phase: 'running', reason: 'Retrying', message };
    }
  }

  /**
   * Lets component types that provision outside the cluster's objects (a
   * `terraform` component) take their next step, per target; their status
   * is what they answer (also added to `statuses`). Returns what is not
   * ready yet.
   */
  private async provision(
    scope: PassScope,
    components: ApplicationComponent[],
    targets: DeployTarget[],
    client: KubeClient,
    statuses: ComponentStatus[],
  ): Promise<string[]> {
    const waiting: string[] = [];
    for (const component of components) {
      const provision = this.definitions.getComponentType(
        component.type,
      )?.provision;
      if (!provision) continue;
      for (const target of targets) {
        const namespace = target.namespace ?? scope.app.metadata.namespace;
        const result = await provision({
          app: scope.app,
          component,
          path: componentPath(scope.app, component.name),
          cluster: target.cluster,
          namespace,
          client,
          project: scope.project,
        });
        const service: ComponentStatus = {
          name: component.name,
          namespace,
          cluster: target.cluster.name,
          healthy: result.ready,
          message: result.message,
        };
        scope.services.set(serviceKey(service), service);
        statuses.push(service);
        scope.cloudDrift.push(...(result.drifted ?? []));
        if (!result.ready)
          waiting.push(
            `${component.name} on ${target.cluster.name}: ${result.message}`,
          );
      }
    }
    return waiting;
  }

  /**
   * Undoes what a deleted Application's components provisioned outside the
   * cluster's objects (their types' `release`). Returns what is still
   * going, as sentences; empty when all is done.
   */
  async release(app: KubeObject): Promise<string[]> {
    const spec = isRecord(app.spec) ? app.spec : {};
    const components = (
      Array.isArray(spec.components) ? spec.components : []
    ).filter(isRecord);
    const going: string[] = [];
    for (const raw of components) {
      const component = {
        name: String(raw.name ?? ''),
        type: String(raw.type ?? ''),
        properties: isRecord(raw.properties) ? raw.properties : {},
      };
      const release = this.definitions.getComponentType(
        component.type,
      )?.release;
      if (!release) continue;
      const result = await release({
        app: {
          name: app.metadata.name,
          namespace: app.metadata.namespace ?? 'default',
        },
        component,
        cluster: name => {
          const config = this.options.clusters.find(c => c.name === name);
          return config && { config, client: this.client(config, {}) };
        },
      });
      if (!result.done) going.push(`${component.name}: ${result.message}`);
    }
    return going;
  }

  /**
   * Renders the components for each target on one cluster and applies them,
   * a `dependsOn` level at a time: the next level is applied only once the
   * ones before it are healthy. Objects of components outside this call (and
   * of levels not reached yet) are neither pruned nor forgotten. Returns what
   * is not healthy yet.
   */
  private async applyToCluster(
    scope: PassScope,
    components: ApplicationComponent[],
    targets: DeployTarget[],
    owns: 'all' | 'listed',
  ): Promise<string[]> {
    const { app } = scope;
    const cluster = targets[0].cluster;
    const client = this.client(cluster, scope);
    scope.touched.add(cluster.name);
    await scope.beforeWrite?.();
    const { prune, allowDrift, driftPaths } = deletionPolicy(app, undefined);
    const levels = componentLevels(components);
    const inScope = new Set(components.map(c => c.name));

    let waiting: string[] = [];
    const provisioned: ComponentStatus[] = [];
    for (let reached = 1; reached <= levels.length; reached++) {
      const applied = new Set(levels.slice(0, reached).flat());
      const deferred = new Set(levels.slice(reached).flat());
      const rendered: RenderedApplication[] = [];
      const rollouts = new ClusterRollouts(
        (scope.state.rollouts ??= []),
        cluster.name,
        {
          prometheusUrl: this.options.prometheusUrl,
          timeoutMs: this.options.httpTimeoutMs ?? 10_000,
          project: scope.project,
          now: () => this.now(),
        },
      );
      for (const target of targets) {
        const one = await this.renderFor(
          scope,
          components.filter(c => applied.has(c.name)),
          target,
        );
        rollouts.prepare(
          components,
          one.components,
          target.namespace ?? app.metadata.namespace,
        );
        // Checked again here: a step without `plan` is only seen when it deploys.
        await this.admitOnCluster(scope, target, one.objects);
        rendered.push(one);
      }
      const mine = (entry: InventoryEntry) =>
        (owns === 'all' ||
          (entry.component !== undefined && inScope.has(entry.component))) &&
        !deferred.has(entry.component ?? '');
      let result: ApplyResult;
      let rolloutWaiting: string[];
      // A rollout that steps on, switches, promotes or aborts is applied
      // again at once, so its traffic moves in this pass, not the next.
      for (let attempt = 1; ; attempt++) {
        const previous = scope.inventories[cluster.name] ?? [];
        result = await applyObjects(
          client,
          rendered.flatMap(r => r.objects),
          {
            owner: applicationOwner(app.metadata),
            inventory: previous,
            prune:
              typeof prune === 'function'
                ? entry => mine(entry) && prune(entry)
                : prune !== false && mine,
            allowDrift,
            driftPaths,
            fieldManager: this.options.fieldManager,
            // A pass acting as a project's ServiceAccount reads what it may read.
            cached:
              scope.user || scope.readLive
                ? undefined
                : ref => this.options.cachedObject?.(cluster.name, ref),
          },
        );
        this.collect(scope, result);
        const reapplied = new Set(result.inventory.map(refKey));
        scope.inventories[cluster.name] = [
          ...previous.filter(e => !mine(e) && !reapplied.has(refKey(e))),
          ...result.inventory,
        ];
        const progress = await rollouts.progress(result.live);
        rolloutWaiting = progress.waiting;
        if (!progress.reshaped || attempt >= 3) break;
        await scope.beforeWrite?.();
      }
      waiting = [...rolloutWaiting];
      for (const [index, r] of rendered.entries()) {
        const namespace = targets[index].namespace ?? app.metadata.namespace;
        for (const health of assessComponents(r.components, result.live)) {
          const service: ComponentStatus = {
            name: health.name,
            namespace,
            cluster: cluster.name,
            healthy: health.healthy,
            message: health.message,
            traits: health.traits,
          };
          scope.services.set(serviceKey(service), service);
          const since = scope.healthySince.get(health.name);
          if (health.healthySince && (!since || health.healthySince > since))
            scope.healthySince.set(health.name, health.healthySince);
          if (!health.healthy)
            waiting.push(
              `${health.name} on ${cluster.name}: ${health.message}`,
            );
        }
      }
      const aborted = rollouts.aborted();
      if (aborted) throw new RolloutAbortedError(aborted);
      // An earlier level's provisioned component renders no objects: its
      // status is what it answered, not the assessment of nothing.
      for (const service of provisioned)
        scope.services.set(serviceKey(service), service);
      waiting.push(
        ...(await this.provision(
          scope,
          components.filter(c => levels[reached - 1].includes(c.name)),
          targets,
          client,
          provisioned,
        )),
      );
      if (waiting.length > 0) break;
    }
    return waiting;
  }
}

/** A component's field path in the Application, for messages. */
function componentPath(app: Application, name: string): string {
  return `spec.components[${app.spec.components.findIndex(
    c => c.name === name,
  )}]`;
}

/**
 * Whether each kind of these objects is namespaced on the cluster, from its
 * discovery, or from a CRD in the same set. A kind the cluster does not know
 * counts as namespaced: applying it fails before any write anyway.
 */
async function namespacedKinds(
  client: KubeClient,
  objects: KubeObject[],
): Promise<(object: KubeObject) => boolean> {
  const kindKey = (object: KubeObject) =>
    `${groupOf(object.apiVersion)}/${object.kind}`;
  const fromCrds = new Map<string, boolean>();
  for (const object of objects) {
    if (object.kind !== 'CustomResourceDefinition') continue;
    const spec = object.spec as
      | { group?: string; scope?: string; names?: { kind?: string } }
      | undefined;
    fromCrds.set(
      `${spec?.group}/${spec?.names?.kind}`,
      spec?.scope !== 'Cluster',
    );
  }
  const known = new Map<string, boolean>();
  for (const object of objects) {
    const key = kindKey(object);
    if (known.has(key)) continue;
    try {
      known.set(key, (await client.resource(refOf(object))).namespaced);
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
      known.set(key, fromCrds.get(key) ?? true);
    }
  }
  return object => known.get(kindKey(object)) ?? true;
}

/** `status.appliedResources`: the inventory of every cluster, for `kubectl` users and as a fallback. */
export function appliedResourcesOf(
  inventories: Record<string, InventoryEntry[]>,
): NonNullable<ApplicationStatus['appliedResources']> {
  return Object.entries(inventories).flatMap(([cluster, entries]) =>
    entries.map(entry => {
      const resource: NonNullable<
        ApplicationStatus['appliedResources']
      >[number] = {
        apiVersion: apiVersionOf(entry),
        kind: entry.kind,
        name: entry.name,
        cluster,
      };
      if (entry.namespace) resource.namespace = entry.namespace;
      return resource;
    }),
  );
}

/** The inventories mirrored in `status.appliedResources`, for when the store has none (a lost database). */
export function inventoriesFromStatus(
  status: ApplicationStatus | undefined,
  defaultCluster: string,
): Record<string, InventoryEntry[]> {
  const out: Record<string, InventoryEntry[]> = {};
  for (const r of status?.appliedResources ?? []) {
    const cluster = r.cluster ?? defaultCluster;
    const slash = r.apiVersion.indexOf('/');
    // Without hashes, drift is corrected but not told apart from Git changes.
    const entry: InventoryEntry = {
      group: slash < 0 ? '' : r.apiVersion.slice(0, slash),
      version: r.apiVersion.slice(slash + 1),
      kind: r.kind,
      name: r.name,
      hash: '',
    };
    if (r.namespace) entry.namespace = r.namespace;
    (out[cluster] ??= []).push(entry);
  }
  return out;
}
