import type {
  ApplicationCondition,
  ApplicationPhase,
  ComponentStatus,
  ImageHold,
} from '@gitops-workflow/plugin-gitops-common';
import { worstHealth, type ObjectHealth } from '../assess/health';
import type { ComponentHealth } from '../assess/components';
import type { Application, ApplicationStatus } from '../model/types';
import type { WorkflowRunStatus } from '../workflow/execute';

type AppliedResource = NonNullable<
  ApplicationStatus['appliedResources']
>[number];

/** Where a reconcile stopped, if it did not get through. */
export interface ReconcileFailure {
  stage: 'parse' | 'sources' | 'render' | 'apply';
  message: string;
  /** e.g. `Conflict` when another Application owns an object. */
  reason?: string;
}

export interface StatusInput {
  app: Pick<Application, 'metadata'> & { spec?: Application['spec'] };
  /** Cluster name for `services[].cluster` (KubeVela writes `local` for its own). */
  cluster?: string;
  failure?: ReconcileFailure;
  components?: ComponentHealth[];
  /** Each component on each cluster, when the workflow knows them (else from `components`). */
  services?: ComponentStatus[];
  /** What the apply stage left in the clusters, and what it found edited outside Git. */
  applied?: { resources: AppliedResource[]; drifted: string[] };
  /** A workflow engine's own phase (suspended, terminated…) wins over the health-derived one. */
  workflowPhase?: ApplicationPhase;
  /** KubeVela's `status.workflow`. */
  workflow?: WorkflowRunStatus;
  /**
   * What the sources stage could not do but the pass went on without (the
   * registry failing, so the last good tag stays): a `Warning` condition.
   */
  warnings?: string[];
  /** The status as last written, so unchanged conditions keep their transition time. */
  previous?: ApplicationStatus;
  /** Components whose image automation is held: `status.imageHolds`, for `gitops status` and kubectl. */
  imageHolds?: ImageHold[];
  /**
   * When the components' objects last became ready, as they record it (a
   * Deployment's completed rollout): the `Ready` condition turning True
   * takes this time, not the later moment a pass saw it.
   */
  readySince?: string;
  now?: Date;
}

// Fetching and building the sources is part of rendering, in KubeVela's words.
const FAILURE_REASONS = {
  parse: 'ParseFailed',
  sources: 'RenderFailed',
  render: 'RenderFailed',
  apply: 'ApplyFailed',
} as const;
const STAGE_CONDITIONS = {
  parse: 'Parsed',
  sources: 'Render',
  render: 'Render',
  apply: 'Applied',
} as const;

/** A workflow reports health as yes/no; its phase tells failing from still rolling out. */
function serviceHealth(
  healthy: boolean,
  phase: ApplicationPhase | undefined,
): ObjectHealth['status'] {
  if (healthy) return 'Current';
  return phase === 'unhealthy' ? 'Failed' : 'InProgress';
}

/**
 * The Application's `status` in KubeVela's shape: phase, `services[]` and
 * conditions whose reasons say what to do.
 */
export function computeApplicationStatus(
  input: StatusInput,
): ApplicationStatus {
  const now = (input.now ?? new Date()).toISOString().replace(/\.\d+Z$/, 'Z');
  const previous = new Map(
    (input.previous?.conditions ?? []).map(c => [c.type, c]),
  );
  const condition = (
    type: string,
    ok: boolean,
    reason: string,
    message = '',
    /** When it really changed, if before the pass that sees it. */
    since?: string,
  ): ApplicationCondition => {
    const status = ok ? 'True' : 'False';
    const before = previous.get(type);
    const unchanged =
      before && before.status === status && before.reason === reason;
    const kept = unchanged ? before.lastTransitionTime : undefined;
    let changedAt = kept ?? now;
    const at = since?.replace(/\.\d+Z$/, 'Z');
    // Never before the transition it follows, never after now. Later than a
    // kept time, it went through a change no pass saw (a rollout between two
    // passes, or a status read before the last write): it changed then.
    if (
      at &&
      at < now &&
      (!before?.lastTransitionTime ||
        (kept ? at > kept : at >= before.lastTransitionTime))
    )
      changedAt = at;
    return { type, status, reason, message, lastTransitionTime: changedAt };
  };

  const conditions: ApplicationCondition[] = [];
  const failure = input.failure;
  const stages = ['parse', 'render', 'apply'] as const;
  const failedStage = failure?.stage === 'sources' ? 'render' : failure?.stage;
  for (const stage of stages) {
    if (failure && failedStage === stage) {
      conditions.push(
        condition(
          STAGE_CONDITIONS[stage],
          false,
          failure.reason ?? FAILURE_REASONS[stage],
          failure.message,
        ),
      );
      break;
    }
    if (stage === 'apply') {
      const drifted = input.applied?.drifted ?? [];
      conditions.push(
        drifted.length > 0
          ? condition(
              'Applied',
              true,
              'DriftCorrected',
              `Changed outside Git and restored: ${drifted.join(', ')}`,
            )
          : condition('Applied', true, 'Available'),
      );
    } else {
      conditions.push(condition(STAGE_CONDITIONS[stage], true, 'Available'));
    }
  }

  const components = input.components ?? [];
  const cluster = input.cluster ?? 'local';
  const services: ComponentStatus[] =
    input.services ??
    components.map(c => ({
      name: c.name,
      namespace: input.app.metadata.namespace,
      cluster,
      healthy: c.healthy,
      message: c.message,
      traits: c.traits,
    }));

  let phase: ApplicationPhase;
  if (failure) {
    phase = failure.stage === 'apply' ? 'workflowFailed' : 'rendering';
  } else {
    const healths = input.components
      ? components.map(c => ({
          status: c.status,
          message: `${c.name}: ${c.message}`,
        }))
      : services.map(s => ({
          status: serviceHealth(s.healthy, input.workflowPhase),
          message: `${s.name}: ${s.message ?? ''}`,
        }));
    const worst = worstHealth(healths);
    if (worst.status === 'Current') {
      conditions.push(
        condition('Ready', true, 'Available', '', input.readySince),
      );
      phase = 'running';
    } else if (worst.status === 'InProgress' || worst.status === 'Unknown') {
      conditions.push(condition('Ready', false, 'Progressing', worst.message));
      phase = 'runningWorkflow';
    } else {
      conditions.push(condition('Ready', false, 'Unhealthy', worst.message));
      phase = 'unhealthy';
    }
  }
  if (input.workflowPhase) phase = input.workflowPhase;
  if (input.warnings?.length)
    conditions.push(
      condition('Warning', true, 'SourceWarnings', input.warnings.join('; ')),
    );
  const rolledBack = (input.imageHolds ?? []).filter(h => h.automatic);
  if (rolledBack.length)
    conditions.push(
      condition(
        'ImageRollback',
        true,
        'AutomaticRollback',
        rolledBack
          .map(
            h =>
              `${h.component}: ${
                h.failedTag
              } was rolled back automatically to ${h.tag}: ${
                h.reason ?? 'its rollout failed'
              }. Its image automation holds ${
                h.tag
              } until a person releases the hold`,
          )
          .join('; '),
      ),
    );

  const status: ApplicationStatus = { status: phase, services, conditions };
  if (input.workflow) status.workflow = input.workflow;
  if (input.applied) {
    status.appliedResources = input.applied.resources;
  } else if (input.previous?.appliedResources) {
    // A failed reconcile changed nothing in the cluster: what was applied still is.
    status.appliedResources = input.previous.appliedResources;
  }
  if (input.imageHolds?.length)
    status.imageHolds = input.imageHolds.map(hold =>
      Object.fromEntries(
        Object.entries(hold).filter(([, value]) => value !== undefined),
      ),
    );
  if (input.app.metadata.generation !== undefined) {
    status.observedGeneration = input.app.metadata.generation;
  }
  return status;
}
