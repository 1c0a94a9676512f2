import {
  createApiRef,
  DiscoveryApi,
  FetchApi,
} from '@backstage/core-plugin-api';
import { ResponseError } from '@backstage/errors';
import {
  ApplicationDetails,
  ApplicationListResponse,
  ApplicationRef,
  AuditEntry,
  CloudApproveRequest,
  CloudApproveResponse,
  ClusterListResponse,
  DiffPreview,
  ImageHistoryEntry,
  ImageHoldResponse,
  ImageRollbackRequest,
  Page,
  ReconcileRun,
  ResourceTree,
  RolloutDecisionRequest,
  RolloutDecisionResponse,
  SyncConfiguration,
  TimelineResponse,
} from '@gitops-workflow/plugin-gitops-common';
import { readEventStream } from './eventStream';

/** Paging for the history endpoints. */
export interface PageRequest {
  limit?: number;
  offset?: number;
}

/** The window of a timeline: ISO times, `to` excluded. */
export interface TimelineWindow {
  from: string;
  to: string;
}

/** The frontend's view of the gitops backend (`/api/gitops`). */
export interface GitopsApi {
  getClusters(): Promise<ClusterListResponse>;
  listApplications(): Promise<ApplicationListResponse>;
  getApplication(ref: ApplicationRef): Promise<ApplicationDetails>;
  getImageHistory(
    ref: ApplicationRef,
    page?: PageRequest,
  ): Promise<Page<ImageHistoryEntry>>;
  getRuns(ref: ApplicationRef, page?: PageRequest): Promise<Page<ReconcileRun>>;
  getSyncConfig(ref: ApplicationRef): Promise<SyncConfiguration>;
  /** Starts a reconcile now (the backend answers 202 before it finishes). */
  sync(ref: ApplicationRef): Promise<void>;
  setSuspended(ref: ApplicationRef, suspended: boolean): Promise<void>;
  /** Resumes the workflow step `step`, which waits in `suspend`. */
  resumeWorkflow(ref: ApplicationRef, step: string): Promise<void>;
  /** Components → objects → ReplicaSets → Pods, each with its kstatus health. */
  getResourceTree(ref: ApplicationRef): Promise<ResourceTree>;
  /** What the next sync would change, by server-side dry-run: nothing is changed. */
  previewDiff(ref: ApplicationRef): Promise<DiffPreview>;
  /** Commits `component`'s image back to `request.to` and holds its automation there. */
  rollbackImage(
    ref: ApplicationRef,
    component: string,
    request: ImageRollbackRequest,
  ): Promise<ImageHoldResponse>;
  /** Releases `component`'s hold: automation picks the newest tag again. */
  releaseImageHold(
    ref: ApplicationRef,
    component: string,
    reason?: string,
  ): Promise<ImageHoldResponse>;
  /** Releases a workflow revision pinned by a rollback: the next pass applies Git's again. */
  releaseWorkflowRevision(ref: ApplicationRef, reason?: string): Promise<void>;
  /** Ends `component`'s rollout now: the new version becomes stable. */
  promoteRollout(
    ref: ApplicationRef,
    component: string,
    request: RolloutDecisionRequest,
  ): Promise<RolloutDecisionResponse>;
  /** Stops `component`'s rollout: all traffic back on stable, the new tag held. */
  abortRollout(
    ref: ApplicationRef,
    component: string,
    request: RolloutDecisionRequest,
  ): Promise<RolloutDecisionResponse>;
  /** Lets OpenTofu apply the plan a `terraform` component with `approve: manual` waits on. */
  approveCloudPlan(
    ref: ApplicationRef,
    component: string,
    request: CloudApproveRequest,
  ): Promise<CloudApproveResponse>;
  /** Every action taken on the Application, newest first. */
  getAudit(ref: ApplicationRef, page?: PageRequest): Promise<Page<AuditEntry>>;
  /** What happened to the Application in `window`, oldest first, and its DORA figures then. */
  getTimeline(
    ref: ApplicationRef,
    window: TimelineWindow,
  ): Promise<TimelineResponse>;
  /**
   * Follows what changes about the Application: `ready` once the stream is
   * open, `changed` whenever what its page shows changed. Resolves when the
   * backend ends the stream, rejects when it cannot be opened or breaks.
   * Optional: without it, pages poll.
   */
  followChanges?(
    ref: ApplicationRef,
    onEvent: (event: ApplicationChangeEvent) => void,
    signal: AbortSignal,
  ): Promise<void>;
}

/** What the backend's event stream of an Application says. */
export type ApplicationChangeEvent = 'ready' | 'changed';

export const gitopsApiRef = createApiRef<GitopsApi>({ id: 'plugin.gitops' });

/** {@link GitopsApi} over HTTP, authenticated by the app's fetchApi. */
export class GitopsClient implements GitopsApi {
  constructor(
    private readonly deps: { discoveryApi: DiscoveryApi; fetchApi: FetchApi },
  ) {}

  getClusters(): Promise<ClusterListResponse> {
    return this.request('GET', '/clusters');
  }

  listApplications(): Promise<ApplicationListResponse> {
    return this.request('GET', '/applications');
  }

  getApplication(ref: ApplicationRef): Promise<ApplicationDetails> {
    return this.request('GET', applicationPath(ref));
  }

  getImageHistory(
    ref: ApplicationRef,
    page: PageRequest = {},
  ): Promise<Page<ImageHistoryEntry>> {
    return this.request('GET', applicationPath(ref, '/image-history', page));
  }

  getRuns(
    ref: ApplicationRef,
    page: PageRequest = {},
  ): Promise<Page<ReconcileRun>> {
    return this.request('GET', applicationPath(ref, '/runs', page));
  }

  getSyncConfig(ref: ApplicationRef): Promise<SyncConfiguration> {
    return this.request('GET', applicationPath(ref, '/sync-config'));
  }

  async sync(ref: ApplicationRef): Promise<void> {
    await this.request('POST', applicationPath(ref, '/sync'));
  }

  async setSuspended(ref: ApplicationRef, suspended: boolean): Promise<void> {
    await this.request(
      'POST',
      applicationPath(ref, suspended ? '/suspend' : '/resume'),
    );
  }

  async resumeWorkflow(ref: ApplicationRef, step: string): Promise<void> {
    await this.request('POST', applicationPath(ref, '/workflow/resume'), {
      step,
    });
  }

  getResourceTree(ref: ApplicationRef): Promise<ResourceTree> {
    return this.request('GET', applicationPath(ref, '/tree'));
  }

  previewDiff(ref: ApplicationRef): Promise<DiffPreview> {
    return this.request('POST', applicationPath(ref, '/diff'));
  }

  getTimeline(
    ref: ApplicationRef,
    window: TimelineWindow,
  ): Promise<TimelineResponse> {
    return this.request('GET', applicationPath(ref, '/timeline', window));
  }

  async followChanges(
    ref: ApplicationRef,
    onEvent: (event: ApplicationChangeEvent) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const base = await this.deps.discoveryApi.getBaseUrl('gitops');
    // fetch, not EventSource: only the app's fetchApi sends the user's token.
    const response = await this.deps.fetchApi.fetch(
      `${base}${applicationPath(ref, '/events')}`,
      { headers: { Accept: 'text/event-stream' }, signal },
    );
    if (!response.ok) throw await ResponseError.fromResponse(response);
    if (!response.body) throw new Error('The event stream has no body');
    await readEventStream(response.body, type => {
      if (type === 'ready' || type === 'changed') onEvent(type);
    });
  }

  rollbackImage(
    ref: ApplicationRef,
    component: string,
    request: ImageRollbackRequest,
  ): Promise<ImageHoldResponse> {
    return this.request(
      'POST',
      applicationPath(ref, componentPath('images', component, '/rollback')),
      request,
    );
  }

  releaseImageHold(
    ref: ApplicationRef,
    component: string,
    reason?: string,
  ): Promise<ImageHoldResponse> {
    return this.request(
      'POST',
      applicationPath(ref, componentPath('images', component, '/release')),
      { reason },
    );
  }

  async releaseWorkflowRevision(
    ref: ApplicationRef,
    reason?: string,
  ): Promise<void> {
    await this.request('POST', applicationPath(ref, '/rollback/release'), {
      reason,
    });
  }

  promoteRollout(
    ref: ApplicationRef,
    component: string,
    request: RolloutDecisionRequest,
  ): Promise<RolloutDecisionResponse> {
    return this.decideRollout(ref, component, '/promote', request);
  }

  abortRollout(
    ref: ApplicationRef,
    component: string,
    request: RolloutDecisionRequest,
  ): Promise<RolloutDecisionResponse> {
    return this.decideRollout(ref, component, '/abort', request);
  }

  approveCloudPlan(
    ref: ApplicationRef,
    component: string,
    request: CloudApproveRequest,
  ): Promise<CloudApproveResponse> {
    return this.request(
      'POST',
      applicationPath(ref, componentPath('cloud', component, '/approve')),
      request,
    );
  }

  getAudit(
    ref: ApplicationRef,
    page: PageRequest = {},
  ): Promise<Page<AuditEntry>> {
    return this.request('GET', applicationPath(ref, '/audit', page));
  }

  private decideRollout(
    ref: ApplicationRef,
    component: string,
    decision: '/promote' | '/abort',
    request: RolloutDecisionRequest,
  ): Promise<RolloutDecisionResponse> {
    return this.request(
      'POST',
      applicationPath(ref, componentPath('rollouts', component, decision)),
      request,
    );
  }

  private async request<T>(
    method: 'GET' | 'POST',
    path: string,
    body?: object,
  ): Promise<T> {
    const base = await this.deps.discoveryApi.getBaseUrl('gitops');
    const response = await this.deps.fetchApi.fetch(`${base}${path}`, {
      method,
      ...(body && {
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      }),
    });
    if (!response.ok) throw await ResponseError.fromResponse(response);
    return response.json();
  }
}

/** `/<collection>/<component, escaped><action>`: an action on one component. */
function componentPath(
  collection: 'images' | 'rollouts' | 'cloud',
  component: string,
  action: string,
): string {
  return `/${collection}/${encodeURIComponent(component)}${action}`;
}

function applicationPath(
  ref: ApplicationRef,
  suffix = '',
  params: PageRequest & Partial<TimelineWindow> = {},
): string {
  const query = new URLSearchParams();
  if (ref.cluster) query.set('cluster', ref.cluster);
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined) query.set(key, String(value));
  }
  const search = query.toString();
  return `/applications/${encodeURIComponent(
    ref.namespace,
  )}/${encodeURIComponent(ref.name)}${suffix}${search ? `?${search}` : ''}`;
}
