import { createHash } from 'node:crypto';
import { ConflictError, InputError, NotFoundError } from '@backstage/errors';
import type {
  ApplicationPhase,
  ComponentStatus,
  WorkflowStatus,
  WorkflowStepStatus,
} from '@gitops-workflow/plugin-gitops-common';
import { isRecord } from '../model/fields';
import { apiVersionOf, refKey } from '../model/objects';
import type {
  DefinitionRegistry,
  KustomizeSource,
} from '../render/definitions';
import {
  renderApplication,
  type RenderedApplication,
} from '../render/render';
import { assessComponents } from '../record/status';
import type {
  Application,
  ApplicationComponent,
  ApplicationStatus,
  WorkflowStep,
} from '../model/types';
import type { ClusterConnectionConfig } from '../clusters';
import { applyObjects, type InventoryEntry } from '../apply/apply';
import { KubeClient } from '../kube/client';
import { deletionPolicy } from '../pipeline/reconcile';
import { compareBytes } from '../sources/tagPolicy/policy';
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
import {
  applyOverrides,
  deployPolicies,
  resolveTopology,
  type DeployTarget,
} from './oamPolicies';
import type { StepState, WorkflowRevision, WorkflowState } from './types';

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
 * Starts a new run of an earlier revision's spec. It stays in force while
 * the Application's spec is the one rolled back from; a new spec runs again.
 */
export function rollbackTo(
  state: WorkflowState,
  revision: number,
  now: Date = new Date(),
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
    rollback: { revision, from: state.rollback?.from ?? state.hash },
  };
}

export interface WorkflowExecutorOptions {
  /** Every cluster topology policies may choose from (`gitops.clusters`). */
  clusters: ClusterConnectionConfig[];
  /** The cluster used without a topology policy and by `apply-component` without `cluster` (default `local`). */
  localCluster?: string;
  /** How to reach a cluster (default `KubeClient.fromCluster`); clients are kept until `close()`. */
  clientFor?: (cluster: ClusterConnectionConfig) => KubeClient;
  registry?: DefinitionRegistry;
  kustomizeSource?: KustomizeSource;
  fieldManager?: string;
  now?: () => Date;
  /** Revisions kept for rollback (default 10). */
  revisionLimit?: number;
  /** How long a notification may take (default 10 s). */
  notificationTimeoutMs?: number;
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
  error instanceof NotFoundError;

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

/**
 * Runs Application workflows one pass at a time: plan, run the steps that
 * are due (deploy, apply-component, notification; suspend and step-group are
 * planned), record what they came to, and plan again until nothing moves.
 * The caller persists the returned state and writes the status.
 */
export class WorkflowExecutor {
  private readonly clients = new Map<string, KubeClient>();
  private readonly localCluster: string;

  constructor(private readonly options: WorkflowExecutorOptions) {
    this.localCluster = options.localCluster ?? 'local';
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }

  private client(cluster: ClusterConnectionConfig): KubeClient {
    let client = this.clients.get(cluster.name);
    if (!client) {
      client = (this.options.clientFor ?? KubeClient.fromCluster)(cluster);
      this.clients.set(cluster.name, client);
    }
    return client;
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  /** The state to run now: the same run, or a new one for a new spec (or a rollback's revision). */
  private prepare(
    app: Application,
    previous: WorkflowState | undefined,
  ): { state: WorkflowState; app: Application } {
    const now = this.now().toISOString();
    const hash = applicationRevision(app);
    if (previous?.rollback && previous.rollback.from === hash) {
      const pinned = previous.revisions.find(
        r => r.revision === previous.rollback!.revision,
      );
      if (pinned)
        return {
          state: previous,
          app: { ...app, spec: structuredClone(pinned.spec) },
        };
    }
    const revisions = [...(previous?.revisions ?? [])];
    if (previous && previous.hash === hash && !previous.rollback)
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
        inventories: previous?.inventories ?? {},
        services: previous?.services,
        revisions,
      },
    };
  }

  /** One pass over an Application's workflow, from the state the last pass returned. */
  async run(
    live: Application,
    previous?: WorkflowState,
  ): Promise<WorkflowPassResult> {
    const prepared = this.prepare(live, previous);
    const app = prepared.app;
    const state: WorkflowState = structuredClone(prepared.state);
    const workflow = workflowOf(app);
    const components = new Set(app.spec.components.map(c => c.name));
    const services = new Map<string, ComponentStatus>(
      (state.services ?? [])
        .filter(s => components.has(s.name))
        .map(s => [serviceKey(s), s]),
    );

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
        const outcome = await this.runStep(app, due.step, state, services);
        state.steps = recordOutcome(state.steps, due.path, outcome, this.now());
        if (outcome.phase !== 'running') finished++;
      }
      if (finished === 0) break;
    }

    const plan = planWorkflow(workflow, state.steps, this.now(), {
      terminated: state.terminated,
    });
    state.steps = plan.steps;
    if (plan.finished && !state.terminated)
      await this.keepState(app, workflow.steps, state, services, ran);
    state.services = [...services.values()];
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
    return {
      state,
      phase,
      status: {
        status: phase,
        workflow: workflowStatus,
        services: state.services,
        appliedResources: Object.entries(state.inventories).flatMap(
          ([cluster, entries]) =>
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
        ),
      },
    };
  }

  /**
   * Once the run is over, what its deploy and apply-component steps applied
   * is applied again each pass (zero writes when nothing changed), as
   * KubeVela keeps state: drift is taken back and health stays current. The
   * steps' phases no longer change.
   */
  private async keepState(
    app: Application,
    steps: WorkflowStep[],
    state: WorkflowState,
    services: Map<string, ComponentStatus>,
    ran: ReadonlySet<WorkflowStep>,
  ): Promise<void> {
    const states = new Map(state.steps.map(s => [s.name, s]));
    for (const step of steps) {
      const current = states.get(step.name);
      // A step that ran in this pass has just applied its objects.
      if (current?.phase !== 'succeeded' || ran.has(step)) continue;
      if (step.type === 'step-group') {
        await this.keepState(
          app,
          step.subSteps ?? [],
          { ...state, steps: current.subSteps ?? [] },
          services,
          ran,
        );
      } else if (step.type === 'deploy' || step.type === 'apply-component') {
        await this.runStep(app, step, state, services);
      }
    }
  }

  private async runStep(
    app: Application,
    step: WorkflowStep,
    state: WorkflowState,
    services: Map<string, ComponentStatus>,
  ): Promise<StepOutcome> {
    try {
      switch (step.type) {
        case 'deploy':
          return await this.deploy(app, step, state, services);
        case 'apply-component':
          return await this.applyComponent(app, step, state, services);
        case 'notification':
          return await this.notify(app, step, state);
        default:
          return {
            phase: 'failed',
            reason: 'UnknownStepType',
            message: `unknown step type "${step.type}" (known: deploy, apply-component, suspend, notification, step-group)`,
          };
      }
    } catch (error) {
      const message = (error as Error).message;
      if (isPermanent(error))
        return { phase: 'failed', reason: 'ApplyFailed', message };
      return { phase: 'running', reason: 'Retrying', message };
    }
  }

  private async deploy(
    app: Application,
    step: WorkflowStep,
    state: WorkflowState,
    services: Map<string, ComponentStatus>,
  ): Promise<StepOutcome> {
    const where = `step "${step.name}"`;
    const names = step.properties.policies ?? [];
    if (!Array.isArray(names) || names.some(n => typeof n !== 'string'))
      throw new InputError(
        `${where}: properties.policies must list policy names`,
      );
    let targets: DeployTarget[];
    let components: ApplicationComponent[];
    try {
      const policies = deployPolicies(app, names as string[], where);
      targets = resolveTopology(
        policies.topology,
        this.options.clusters,
        this.localCluster,
      );
      components = applyOverrides(
        app.spec.components,
        policies.override,
        this.options.registry,
      );
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      return {
        phase: 'failed',
        reason: 'PolicyFailed',
        message: error.message,
      };
    }
    const parallelism = Number(step.properties.parallelism ?? 5);
    if (!Number.isInteger(parallelism) || parallelism < 1)
      throw new InputError(
        `${where}: properties.parallelism must be a positive integer`,
      );
    const byCluster = new Map<string, DeployTarget[]>();
    for (const target of targets) {
      byCluster.set(target.cluster.name, [
        ...(byCluster.get(target.cluster.name) ?? []),
        target,
      ]);
    }
    const groups = [...byCluster.values()];
    const waiting: string[] = [];
    for (let i = 0; i < groups.length; i += parallelism) {
      const results = await Promise.all(
        groups
          .slice(i, i + parallelism)
          .map(group =>
            this.applyToCluster(app, components, group, state, services),
          ),
      );
      waiting.push(...results.flat());
    }
    const clusters = [...byCluster.keys()].join(', ');
    return waiting.length > 0
      ? { phase: 'running', message: `waiting for ${waiting.join('; ')}` }
      : { phase: 'succeeded', message: `healthy on ${clusters}` };
  }

  private async applyComponent(
    app: Application,
    step: WorkflowStep,
    state: WorkflowState,
    services: Map<string, ComponentStatus>,
  ): Promise<StepOutcome> {
    const {
      component: name,
      cluster: clusterName,
      namespace,
    } = step.properties;
    const component = app.spec.components.find(c => c.name === name);
    if (!component)
      throw new InputError(
        `step "${
          step.name
        }": properties.component names no component of the Application ("${String(
          name,
        )}")`,
      );
    const wanted =
      typeof clusterName === 'string' ? clusterName : this.localCluster;
    const cluster = this.options.clusters.find(c => c.name === wanted);
    if (!cluster)
      throw new InputError(
        `step "${step.name}": cluster "${wanted}" is not configured`,
      );
    const target: DeployTarget = { cluster };
    if (typeof namespace === 'string') target.namespace = namespace;
    const waiting = await this.applyToCluster(
      app,
      [component],
      [target],
      state,
      services,
    );
    return waiting.length > 0
      ? { phase: 'running', message: `waiting for ${waiting.join('; ')}` }
      : { phase: 'succeeded', message: `healthy on ${cluster.name}` };
  }

  /**
   * Renders the components for each target on one cluster and applies them,
   * a `dependsOn` level at a time: the next level is applied only once the
   * ones before it are healthy. Objects of components outside this call (and
   * of levels not reached yet) are neither pruned nor forgotten. Returns what
   * is not healthy yet.
   */
  private async applyToCluster(
    app: Application,
    components: ApplicationComponent[],
    targets: DeployTarget[],
    state: WorkflowState,
    services: Map<string, ComponentStatus>,
  ): Promise<string[]> {
    const cluster = targets[0].cluster;
    const client = this.client(cluster);
    const { prune, allowDrift, driftPaths } = deletionPolicy(app, undefined);
    const levels = componentLevels(components);
    // apply-component touches only its own component's objects; a deploy owns
    // every component's, those of components gone from the spec included.
    const partial = components.length < app.spec.components.length;
    const inScope = new Set(components.map(c => c.name));

    let waiting: string[] = [];
    for (let reached = 1; reached <= levels.length; reached++) {
      const applied = new Set(levels.slice(0, reached).flat());
      const deferred = new Set(levels.slice(reached).flat());
      const rendered: RenderedApplication[] = [];
      for (const target of targets) {
        rendered.push(
          await renderApplication(
            {
              ...app,
              metadata: {
                ...app.metadata,
                namespace: target.namespace ?? app.metadata.namespace,
              },
              spec: {
                ...app.spec,
                components: components.filter(c => applied.has(c.name)),
              },
            },
            {
              registry: this.options.registry,
              kustomizeSource: this.options.kustomizeSource,
            },
          ),
        );
      }
      const previous = state.inventories[cluster.name] ?? [];
      const mine = (entry: InventoryEntry) =>
        (!partial ||
          (entry.component !== undefined && inScope.has(entry.component))) &&
        !deferred.has(entry.component ?? '');
      const result = await applyObjects(
        client,
        rendered.flatMap(r => r.objects),
        {
          owner: app.metadata,
          inventory: previous,
          prune:
            typeof prune === 'function'
              ? entry => mine(entry) && prune(entry)
              : prune !== false && mine,
          allowDrift,
          driftPaths,
          fieldManager: this.options.fieldManager,
        },
      );
      const reapplied = new Set(result.inventory.map(refKey));
      state.inventories[cluster.name] = [
        ...previous.filter(e => !mine(e) && !reapplied.has(refKey(e))),
        ...result.inventory,
      ];
      waiting = [];
      for (const [index, r] of rendered.entries()) {
        const namespace = targets[index].namespace ?? app.metadata.namespace;
        for (const health of assessComponents(r, result.live)) {
          const service: ComponentStatus = {
            name: health.name,
            namespace,
            cluster: cluster.name,
            healthy: health.healthy,
            message: health.message,
            traits: health.traits,
          };
          services.set(serviceKey(service), service);
          if (!health.healthy)
            waiting.push(
              `${health.name} on ${cluster.name}: ${health.message}`,
            );
        }
      }
      if (waiting.length > 0) break;
    }
    return waiting;
  }

  private async notify(
    app: Application,
    step: WorkflowStep,
    state: WorkflowState,
  ): Promise<StepOutcome> {
    const where = `step "${step.name}"`;
    const props = step.properties;
    const channel =
      (isRecord(props.webhook) && props.webhook) ||
      (isRecord(props.slack) && props.slack) ||
      undefined;
    if (!channel)
      throw new InputError(
        `${where}: properties.webhook.url (or slack.url) is required`,
      );
    const rawUrl = isRecord(channel.url) ? channel.url.value : channel.url;
    if (typeof rawUrl !== 'string')
      throw new InputError(
        `${where}: the webhook url must be a string or { value: string } (secretRef is not supported yet)`,
      );
    let url: URL;
    try {
      url = new URL(rawUrl);
    } catch {
      // The URL itself stays out of the message: webhook URLs often embed a token.
      throw new InputError(`${where}: the webhook url is not a valid URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new InputError(`${where}: the webhook url must be http(s)`);
    const message = channel.message ?? props.message;
    const summary = state.steps
      .filter(s => s.name !== step.name)
      .map(s => `${s.name}: ${s.phase}${s.reason ? ` (${s.reason})` : ''}`)
      .join(', ');
    const body = isRecord(message)
      ? message
      : {
          text:
            typeof message === 'string'
              ? message
              : `Application ${app.metadata.namespace}/${app.metadata.name} revision ${state.revision}: ${summary}`,
        };
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(this.options.notificationTimeoutMs ?? 10_000),
    }).catch(error => {
      throw new Error(
        `${where}: the webhook could not be reached (${
          (error as Error).name === 'TimeoutError'
            ? 'timed out'
            : (error as { cause?: { code?: string } }).cause?.code ??
              'network error'
        })`,
      );
    });
    await response.body?.cancel();
    if (response.status >= 200 && response.status < 300)
      return {
        phase: 'succeeded',
        message: `delivered (HTTP ${response.status})`,
      };
    // A busy or broken receiver may recover: retried until the step's timeout.
    return {
      phase:
        response.status >= 500 || response.status === 429
          ? 'running'
          : 'failed',
      reason: 'NotificationFailed',
      message: `the webhook answered HTTP ${response.status}`,
    };
  }
}
