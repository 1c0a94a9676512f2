/*
 * The HTTP contract of the gitops backend (mounted at /api/gitops). The
 * backend's router and the frontend's client both type against these.
 */

/** GET /clusters: the clusters the backend is configured for, probed live. */
export interface ClusterStatus {
  name: string;
  labels: Record<string, string>;
  /** The API server URL (never with credentials in it). */
  server: string;
  reachable: boolean;
  /** The Kubernetes version reported by the API server when reachable. */
  version?: string;
  /** Why the cluster could not be reached, in words a person can act on. */
  error?: string;
}

export interface ClusterListResponse {
  items: ClusterStatus[];
}

/** One component's status, as KubeVela writes it in `status.services[]`. */
export interface ComponentStatus {
  name: string;
  namespace?: string;
  cluster?: string;
  healthy: boolean;
  message?: string;
  traits?: Array<{ type: string; healthy: boolean; message?: string }>;
}

/** The application phase vocabulary shared with KubeVela. */
export type ApplicationPhase =
  | 'rendering'
  | 'runningWorkflow'
  | 'workflowSuspending'
  | 'workflowTerminated'
  | 'workflowFailed'
  | 'running'
  | 'unhealthy'
  | 'deleting';

export interface ApplicationCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

/** GET /applications/:namespace/:name[?cluster=]: the live Application. */
export interface ApplicationDetails {
  cluster: string;
  namespace: string;
  name: string;
  createdAt?: string;
  components: Array<{
    name: string;
    type: string;
    traits: string[];
    /**
     * The images the component's live workloads run: the containers of
     * their pod templates (a webservice's Deployment), deduplicated.
     */
    images?: string[];
    /** Why `images` is absent, in a sentence (not deployed yet, no workload among its objects, not readable). */
    imagesUnknown?: string;
  }>;
  /** Absent until a controller has reconciled the Application once. */
  phase?: ApplicationPhase;
  services: ComponentStatus[];
  conditions: ApplicationCondition[];
  /** Live objects per component name, with health. */
  resources?: Record<string, ResourceStatus[]>;
  /** What the backend knows beside the cluster's status. */
  sync?: SyncState;
  /** KubeVela's `status.workflow`, when the Application runs a workflow. */
  workflow?: WorkflowStatus;
  /** Set while the Application is being deleted: what is left to delete. */
  deletion?: ApplicationDeletion;
  /** Set when another Application applied this one from Git (it is in that one's inventory). */
  managedBy?: ManagedBy;
  /** The progressive rollouts of its components (a `kruise-rollout` or `blue-green` trait), one per component and cluster. */
  rollouts?: RolloutStatus[];
  /** Its `terraform` components: what OpenTofu planned, applied and found drifted. */
  cloudResources?: CloudResourceStatus[];
}

/** Where a progressive rollout stands. */
export type RolloutPhase =
  /** Stepping the canary's weight up, or waiting for the preview to be ready. */
  | 'progressing'
  /** Waiting out a step's `pause.duration`. */
  | 'paused'
  /** A step with a `pause` without duration: waits for Promote or Abort. */
  | 'waitingForApproval'
  /** The new version is stable; nothing in flight. */
  | 'healthy'
  /** Stopped by analysis, the progress deadline or a person; traffic back on stable. */
  | 'aborted';

/** One analysis check at one step of a rollout. */
export interface RolloutAnalysisResult {
  /** The metric's or webhook's name, e.g. `request-success-rate`. */
  name: string;
  /** What was measured, as shown: `95.0%`, `412 ms`, `HTTP 200`. */
  value?: string;
  /** The bound it was held to, as shown: `≥ 99%`, `≤ 500 ms`. */
  threshold?: string;
  passed: boolean;
  at: string;
  /** Why there is no value: the query failed, returned no series, the webhook timed out. */
  message?: string;
}

/** One component's progressive rollout on one cluster. */
export interface RolloutStatus {
  component: string;
  cluster: string;
  /** The namespace its workloads run in (a component may deploy to several). */
  namespace?: string;
  strategy: 'canary' | 'blueGreen';
  phase: RolloutPhase;
  /** The image (first container) serving as stable, and the one being rolled out. */
  stableImage?: string;
  canaryImage?: string;
  /** 0-based index into the steps (canary), while progressing. */
  currentStep?: number;
  totalSteps?: number;
  /** Percent of traffic on the canary (blue-green: 0 before the switch, 100 after). */
  canaryWeight: number;
  /** The analysis results of the current rollout, oldest first. */
  analysis: RolloutAnalysisResult[];
  /** What happened and why, in a sentence: "aborted: success rate 95.0% < 99%". */
  message?: string;
  startedAt?: string;
  updatedAt?: string;
}

/** A `terraform` component's state as OpenTofu left it. */
export interface CloudResourceStatus {
  component: string;
  /**
   * planning / waitingForApproval (approve: manual) / applying / ready /
   * drifted / failed / destroying / destroyed.
   */
  state:
    | 'planning'
    | 'waitingForApproval'
    | 'applying'
    | 'ready'
    | 'drifted'
    | 'failed'
    | 'destroying'
    | 'destroyed';
  /** The last plan's summary: resources to add, change and destroy. */
  plan?: { add: number; change: number; destroy: number; at: string };
  /** Output names; sensitive ones are marked and their values never leave the backend. */
  outputs: Array<{ name: string; sensitive: boolean; value?: string }>;
  /** The Secret the outputs are written to. */
  connectionSecret?: string;
  /** When the last drift check ran and what it found. */
  drift?: { checkedAt: string; drifted: boolean; message?: string };
  /** What happened and why, in a sentence (names the file and line, or the resource, on an error). */
  message?: string;
  lastAppliedAt?: string;
}

/** One component of one Application. */
export interface ApplicationComponentRef {
  cluster: string;
  namespace: string;
  name: string;
  component: string;
}

/**
 * The Application that applied this one from Git (the seed's `git-app`
 * applying `first-vela-workflow`): which of its components, and the
 * revision it last synced, which carried this Application's spec.
 */
export interface ManagedBy extends ApplicationComponentRef {
  /** `branch@sha1:<sha>` of the parent's last sync from Git. */
  revision?: string;
  /** The Git repository of that component, without credentials, for commit links. */
  url?: string;
  /** The catalog entity linked to the parent, when the reader may see it. */
  entityRef?: string;
}

/**
 * A deleted Application waiting for its objects to be collected (phase
 * `deleting`): the objects still there, and in `message` why each is.
 */
export interface ApplicationDeletion {
  requestedAt: string;
  remaining: Array<{
    apiVersion: string;
    kind: string;
    namespace?: string;
    name: string;
    cluster?: string;
  }>;
  /** The status' sentence: each object left and why, and what is kept on purpose. */
  message?: string;
}

/** One step of a KubeVela workflow, as in `status.workflow.steps[]`. */
export interface WorkflowStepStatus {
  id?: string;
  name: string;
  type: string;
  /** succeeded, failed, skipped, running or pending. */
  phase?: string;
  message?: string;
  reason?: string;
  firstExecuteTime?: string;
  lastExecuteTime?: string;
}

/** KubeVela's `status.workflow`: the run of the Application's workflow. */
export interface WorkflowStatus {
  mode?: string;
  message?: string;
  /** True while a step waits in `suspend` for someone to resume it. */
  suspend: boolean;
  terminated: boolean;
  finished: boolean;
  startTime?: string;
  endTime?: string;
  steps: WorkflowStepStatus[];
}

/** What started a reconcile or an image update. */
export type ReconcileTrigger = 'poll' | 'webhook' | 'manual' | 'watch';

/** GET /applications/:namespace/:name/runs: one reconcile, newest first. */
export interface ReconcileRun {
  id: number;
  trigger: ReconcileTrigger;
  startedAt: string;
  finishedAt?: string;
  revision?: string;
  result?: 'succeeded' | 'failed';
  error?: string;
  objectsChanged?: number;
  /** When the Application this run belonged to was deleted (its history outlives it). */
  applicationDeletedAt?: string;
  /** A failure that repeated: how many passes failed this way, from `startedAt` to `finishedAt`. */
  repeats?: number;
  /** `terraform` components this pass found changed outside Git, with what changed (`db (changed outside: terraform_data.x (replace))`). */
  cloudDrift?: string[];
}

/** GET /applications/:namespace/:name/image-history: one committed image update. */
export interface ImageHistoryEntry {
  id: number;
  component: string;
  image: string;
  oldTag?: string;
  newTag: string;
  policy?: string;
  commitSha?: string;
  trigger: ReconcileTrigger;
  detectedAt: string;
  pushedAt?: string;
  appliedAt?: string;
  healthyAt?: string;
  /** When the Application this update belonged to was deleted (its history outlives it). */
  applicationDeletedAt?: string;
  /** The manifest digest the markers wrote (`image:tag@digest`), when the policy reflects digests. */
  digest?: string;
  /**
   * Why the bot committed: its tag policy (`update`), a person's rollback,
   * the automatic rollback of a failed rollout, or automation resuming
   * after a hold was released.
   */
  action?: ImageUpdateAction;
  /** The Backstage user who asked for it (`user:default/jane`), for a person's action. */
  requestedBy?: string;
  /** The reason given with a rollback, or why the automatic rollback happened. */
  reason?: string;
  /** When this rollout was found failed, and why (kstatus Failed, a progress deadline, not healthy in time). */
  failedAt?: string;
  failure?: string;
  /** When a later commit rolled this update back. */
  rolledBackAt?: string;
  /**
   * The Application and component whose image the rewritten marker sets,
   * when it sits in an Application's manifest (a marker in
   * `spec.components[name=test-server]` of `first-vela-workflow` that
   * `git-app`'s automation rewrites). That Application's image history
   * lists the row too.
   */
  target?: ApplicationComponentRef;
  /**
   * On a row listed for its target: the Application and component whose
   * image automation committed it. `component` is then the target's own.
   */
  committedBy?: ApplicationComponentRef;
}

export type ImageUpdateAction =
  | 'update'
  | 'rollback'
  | 'automaticRollback'
  | 'release';

/**
 * A hold on a component's image automation: its markers stay at `tag`
 * (and `digest`) until a person releases it; scans still record what the
 * policy would pick.
 */
export interface ImageHold {
  component: string;
  image: string;
  tag: string;
  digest?: string;
  /** `user:default/jane`, or `gitops:automatic-rollback`. */
  heldBy: string;
  heldAt: string;
  reason?: string;
  /** Placed by the automatic rollback of `failedTag`. */
  automatic: boolean;
  failedTag?: string;
  /** The newest tag the policy picked while held, not committed. */
  wouldPick?: string;
  wouldPickAt?: string;
}

/** POST /applications/:namespace/:name/images/:component/rollback */
export interface ImageRollbackRequest {
  /** The tag to go back to: one this component ran before (see its image history). */
  to: string;
  reason?: string;
}

/** POST .../images/:component/rollback answers with the hold placed; .../release with the one released. */
export interface ImageHoldResponse {
  hold: ImageHold;
}

/** Every person's action on an Application, and the automatic rollback's. */
export type AuditAction =
  | 'sync'
  | 'suspend'
  | 'resume'
  | 'workflowResume'
  | 'workflowRollback'
  | 'workflowRelease'
  | 'imageRollback'
  | 'imageRelease'
  | 'automaticRollback'
  | 'rolloutPromote'
  | 'rolloutAbort'
  | 'cloudApprove';

/** GET /applications/:namespace/:name/audit: one action, newest first. */
export interface AuditEntry {
  id: number;
  action: AuditAction;
  /** `user:default/jane`, `gitops:automatic-rollback`, or a service's subject. */
  actor: string;
  at: string;
  reason?: string;
  component?: string;
  /** What was done, in a sentence: "rolled web back to 0.1.5". */
  summary: string;
}

/** A page of results and the total count, for paged tables. */
export interface Page<T> {
  items: T[];
  totalCount: number;
}

/** One live object an Application applied, with its kstatus health. */
export interface ResourceStatus {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
  cluster?: string;
  /** kstatus: Current, InProgress, Failed, Unknown or NotFound. */
  health: string;
  message?: string;
}

/** kstatus's health of an object; `NotFound` for one applied that is gone. */
export type ResourceHealth =
  | 'Current'
  | 'InProgress'
  | 'Failed'
  | 'Unknown'
  | 'NotFound';

/**
 * One object of an Application's resource tree: one it applied, or one a
 * controller made for it (a Deployment's ReplicaSets, their Pods), with its
 * kstatus health.
 */
export interface ResourceTreeNode {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
  /** Set on the objects the Application applied (their children are on the same cluster). */
  cluster?: string;
  health: ResourceHealth;
  message?: string;
  createdAt?: string;
  /** The objects it owns (by `ownerReferences`), newest first, up to a bound. */
  children: ResourceTreeNode[];
  /** Owned objects left out of `children` to keep the tree small: old ReplicaSets, Pods past the bound. */
  omittedChildren?: number;
  /** Why its owned objects could not be read, when they could not. */
  childrenError?: string;
}

/** One component of the tree: its health is the worst of its objects'. */
export interface ResourceTreeComponent {
  name: string;
  /** Absent for objects of a component the spec no longer has. */
  type?: string;
  health: ResourceHealth;
  /** The component's status message (KubeVela's, e.g. `Ready:1/1`), else its worst object's. */
  message?: string;
  objects: ResourceTreeNode[];
}

/** GET /applications/:namespace/:name/tree: Application → components → objects → owned objects. */
export interface ResourceTree {
  cluster: string;
  namespace: string;
  name: string;
  phase?: ApplicationPhase;
  /** The worst health of its components. */
  health: ResourceHealth;
  message?: string;
  components: ResourceTreeComponent[];
}

/** What the next sync would do to one object. */
export type ObjectDiffAction = 'created' | 'changed' | 'unchanged' | 'pruned';

/** One object of a diff preview. */
export interface ObjectDiff {
  cluster: string;
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
  action: ObjectDiffAction;
  /**
   * For `created` and `changed`: a unified diff of the object's YAML, live
   * → after the sync, without server bookkeeping (managedFields,
   * resourceVersion, generation, uid, creationTimestamp) and status. The
   * values of Secrets are masked.
   */
  diff?: string;
  /** For `changed`: up to ten field paths that differ, e.g. `spec.replicas`. */
  changedFields?: string[];
}

/**
 * POST /applications/:namespace/:name/diff: what the next sync would change,
 * from a server-side dry-run of Git's HEAD (without image automation)
 * against the live objects. Nothing in the cluster or in Git is changed.
 */
export interface DiffPreview {
  /** When it was made: the cluster and Git may have moved on since. */
  generatedAt: string;
  /** `branch@sha1:<sha>` of each Git-backed component, as built. */
  revisions: Record<string, string>;
  objects: ObjectDiff[];
  counts: Record<ObjectDiffAction, number>;
  /** Problems that did not stop the preview. */
  warnings?: string[];
}

/** GET /applications: one row per Application, like `vela ls`. */
export interface ApplicationSummary {
  cluster: string;
  namespace: string;
  name: string;
  createdAt?: string;
  phase?: ApplicationPhase;
  /** True when every component reports healthy. */
  healthy: boolean;
  components: Array<{
    name: string;
    type: string;
    traits: string[];
    healthy?: boolean;
    message?: string;
  }>;
  /** The catalog entity annotated with this Application, e.g. `component:default/git-app`. */
  entityRef?: string;
  /** Set while the Application is being deleted: what is left to delete. */
  deletion?: ApplicationDeletion;
}

export interface ApplicationListResponse {
  items: ApplicationSummary[];
  /** Clusters whose Applications could not be listed; the others' still are. */
  errors?: Array<{ cluster: string; error: string }>;
}

/**
 * GET /applications/:namespace/:name/sync-config: how the Application is
 * synced, per kustomize component. Secrets appear by name only.
 */
export interface SyncConfiguration {
  components: Array<{
    name: string;
    git: {
      url: string;
      branch: string;
      path: string;
      pullInterval: string;
      prune: boolean;
      secretRef?: string;
    };
    image?: {
      image: string;
      interval: string;
      pattern?: string;
      extract?: string;
      /** The policy in words, e.g. `numerical asc` or `semver >=1.0.0`. */
      policy: string;
      commitMessage?: string;
      secretRef?: string;
      /** `Never` (the default), `IfNotPresent` or `Always`, as Flux's `digestReflectionPolicy`. */
      digestReflectionPolicy?: string;
      /** Automatic rollback of a failed rollout, when switched on. */
      rollback?: { onFailure: boolean; after: string };
      hold?: ImageHold;
    };
  }>;
  commitAuthor: { name: string; email: string };
}

/** The sync state the backend keeps beside the cluster's status. */
export interface SyncState {
  /** `branch@sha1:<sha>` of the last reconcile, if it synced Git. */
  revision?: string;
  lastSyncAt?: string;
  lastSyncResult?: 'succeeded' | 'failed';
  lastSyncError?: string;
  nextSyncAt?: string;
  /** Image update automation suspended by a person. */
  suspended: boolean;
  /** Components whose image automation is held at a tag. */
  holds?: ImageHold[];
  /** A workflow revision rolled back to and pinned until released. */
  pinnedRevision?: {
    revision: number;
    by?: string;
    at?: string;
    reason?: string;
  };
}

/**
 * What a timeline event tells, which is also its mark's colour:
 * - `tagPushed`: the tag reached the registry (known from the registry's
 *   push notification; a tag found by polling has none),
 * - `picked`: the tag policy picked a new tag, or a rollback chose an old one,
 * - `committed`: the bot's commit of it reached Git,
 * - `applied`, `healthy`, `failed`: how its rollout went,
 * - `rolledBack`: a later commit rolled it back,
 * - `hold`, `release`: a person's (or the automatic) rollback held a tag, a
 *   person released it; `action`: any other person's action (sync,
 *   suspend, resume, resume a workflow step),
 * - `synced`, `syncFailed`: a reconcile changed objects, or failed,
 * - `workflowStep`: a step of the current workflow run started or ended.
 */
export type TimelineEventKind =
  | 'tagPushed'
  | 'picked'
  | 'committed'
  | 'applied'
  | 'healthy'
  | 'failed'
  | 'rolledBack'
  | 'hold'
  | 'release'
  | 'action'
  | 'synced'
  | 'syncFailed'
  | 'workflowStep';

/** One thing that happened to an Application, from the backend's own records. */
export interface TimelineEvent {
  at: string;
  kind: TimelineEventKind;
  /** The component's lane; absent for what concerns the whole Application (syncs, workflow steps, suspend). */
  component?: string;
  /** What happened, in a sentence. */
  sentence: string;
  /** Who did it, for a person's action (`user:default/jane`) or the automatic rollback. */
  actor?: string;
  /** What the event is about, for links. */
  links: {
    /** The full SHA of the commit it concerns. */
    commit?: string;
    /** `image:tag` it concerns. */
    image?: string;
    /** The reconcile run it was (see `/runs`). */
    run?: number;
    /** The image history row it came from (see `/image-history`). */
    imageUpdate?: number;
  };
}

/**
 * The four DORA figures of one Application over a window, from its image
 * history. A rollout is one committed image update (the bot's, or one it
 * made after a hold was released); rollbacks restore, they are not counted
 * as changes. A rollout belongs to the window in which its tag was picked;
 * the figures are as they stood at the window's end (a rollout healthy or
 * failed after it was still rolling out then).
 */
export interface DoraFigures {
  from: string;
  to: string;
  /** Rollouts of a new tag in the window. */
  rollouts: number;
  /** Of those, the ones that became healthy and were not found failed first. */
  deployments: number;
  /** Deployment frequency: `deployments` per 24 hours of the window. */
  deploymentsPerDay: number;
  /**
   * Lead time of the deployments, from the tag push to healthy. The push is
   * the registry's, when its notification told us (`fromTagPush` of the
   * `samples`); otherwise the moment the tag policy picked the tag, which
   * comes later: that lead time is a lower bound.
   */
  leadTime: {
    samples: number;
    fromTagPush: number;
    medianMs?: number;
    /** The nearest-rank 90th percentile. */
    p90Ms?: number;
  };
  /** Rollouts whose outcome is known: healthy, failed or rolled back. */
  finished: number;
  /** Rollouts found failed, or rolled back. */
  failures: number;
  /** Change failure rate: `failures / finished`, from 0 to 1; absent with nothing finished. */
  changeFailureRate?: number;
  /**
   * Time to restore: from a failure (found failed; for a rollout rolled back
   * without that, from when it went live) to the next rollout of that
   * component that became healthy, rollbacks included.
   */
  timeToRestore: {
    /** Failures restored by now. */
    restored: number;
    /** Failures not restored yet: not in the median. */
    unrestored: number;
    medianMs?: number;
  };
}

/** GET /applications/:namespace/:name/timeline[?from=&to=]: oldest event first. */
export interface TimelineResponse {
  from: string;
  to: string;
  events: TimelineEvent[];
  dora: DoraFigures;
  /** Set when the window held more records than one answer carries: the oldest were left out. */
  truncated?: boolean;
}

/**
 * POST /applications/:namespace/:name/rollouts/:component/promote and
 * .../abort: a person's decision on a rollout (permission
 * `gitops.rollout.decide`, audited).
 */
export interface RolloutDecisionRequest {
  /** The cluster whose rollout is meant; the Application's local cluster when absent. */
  cluster?: string;
  reason?: string;
}

/** What .../promote and .../abort answer: the rollout after the decision. */
export interface RolloutDecisionResponse {
  rollout: RolloutStatus;
}

/**
 * POST /applications/:namespace/:name/cloud/:component/approve: approves the
 * plan a `terraform` component with `approve: manual` waits on (permission
 * `gitops.cloud.approve`, audited).
 */
export interface CloudApproveRequest {
  reason?: string;
}

/** What .../approve answers: the component's state after the approval. */
export interface CloudApproveResponse {
  resource: CloudResourceStatus;
}
