import type {
  ApplicationPhase,
  ComponentStatus,
} from '@gitops-workflow/plugin-gitops-common';
import type { Application } from '../model/types';
import type { RolloutState } from '../rollout/progress';

/** A step's phase, in KubeVela's words. */
export type StepPhase =
  | 'pending'
  | 'running'
  | 'succeeded'
  | 'failed'
  | 'skipped'
  | 'suspending';

/** What the workflow knows about one step; persisted between reconciles. */
export interface StepState {
  name: string;
  type: string;
  phase: StepPhase;
  /** When the step first ran (KubeVela's `firstExecuteTime`), ISO 8601. */
  startedAt?: string;
  /** When it last ran (KubeVela's `lastExecuteTime`). */
  lastExecuteTime?: string;
  finishedAt?: string;
  message?: string;
  /** Why it ended as it did: `Timeout`, `Skip`, `ApplyFailed`, `Terminate`… */
  reason?: string;
  subSteps?: StepState[];
}

/** One numbered revision: a distinct Application spec, kept so it can be deployed again. */
export interface WorkflowRevision {
  revision: number;
  hash: string;
  createdAt: string;
  spec: Application['spec'];
  /**
   * `branch@sha1:<sha>` of each Git-backed component as this revision last
   * ran it (refreshed every pass it runs unpinned), so that rolling back to
   * it builds the same content, not what the branch holds now.
   */
  sources?: Record<string, string>;
}

/** A rollback to a revision, in force until a person releases it. */
export interface PinnedRollback {
  revision: number;
  /** When the rollback was asked for (ISO 8601). */
  at?: string;
  /** Who asked (`user:default/jane`). */
  by?: string;
  reason?: string;
}

/**
 * Everything a workflow needs to go on after a restart: the revision it
 * runs, each step's phase and the revisions it can roll back to (what is
 * applied on each cluster is the store's inventory, kept beside it). Plain JSON: the caller stores it as it is.
 */
export interface WorkflowState {
  /** The revision this run deploys. */
  revision: number;
  /** `revisionOf` of the spec that started this run. */
  hash: string;
  startedAt: string;
  finishedAt?: string;
  terminated?: boolean;
  steps: StepState[];
  /** Each component's health on each cluster, as last seen. */
  services?: ComponentStatus[];
  /** Newest last; the oldest are dropped past a limit. */
  revisions: WorkflowRevision[];
  /**
   * Set by `rollbackTo`: this revision runs, with its Git-backed components
   * built at the commits it recorded and no image automation, whatever the
   * Application's spec or the branches become, until `releaseRollback`.
   */
  rollback?: PinnedRollback;
  /** Each progressive rollout (component and cluster), kept across runs: a restart goes on from here. */
  rollouts?: RolloutState[];
}

/** The phase a workflow gives its Application; `running` once every step is done. */
export type WorkflowPhase = Extract<
  ApplicationPhase,
  | 'runningWorkflow'
  | 'workflowSuspending'
  | 'workflowFailed'
  | 'workflowTerminated'
  | 'running'
>;
