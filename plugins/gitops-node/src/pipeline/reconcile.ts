import { isError, NotAllowedError } from '@backstage/errors';
import type { ImageHold } from '@gitops-workflow/plugin-gitops-common';
import {
  stableStringify,
  type InventoryEntry,
  type ObjectChange,
} from '../apply/apply';
import {
  addFinalizer,
  finalizersOf,
  isDeleting,
  writeApplicationStatus,
} from '../applications/applications';
import type { DefinitionRegistry } from '../definitions/registry';
import type { KubeClient } from '../kube/client';
import { describeRef, type KubeObject, type ObjectRef } from '../kube/objects';
import { kustomizeComponents } from '../model/kustomize';
import { projectFor, type Project } from '../model/project';
import {
  GITOPS_FINALIZER,
  ORPHAN_FINALIZER,
  type Application,
  type ApplicationStatus,
} from '../model/types';
import {
  computeApplicationStatus,
  type ReconcileFailure,
} from '../record/status';
import { parseApplication } from '../render/parse';
import { renderApplication } from '../render/render';
import {
  emptyPreparedSources,
  holdsWithPicks,
  type PreparedSources,
} from '../sources/prepare';
import {
  collectApplication,
  describeLeft,
  type ClusterObjectLeft,
} from '../workflow/collect';
import {
  appliedResourcesOf,
  applicationToRun,
  inventoriesFromStatus,
  type WorkflowExecutor,
} from '../workflow/execute';
import type { WorkflowState } from '../workflow/types';
import { PassStoppedError } from '../workflow/errors';

export { PassStoppedError };

/**
 * What keeps a pass from writing once it should not: the scheduler's abort
 * (its lease ran out, the backend stops) and a check that it still holds its
 * shard, made before every write. A fence that fails throws; the pass stops
 * where it is, having written nothing more.
 */
export interface PassFence {
  signal: AbortSignal;
  /** Throws a `PassStoppedError` when this replica no longer holds the Application's shard. */
  check(): Promise<void>;
}

export interface PipelineContext {
  /** The cluster the Application lives in: its Secrets are read and its status written there. */
  home: { name: string; client: KubeClient };
  /** Runs the workflow (explicit, or KubeVela's implicit deploy) on every target cluster. */
  executor: WorkflowExecutor;
  definitions?: DefinitionRegistry;
  /**
   * The sources stage: fills in what Git-backed components need (usually
   * `prepareSources` with Git and the image scanner). Without it, an
   * Application with such components stops at this stage.
   */
  sources?: (
    app: Application,
    into: PreparedSources,
    project: Project,
    /**
     * Set while a rolled-back revision is pinned: build each component at
     * this revision (`branch@sha1:<sha>`) and commit nothing.
     */
    pinnedRevisions?: Record<string, string>,
  ) => Promise<void>;
  /**
   * The configured projects (`gitops.projects`). An Application in none of
   * them gets the default project: its own namespace on the home cluster,
   * no cluster-scoped kinds, only its own Secrets.
   */
  projects?: Project[];
  /** The workflow state the last pass left (the store's). */
  workflow?: WorkflowState;
  /** The components' image holds (the store's), for the status; the sources stage adds what it would pick. */
  imageHolds?: ImageHold[];
  /**
   * What is applied on each cluster (the store's); without it, the copy in
   * the Application's `status.appliedResources` (a lost database still prunes).
   */
  inventories?: Record<string, InventoryEntry[]>;
  fieldManager?: string;
  /** Checked before each write stage; absent: nothing stops the pass but its own errors. */
  fence?: PassFence;
  /** Someone asked for this pass (Sync now): objects are read live, not from a watch cache. */
  readLive?: boolean;
  /** Write the computed status through the status subresource (default true). */
  writeStatus?: boolean;
  /**
   * A client for a configured cluster by name (undefined for one this
   * backend does not know): a deleted Application's objects are collected
   * through it.
   */
  clientFor?: (cluster: string) => KubeClient | undefined;
  /** How long a deletion waits for deleted objects to be gone before reporting them (default 1 s). */
  deleteWaitMs?: number;
}

interface OutcomeBase {
  /** The status written (or that would be). */
  status: ApplicationStatus;
  /** What the sources stage did: revisions, bot commits, warnings. */
  sources: PreparedSources;
  application?: Application;
}

/** The pass stopped before anything was applied: the cluster and the stored state stay as they were. */
export interface NotDeployedOutcome extends OutcomeBase {
  kind: 'notDeployed';
  failure: ReconcileFailure;
}

/** The workflow ran: persist its state and inventories. */
export interface DeployedOutcome extends OutcomeBase {
  kind: 'deployed';
  application: Application;
  workflow: WorkflowState;
  inventories: Record<string, InventoryEntry[]>;
  changes: ObjectChange[];
  drifted: ObjectRef[];
  /** Provisioned components (`terraform`) found changed outside Git, with what changed. */
  cloudDrift: string[];
  writes: number;
  /** The Application runs and every component is healthy. */
  healthy: boolean;
  /** Per healthy component assessed: when its objects last became ready, as they record it (ISO 8601). */
  healthySince: Record<string, string>;
  /** A step failed (an apply refused, a notification rejected). */
  failure?: ReconcileFailure;
}

interface CollectionBase extends OutcomeBase {
  /** Objects left on purpose (keep rules, the orphan marker, another owner), and why. */
  kept: ClusterObjectLeft[];
  changes: ObjectChange[];
  writes: number;
}

/** The Application is being deleted and some of its objects are still there: try again soon. */
export interface CollectingOutcome extends CollectionBase {
  kind: 'collecting';
  /** What is still to delete, by cluster: the inventory to keep. */
  inventories: Record<string, InventoryEntry[]>;
  remaining: ClusterObjectLeft[];
}

/**
 * The Application's objects are gone (or kept on purpose): drop its rows,
 * then remove the finalizers so the API server deletes it.
 */
export interface CollectedOutcome extends CollectionBase {
  kind: 'collected';
}

/** What one pass of the pipeline came to. */
export type ReconcileOutcome =
  | NotDeployedOutcome
  | DeployedOutcome
  | CollectingOutcome
  | CollectedOutcome;

const messageOf = (error: unknown) =>
  isError(error) ? error.message : String(error);

/**
 * One pass of one Application through the pipeline:
 * parse → sources (once) → render → workflow (apply + assess per step and
 * cluster) → status. A stage that fails stops the pass there; the status
 * says which stage and why, and what was applied before stays in force.
 */
export async function runPipeline(
  object: KubeObject,
  context: PipelineContext,
): Promise<ReconcileOutcome> {
  const { home } = context;
  const meta = {
    name: object.metadata.name,
    namespace: object.metadata.namespace ?? 'default',
    generation: object.metadata.generation as number | undefined,
  };
  const previous = object.status as ApplicationStatus | undefined;
  const sources = emptyPreparedSources();
  const fenced = async () => {
    if (context.fence?.signal.aborted)
      throw new PassStoppedError(
        `the pass was stopped before writing: ${messageOf(
          context.fence.signal.reason,
        )}`,
      );
    await context.fence?.check();
  };
  const write = async (status: ApplicationStatus) => {
    // An unchanged status is not written: a quiet poll makes no write at all.
    if (
      (context.writeStatus ?? true) &&
      stableStringify(status) !== stableStringify(previous ?? {})
    ) {
      // What this pass applied is reported while the shard is still ours,
      // even past the deadline (which only stops new work).
      await context.fence?.check();
      await writeApplicationStatus(
        home.client,
        { metadata: meta },
        status,
        context.fieldManager,
      );
    }
  };
  const stop = async (
    stage: ReconcileFailure['stage'],
    error: unknown,
    application?: Application,
    reason?: string,
  ): Promise<NotDeployedOutcome> => {
    const failure: ReconcileFailure = { stage, message: messageOf(error) };
    if (reason) failure.reason = reason;
    const status = computeApplicationStatus({
      app: { metadata: meta },
      failure,
      previous,
      cluster: home.name,
      imageHolds: holdsWithPicks(context.imageHolds ?? [], sources),
    });
    if (previous?.workflow) status.workflow = previous.workflow;
    await write(status);
    return { kind: 'notDeployed', failure, status, sources, application };
  };

  if (isDeleting(object)) return collect(object, context, write);

  let app: Application;
  try {
    app = parseApplication(object, { definitions: context.definitions });
  } catch (error) {
    return stop('parse', error);
  }
  const project = projectFor(app, context.projects ?? [], home.name);
  // A pinned rollback deploys its revision's spec, built at the commits it ran.
  const { app: deployed, pinnedRevisions } = applicationToRun(
    app,
    context.workflow,
  );
  if (kustomizeComponents(deployed.spec.components).length > 0) {
    try {
      if (!context.sources)
        throw new Error('no Git source is configured for kustomize components');
      await fenced(); // the bot may push to Git in this stage
      await context.sources(deployed, sources, project, pinnedRevisions);
    } catch (error) {
      if (error instanceof PassStoppedError) throw error;
      return stop('sources', error, app);
    }
  }
  try {
    // Rendered again per target by the workflow; this catches a broken
    // Application before any step runs.
    await renderApplication(deployed, {
      definitions: context.definitions,
      sources: sources.manifests,
    });
  } catch (error) {
    return stop('render', error, app);
  }
  try {
    // Before anything is applied: from here on, deleting the Application
    // waits until what it deployed is collected.
    await addFinalizer(
      home.client,
      object,
      GITOPS_FINALIZER,
      context.fieldManager,
    );
  } catch (error) {
    return stop(
      'apply',
      new Error(
        `Could not add the finalizer ${GITOPS_FINALIZER}, so nothing was applied: ${messageOf(
          error,
        )}`,
      ),
      app,
    );
  }
  let pass;
  try {
    pass = await context.executor.run(app, context.workflow, {
      sources: sources.manifests,
      inventories:
        context.inventories ?? inventoriesFromStatus(previous, home.name),
      project,
      beforeWrite: fenced,
      sourceRevisions: sources.revisions,
      readLive: context.readLive,
    });
  } catch (error) {
    if (error instanceof PassStoppedError) throw error;
    // The project refused an object: nothing of the pass was applied.
    if (error instanceof NotAllowedError)
      return stop('apply', error, app, 'Forbidden');
    // An invalid workflow (unknown policy, cycle, bad duration) runs nothing.
    return stop('render', error, app);
  }
  const failure: ReconcileFailure | undefined =
    pass.failure &&
    (pass.failure.reason === 'Conflict' ||
      pass.failure.reason === 'Forbidden' ||
      pass.failure.reason === 'ApplyFailed')
      ? {
          stage: 'apply',
          message: pass.failure.message,
          reason:
            pass.failure.reason === 'ApplyFailed'
              ? undefined
              : pass.failure.reason,
        }
      : undefined;
  const status = computeApplicationStatus({
    app,
    cluster: home.name,
    workflowPhase: pass.phase,
    workflow: pass.status.workflow,
    services: pass.status.services,
    applied: {
      resources: pass.status.appliedResources ?? [],
      drifted: [...pass.drifted.map(describeRef), ...pass.cloudDrift],
    },
    failure,
    previous,
    warnings: sources.warnings,
    imageHolds: holdsWithPicks(context.imageHolds ?? [], sources),
    readySince: Object.values(pass.healthySince).sort().at(-1),
  });
  // The workflow's own phase stands even when a step's failure shaped the conditions.
  status.status = pass.phase;
  await write(status);
  const outcome: DeployedOutcome = {
    kind: 'deployed',
    status,
    sources,
    application: app,
    workflow: pass.state,
    inventories: pass.inventories,
    changes: pass.changes,
    drifted: pass.drifted,
    cloudDrift: pass.cloudDrift,
    writes: pass.writes,
    healthy: pass.phase === 'running',
    healthySince: pass.healthySince,
  };
  if (pass.failure)
    outcome.failure = failure ?? {
      stage: 'apply',
      message: pass.failure.message,
      reason: pass.failure.reason,
    };
  return outcome;
}

/**
 * The deletion stage of a deleted Application: collect what it deployed on
 * every cluster and say what is left. Its status (phase `deleting`) names
 * each object still there and why, and `appliedResources` shrinks to them.
 */
async function collect(
  object: KubeObject,
  context: PipelineContext,
  write: (status: ApplicationStatus) => Promise<void>,
): Promise<CollectingOutcome | CollectedOutcome> {
  const previous = object.status as ApplicationStatus | undefined;
  const inventories =
    context.inventories ?? inventoriesFromStatus(previous, context.home.name);
  const orphan = finalizersOf(object).includes(ORPHAN_FINALIZER);
  // What components provisioned outside the cluster (a database) goes
  // first, while the objects that use it and their Secrets still exist.
  const releasing = orphan ? [] : await context.executor.release(object);
  if (releasing.length > 0) {
    const status: ApplicationStatus = {
      ...previous,
      status: 'deleting',
      conditions: [
        ...(previous?.conditions ?? []).filter(c => c.type !== 'Deleted'),
        deletedCondition(previous, `Deleting: ${releasing.join('; ')}`),
      ],
    };
    await write(status);
    return {
      kind: 'collecting',
      sources: emptyPreparedSources(),
      kept: [],
      changes: [],
      writes: 0,
      status,
      inventories,
      remaining: [],
    };
  }
  const result = await collectApplication({
    app: object,
    inventories,
    orphan,
    clientFor: name =>
      name === context.home.name
        ? context.home.client
        : context.clientFor?.(name),
    waitMs: context.deleteWaitMs,
  });
  const kept = result.kept.length
    ? ` Kept: ${result.kept.map(describeLeft).join('; ')}.`
    : '';
  const base = {
    sources: emptyPreparedSources(),
    kept: result.kept,
    changes: result.changes,
    writes: result.writes,
  };
  if (result.remaining.length === 0) {
    return {
      kind: 'collected',
      ...base,
      status: {
        ...previous,
        status: 'deleting',
        appliedResources: [],
      },
    };
  }
  const message = `Deleting: ${result.remaining.length} object${
    result.remaining.length === 1 ? '' : 's'
  } left: ${result.remaining.map(describeLeft).join('; ')}.${kept}`;
  const status: ApplicationStatus = {
    ...previous,
    status: 'deleting',
    appliedResources: appliedResourcesOf(result.inventories),
    conditions: [
      ...(previous?.conditions ?? []).filter(c => c.type !== 'Deleted'),
      deletedCondition(previous, message),
    ],
  };
  await write(status);
  return {
    kind: 'collecting',
    ...base,
    status,
    inventories: result.inventories,
    remaining: result.remaining,
  };
}

/** The `Deleted` condition of a deletion still going, since when it started. */
function deletedCondition(
  previous: ApplicationStatus | undefined,
  message: string,
): NonNullable<ApplicationStatus['conditions']>[number] {
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  return {
    type: 'Deleted',
    status: 'False',
    reason: 'Deleting',
    message,
    lastTransitionTime:
      previous?.conditions?.find(c => c.type === 'Deleted')
        ?.lastTransitionTime ?? now,
  };
}
