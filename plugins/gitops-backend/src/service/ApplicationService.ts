import {
  AuthService,
  BackstageCredentials,
  LoggerService,
} from '@backstage/backend-plugin-api';
import { CATALOG_FILTER_EXISTS } from '@backstage/catalog-client';
import { Entity, stringifyEntityRef } from '@backstage/catalog-model';
import {
  ConflictError,
  InputError,
  NotFoundError,
  ServiceUnavailableError,
  stringifyError,
} from '@backstage/errors';
import { CatalogService } from '@backstage/plugin-catalog-node';
import {
  ApplicationDeletion,
  ApplicationDetails,
  ApplicationListResponse,
  ApplicationRef,
  applicationAnnotationOf,
  ApplicationSummary,
  AuditEntry,
  CloudApproveResponse,
  ImageHoldResponse,
  ImageRollbackRequest,
  ManagedBy,
  Page,
  deprecatedAnnotationMessage,
  GITOPS_APPLICATION_ANNOTATIONS,
  parseApplicationRef,
  ReconcileTrigger,
  ResourceStatus,
  RolloutDecisionResponse,
  SyncConfiguration,
  SyncState,
} from '@gitops-workflow/plugin-gitops-common';
import {
  ApplicationComponent,
  ApplicationStatus,
  branchOf,
  describeImagePolicy,
  DEFAULT_POLL_INTERVAL_MS,
  GitAuthor,
  kustomizeComponents,
  KubeObject,
  owningApplicationOf,
  resumeWorkflow,
  rollbackPolicyOf,
  releaseRollback,
  rollbackTo,
  decideRollout,
  rolloutSpecOf,
  rolloutStatusOf,
  type RolloutState,
  type WorkflowState,
} from '@gitops-workflow/plugin-gitops-node';
import { GitopsStore, NewAuditEntry } from '../store/GitopsStore';
import type { ApplicationReconciler } from './ApplicationReconciler';
import { ClusterService } from './ClusterService';
import { ReconcileLoop } from './ReconcileLoop';
import {
  InventoryObject,
  LiveObjects,
  liveObjectsOf,
  readInventory,
} from './resourceTree';
import { componentImages, managingComponentOf } from './workloadStory';

export interface ApplicationServiceOptions {
  clusters: ClusterService;
  store: GitopsStore;
  /** Absent when no cluster is configured. */
  loop?: ReconcileLoop;
  catalog: CatalogService;
  auth: AuthService;
  logger: LoggerService;
  matchLabels: Record<string, string>;
  commitAuthor: GitAuthor;
  /** Where live objects are read (default: the API servers, through `clusters`). */
  live?: LiveObjects;
  /** Lists a component's image tags as its passes would (absent when no cluster is configured). */
  registry?: Pick<ApplicationReconciler, 'listImageTags'>;
}

/** Who asked for an action (a user's entity ref, or a service's subject), and why. */
export interface Requester {
  actor: string;
  reason?: string;
}

interface SpecComponent {
  name: string;
  type: string;
  properties?: Record<string, any>;
  traits?: Array<{ type: string }>;
}

function componentsOf(object: KubeObject): SpecComponent[] {
  return (
    (object.spec as { components?: SpecComponent[] } | undefined)?.components ??
    []
  );
}

function statusOf(object: KubeObject): ApplicationStatus {
  return (object.status ?? {}) as ApplicationStatus;
}

/**
 * A deleted Application still waiting for its finalizers: what is left of
 * what it deployed (`status.appliedResources` shrinks as objects go) and the
 * status' sentence saying why each is still there.
 */
function deletionOf(object: KubeObject): ApplicationDeletion | undefined {
  const requestedAt = object.metadata.deletionTimestamp as string | undefined;
  if (!requestedAt) return undefined;
  const status = statusOf(object);
  const deletion: ApplicationDeletion = {
    requestedAt,
    remaining: status.appliedResources ?? [],
  };
  const message = status.conditions?.find(c => c.type === 'Deleted')?.message;
  if (message) deletion.message = message;
  return deletion;
}

/** `https://user:token@host/repo` → `https://host/repo`: credentials never leave the backend. */
function withoutCredentials(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString();
  } catch {
    return url;
  }
}

/**
 * What the HTTP API says about Applications: the cluster's objects and
 * status, the store's history, the loop's schedule and the catalog's links,
 * put together in the shapes of `@gitops-workflow/plugin-gitops-common`.
 */
export class ApplicationService {
  /** Entities already warned about for the deprecated annotation: once each, not on every list. */
  private readonly warnedDeprecated = new Set<string>();

  constructor(private readonly options: ApplicationServiceOptions) {}

  /** The store and loop key of an Application. */
  keyOf(ref: ApplicationRef): string {
    const { clusters } = this.options;
    return ReconcileLoop.keyOf(
      clusters.clusterName(ref.cluster),
      ref.namespace,
      ref.name,
    );
  }

  /**
   * The Applications this backend manages, like `vela ls`, with their catalog
   * entities. The catalog is read on behalf of `credentials`, so an entity
   * that user may not read is not named.
   */
  async list(
    credentials: BackstageCredentials,
  ): Promise<ApplicationListResponse> {
    const { clusters, matchLabels } = this.options;
    const [{ items, errors }, entities] = await Promise.all([
      clusters.listApplications(matchLabels),
      this.entityRefs(credentials),
    ]);
    const summaries = items.map(({ cluster, object }): ApplicationSummary => {
      const summary = summaryOf(cluster, object);
      const entityRef = entities.get(
        ReconcileLoop.keyOf(cluster, summary.namespace, summary.name),
      );
      return entityRef ? { ...summary, entityRef } : summary;
    });
    summaries.sort((a, b) =>
      `${a.cluster}/${a.namespace}/${a.name}`.localeCompare(
        `${b.cluster}/${b.namespace}/${b.name}`,
      ),
    );
    return errors.length ? { items: summaries, errors } : { items: summaries };
  }

  /**
   * Asks the loop to reconcile an Application now. Only the default
   * cluster's Applications that the selector picks are reconciled here; a
   * request for another would wait forever, so it is refused.
   */
  async requestSync(
    ref: ApplicationRef,
    trigger: ReconcileTrigger,
    by: Requester,
  ): Promise<void> {
    const { key, loop } = await this.reconciled(ref);
    await loop.requestSync(key, trigger);
    await this.audit(key, by, { action: 'sync', summary: 'asked for a sync' });
  }

  /** Committed image updates, newest first. */
  imageHistory(ref: ApplicationRef, page: { limit: number; offset: number }) {
    return this.options.store.listImageHistory(this.keyOf(ref), page);
  }

  /** Reconciles, newest first. */
  runs(ref: ApplicationRef, page: { limit: number; offset: number }) {
    return this.options.store.listRuns(this.keyOf(ref), page);
  }

  /** Switches image update automation off or on for an Application that exists. */
  async setSuspended(
    ref: ApplicationRef,
    suspended: boolean,
    by: Requester,
  ): Promise<void> {
    await this.options.clusters.getApplication(ref);
    const key = this.keyOf(ref);
    await this.options.store.setSuspended(key, suspended, by.actor);
    await this.audit(key, by, {
      action: suspended ? 'suspend' : 'resume',
      summary: `${suspended ? 'suspended' : 'resumed'} image update automation`,
    });
  }

  /** The audit trail: every person's action, newest first. */
  auditTrail(
    ref: ApplicationRef,
    page: { limit: number; offset: number },
  ): Promise<Page<AuditEntry>> {
    return this.options.store.listAudit(this.keyOf(ref), page);
  }

  private async audit(
    key: string,
    by: Requester,
    entry: Omit<NewAuditEntry, 'actor' | 'reason'>,
  ): Promise<void> {
    await this.options.store.appendAudit(key, {
      ...entry,
      actor: by.actor,
      reason: by.reason,
    });
  }

  /**
   * Rolls a component's image back to a tag it ran before (or one the
   * registry lists) and holds it there: the next pass commits that tag, and
   * later ones keep it, whatever the policy picks, until a person releases
   * the hold.
   */
  async rollbackImage(
    ref: ApplicationRef,
    componentName: string,
    request: ImageRollbackRequest,
    by: Requester,
  ): Promise<ImageHoldResponse> {
    const { key, loop, object } = await this.reconciled(ref);
    const { store } = this.options;
    const app = `${ref.namespace}/${ref.name}`;
    const found = kustomizeComponents(
      componentsOf(object) as ApplicationComponent[],
    ).find(c => c.component.name === componentName);
    const repo = found?.props.imageRepository;
    if (!repo) {
      throw new InputError(
        found
          ? `Component ${componentName} of ${app} has no image automation (imageRepository) to roll back`
          : `${app} has no kustomize component ${componentName}; its components are ${
              componentsOf(object)
                .map(c => c.name)
                .join(', ') || 'none'
            }`,
      );
    }
    // A pinned workflow revision builds its recorded commits and commits no
    // image update: a hold placed now would wait, unsaid, until the release.
    const pinned = (await store.getWorkflowState(key))?.rollback;
    if (pinned) {
      throw new ConflictError(
        `${app} is pinned to workflow revision ${pinned.revision}${
          pinned.by ? ` by ${pinned.by}` : ''
        }, which commits no image change: release it first (POST …/rollback/release or \`gitops release ${
          ref.name
        }\`)`,
      );
    }
    const ran = await store.ranImageTag(key, componentName, request.to);
    if (
      !ran &&
      !(await this.registryLists(object, componentName, request.to))
    ) {
      throw new InputError(
        `${repo.image}:${request.to} never ran in ${componentName} (see its image history) and the registry does not list it`,
      );
    }
    const hold = await store.placeHold(key, {
      component: componentName,
      image: repo.image,
      tag: request.to,
      digest: ran?.digest,
      heldBy: by.actor,
      reason: by.reason,
    });
    await this.audit(key, by, {
      action: 'imageRollback',
      component: componentName,
      summary: `rolled ${componentName} back to ${request.to} and held it there`,
    });
    await loop.requestSync(key, 'manual');
    return { hold };
  }

  /** Whether the registry lists the tag for the component's image now. */
  private async registryLists(
    object: KubeObject,
    componentName: string,
    tag: string,
  ): Promise<boolean> {
    const { registry } = this.options;
    if (!registry) return false;
    try {
      return (await registry.listImageTags(object, componentName)).includes(
        tag,
      );
    } catch (error) {
      throw new ServiceUnavailableError(
        `${tag} is not in the image history of ${componentName}, and the registry could not be asked whether it has it: ${stringifyError(
          error,
        )}`,
      );
    }
  }

  /** Releases a component's hold: automation picks the newest tag again at once. */
  async releaseImage(
    ref: ApplicationRef,
    componentName: string,
    by: Requester,
  ): Promise<ImageHoldResponse> {
    const { key, loop } = await this.reconciled(ref);
    const hold = await this.options.store.releaseHold(key, componentName, {
      releasedBy: by.actor,
      reason: by.reason,
    });
    if (!hold) {
      throw new ConflictError(
        `The image of ${componentName} in ${ref.namespace}/${ref.name} is not held: there is nothing to release`,
      );
    }
    await this.audit(key, by, {
      action: 'imageRelease',
      component: componentName,
      summary: `released the hold of ${componentName} at ${hold.tag}`,
    });
    await loop.requestSync(key, 'manual');
    return { hold };
  }

  /**
   * Resumes the workflow step waiting in `suspend` (the only one when `step`
   * is not given) and reconciles at once.
   */
  async resumeWorkflow(
    ref: ApplicationRef,
    step: string | undefined,
    by: Requester,
  ): Promise<{ step: string }> {
    const { key, loop } = await this.reconciled(ref);
    const state = await this.workflowState(key, ref);
    const suspended = (steps: WorkflowState['steps']): string[] =>
      steps.flatMap(s => [
        ...(s.phase === 'suspending' ? [s.name] : []),
        ...suspended(s.subSteps ?? []),
      ]);
    const waiting = suspended(state.steps);
    const name = step ?? waiting[0];
    if (!name) {
      throw new ConflictError(
        `No step of ${ref.namespace}/${ref.name}'s workflow is suspended`,
      );
    }
    if (!step && waiting.length > 1) {
      throw new InputError(
        `Several steps are suspended (${waiting.join(
          ', ',
        )}): say which to resume`,
      );
    }
    resumeWorkflow(state, name); // the same checks the loop will apply, answered now
    await this.options.store.queueWorkflowCommand(key, {
      type: 'resume',
      step: name,
    });
    await loop.requestSync(key, 'manual');
    await this.audit(key, by, {
      action: 'workflowResume',
      summary: `resumed the workflow step ${name}`,
    });
    return { step: name };
  }

  /** Redeploys a kept revision (by default the one before the current) and reconciles at once. */
  async rollback(
    ref: ApplicationRef,
    revision: number | undefined,
    by: Requester,
  ): Promise<{ revision: number }> {
    const { key, loop } = await this.reconciled(ref);
    const state = await this.workflowState(key, ref);
    const target =
      revision ??
      Math.max(
        ...state.revisions.map(r => r.revision).filter(r => r < state.revision),
      );
    if (!Number.isFinite(target)) {
      throw new ConflictError(
        `${ref.namespace}/${ref.name} has no earlier revision to roll back to`,
      );
    }
    rollbackTo(state, target);
    await this.options.store.queueWorkflowCommand(key, {
      type: 'rollback',
      revision: target,
      by: by.actor,
      reason: by.reason,
    });
    await loop.requestSync(key, 'manual');
    await this.audit(key, by, {
      action: 'workflowRollback',
      summary: `rolled the workflow back to revision ${target}`,
    });
    return { revision: target };
  }

  /**
   * Releases the pin of a rolled-back workflow revision and reconciles at
   * once: the current spec deploys again, built from the branches' heads.
   */
  async releaseRollback(
    ref: ApplicationRef,
    by: Requester,
  ): Promise<{ revision: number }> {
    const { key, loop } = await this.reconciled(ref);
    const state = await this.workflowState(key, ref);
    releaseRollback(state); // the same check the loop will apply, answered now
    const { revision } = state.rollback!;
    await this.options.store.queueWorkflowCommand(key, { type: 'release' });
    await loop.requestSync(key, 'manual');
    await this.audit(key, by, {
      action: 'workflowRelease',
      summary: `released the rollback to revision ${revision}`,
    });
    return { revision };
  }

  /**
   * A person's Promote (past the current step, pause or approval gate; the
   * switch of a blue-green) or Abort (traffic back on stable, the new tag
   * held) of a component's rollout on a cluster: checked now, applied by
   * the pass it asks for at once.
   */
  async decideRollout(
    ref: ApplicationRef,
    component: string,
    action: 'promote' | 'abort',
    cluster: string | undefined,
    by: Requester,
  ): Promise<RolloutDecisionResponse> {
    const { key, loop, object } = await this.reconciled(ref);
    const state = await this.workflowState(key, ref);
    const on = cluster ?? this.options.clusters.home?.name ?? 'local';
    const decision = { action, by: by.actor, reason: by.reason };
    const decided = decideRollout(
      state.rollouts ?? [],
      component,
      on,
      decision,
    ).find(r => r.component === component && r.cluster === on && r.decision)!;
    await this.options.store.queueWorkflowCommand(key, {
      type: 'rollout',
      component,
      cluster: on,
      ...decision,
    });
    await loop.requestSync(key, 'manual');
    await this.audit(key, by, {
      action: action === 'promote' ? 'rolloutPromote' : 'rolloutAbort',
      component,
      summary: `${
        action === 'promote' ? 'promoted' : 'aborted'
      } the rollout of ${component} on ${on}`,
    });
    return { rollout: this.rolloutStatus(object, decided) };
  }

  private rolloutStatus(object: KubeObject, state: RolloutState) {
    const component = componentsOf(object).find(
      c => c.name === state.component,
    );
    let spec;
    try {
      spec = component && rolloutSpecOf(component as ApplicationComponent);
    } catch {
      // A trait changed into something invalid: its pass says why; the weight shows as 0.
    }
    return rolloutStatusOf(state, spec);
  }

  /**
   * Approves the plan a `terraform` component with `approve: manual` waits
   * on; the pass it asks for at once applies exactly that plan.
   */
  async approveCloudPlan(
    ref: ApplicationRef,
    component: string,
    by: Requester,
  ): Promise<CloudApproveResponse> {
    const { key, loop, object } = await this.reconciled(ref);
    if (
      !componentsOf(object).some(
        c => c.name === component && c.type === 'terraform',
      )
    )
      throw new NotFoundError(
        `${ref.namespace}/${ref.name} has no terraform component ${component}`,
      );
    const resource = await this.options.store.approveCloudPlan(key, component, {
      by: by.actor,
      at: new Date(),
    });
    await this.audit(key, by, {
      action: 'cloudApprove',
      component,
      summary: `approved the plan of ${component}${
        resource.plan
          ? ` (+${resource.plan.add} ~${resource.plan.change} -${resource.plan.destroy})`
          : ''
      }`,
    });
    await loop.requestSync(key, 'manual');
    return { resource };
  }

  private async workflowState(key: string, ref: ApplicationRef) {
    const state = await this.options.store.getWorkflowState(key);
    if (!state) {
      throw new NotFoundError(
        `${ref.namespace}/${ref.name} has no workflow run yet: it has no workflow steps or placement policies, or has not been reconciled`,
      );
    }
    return state;
  }

  /** The loop, key and live object of an Application this backend reconciles, or why it does not. */
  async reconciled(
    ref: ApplicationRef,
  ): Promise<{ key: string; loop: ReconcileLoop; object: KubeObject }> {
    const { clusters, loop, matchLabels } = this.options;
    if (!loop) {
      throw new ServiceUnavailableError(
        'No clusters are configured: add gitops.clusters to app-config.yaml',
      );
    }
    const { cluster, object } = await clusters.getApplication(ref);
    if (cluster !== clusters.home?.name || !loop.manages(object)) {
      const selector = Object.entries(matchLabels)
        .map(([k, v]) => `${k}=${v}`)
        .join(',');
      throw new ConflictError(
        `Application ${ref.namespace}/${ref.name} in cluster "${cluster}" is not reconciled by this backend: ` +
          `it reconciles the Applications of cluster "${clusters.home?.name}"${
            selector ? ` labelled ${selector}` : ''
          }`,
      );
    }
    return {
      key: ReconcileLoop.keyOf(cluster, ref.namespace, ref.name),
      loop,
      object,
    };
  }

  /**
   * One Application: status, components with the images their live
   * workloads run, live resources with health, sync state, and the
   * Application that applied it from Git, if one did (its catalog entity as
   * far as `credentials` may read the catalog).
   */
  async get(
    ref: ApplicationRef,
    credentials?: BackstageCredentials,
  ): Promise<ApplicationDetails> {
    const { cluster, object } = await this.options.clusters.getApplication(ref);
    const key = ReconcileLoop.keyOf(cluster, ref.namespace, ref.name);
    const [read, sync, managedBy, workflow] = await Promise.all([
      this.inventoryObjects(cluster, object, key),
      this.syncState(key),
      this.managedBy({ cluster, object }, credentials),
      this.options.store.getWorkflowState(key),
    ]);
    const status = statusOf(object);
    const details: ApplicationDetails = {
      cluster,
      namespace: ref.namespace,
      name: ref.name,
      createdAt: object.metadata.creationTimestamp as string | undefined,
      components: componentsOf(object).map(c => ({
        name: c.name,
        type: c.type,
        traits: (c.traits ?? []).map(t => t.type),
        ...componentImages(read.filter(o => o.component === c.name)),
      })),
      phase: object.metadata.deletionTimestamp ? 'deleting' : status.status,
      services: status.services ?? [],
      conditions: status.conditions ?? [],
      workflow: status.workflow as ApplicationDetails['workflow'],
      resources: resourcesByComponent(object, read),
      sync,
      deletion: deletionOf(object),
    };
    if (managedBy) details.managedBy = managedBy;
    const cloud = await this.options.store.listCloudResources(key);
    if (cloud.length) details.cloudResources = cloud;
    if (workflow?.rollouts?.length)
      details.rollouts = workflow.rollouts.map(r =>
        this.rolloutStatus(object, r),
      );
    return details;
  }

  /**
   * The Application that applied `child` from Git (the seed's git-app for
   * first-vela-workflow): named by the child's labels, confirmed by its
   * inventory, with the revision it last synced. Undefined for an
   * Application nobody applied, or whose parent is gone.
   */
  private async managedBy(
    child: { cluster: string; object: KubeObject },
    credentials?: BackstageCredentials,
  ): Promise<ManagedBy | undefined> {
    const { clusters, store, logger } = this.options;
    const owner = owningApplicationOf(child.object);
    const home = clusters.home?.name;
    if (!owner || !home) return undefined;
    const parentRef = {
      cluster: home,
      namespace: owner.namespace,
      name: owner.name,
    };
    const parentKey = ReconcileLoop.keyOf(home, owner.namespace, owner.name);
    let parent;
    try {
      parent = await clusters.getApplication(parentRef);
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
    const [inventories, { revision }] = await Promise.all([
      store.inventories(parentKey),
      store.lastSync(parentKey),
    ]);
    const managing = managingComponentOf(child, parent, inventories);
    if (!managing) return undefined;
    const managedBy: ManagedBy = {
      ...parentRef,
      component: managing.component,
    };
    if (revision) managedBy.revision = revision;
    if (managing.url) managedBy.url = withoutCredentials(managing.url);
    try {
      const entityRef = await this.linkedEntityRef(parentRef, credentials);
      if (entityRef) managedBy.entityRef = entityRef;
    } catch (error) {
      // The catalog being down costs the link, not the page.
      logger.warn(
        `Could not read the catalog link of ${parentKey}: ${stringifyError(
          error,
        )}`,
      );
    }
    return managedBy;
  }

  /** How each kustomize component syncs; Secrets by name only, URLs without credentials. */
  async syncConfig(ref: ApplicationRef): Promise<SyncConfiguration> {
    const { cluster, object } = await this.options.clusters.getApplication(ref);
    const holds = await this.options.store.listHolds(
      ReconcileLoop.keyOf(cluster, ref.namespace, ref.name),
    );
    const defaultInterval = `${DEFAULT_POLL_INTERVAL_MS / 60_000}m`;
    return {
      components: kustomizeComponents(
        componentsOf(object) as ApplicationComponent[],
      ).map(({ component: c, props: p }) => {
        const repo = p.imageRepository;
        const pullInterval = p.pullInterval ?? defaultInterval;
        const entry: SyncConfiguration['components'][number] = {
          name: c.name,
          git: {
            url: withoutCredentials(String(p.url ?? '')),
            branch: branchOf(p),
            path: p.path ?? '.',
            pullInterval,
            prune: p.prune ?? true,
            secretRef: p.secretRef,
          },
        };
        const rollback = rollbackPolicyOf(p);
        if (repo) {
          entry.image = {
            image: repo.image,
            interval: repo.interval ?? pullInterval,
            pattern: repo.filterTags?.pattern,
            extract: repo.filterTags?.extract,
            policy:
              describeImagePolicy(repo.policy) ??
              'none (the component needs one)',
            commitMessage: repo.commitMessage,
            secretRef: repo.secretRef,
            digestReflectionPolicy: repo.digestReflectionPolicy ?? 'Never',
            hold: holds.find(h => h.component === c.name),
            rollback: rollback && {
              onFailure: rollback.onFailure,
              after: rollback.after,
            },
          };
        }
        return entry;
      }),
      commitAuthor: { ...this.options.commitAuthor },
    };
  }

  private async syncState(key: string): Promise<SyncState> {
    const { store, loop } = this.options;
    const [{ run, revision }, suspended, nextSyncAt, holds, workflow] =
      await Promise.all([
        store.lastSync(key),
        store.isSuspended(key),
        loop?.nextSyncAt(key),
        store.listHolds(key),
        store.getWorkflowState(key),
      ]);
    const sync: SyncState = {
      revision,
      lastSyncAt: run?.finishedAt,
      lastSyncResult: run?.result,
      lastSyncError: run?.error,
      nextSyncAt: nextSyncAt?.toISOString(),
      suspended,
      holds,
    };
    if (workflow?.rollback) {
      const { revision: pinned, at, by, reason } = workflow.rollback;
      sync.pinnedRevision = { revision: pinned, at, by, reason };
    }
    return sync;
  }

  /**
   * The objects the Application applied, read live and assessed with
   * kstatus. The store's inventory knows each object's component; when the
   * store has none (a new database), `status.appliedResources` does the job
   * and the live object's component label says where it belongs.
   */
  private async inventoryObjects(
    cluster: string,
    object: KubeObject,
    key: string,
  ): Promise<InventoryObject[]> {
    const { clusters, store, live } = this.options;
    return readInventory(
      live ?? liveObjectsOf(clusters),
      clusters,
      { cluster, object },
      await store.inventories(key),
    );
  }

  /**
   * The catalog entity an Application is linked to, for permission checks:
   * of the entities whose `gitops-workflow.io/application` annotation (or the
   * deprecated `gitops.backstage.io/application`) names it, the first by
   * entity ref (as in the list), read with the plugin's own credentials.
   * Undefined when no entity names it; throws when the catalog cannot be
   * read or no cluster is configured.
   */
  async linkedEntityRef(
    ref: ApplicationRef,
    /** Whose view of the catalog (default the plugin's own). */
    credentials?: BackstageCredentials,
  ): Promise<string | undefined> {
    const { catalog, auth, clusters } = this.options;
    const cluster = clusters.clusterName(ref.cluster);
    const key = ReconcileLoop.keyOf(cluster, ref.namespace, ref.name);
    // Only the annotation values that can name this Application.
    const values = [`${cluster}/${ref.namespace}/${ref.name}`];
    if (clusters.clusterName(undefined) === cluster) {
      values.push(`${ref.namespace}/${ref.name}`);
    }
    const { items } = await catalog.getEntities(
      {
        filter: GITOPS_APPLICATION_ANNOTATIONS.map(annotation => ({
          [`metadata.annotations.${annotation}`]: values,
        })),
        fields: ['kind', 'metadata'],
      },
      { credentials: credentials ?? (await auth.getOwnServiceCredentials()) },
    );
    return this.linksOf(items).get(key);
  }

  /**
   * Application key → the catalog entity annotated with it, as far as
   * `credentials` may read the catalog. The catalog being down costs the
   * links, not the list.
   */
  private async entityRefs(
    credentials: BackstageCredentials,
  ): Promise<Map<string, string>> {
    const { catalog, logger } = this.options;
    try {
      const { items } = await catalog.getEntities(
        {
          filter: GITOPS_APPLICATION_ANNOTATIONS.map(annotation => ({
            [`metadata.annotations.${annotation}`]: CATALOG_FILTER_EXISTS,
          })),
          fields: ['kind', 'metadata'],
        },
        { credentials },
      );
      return this.linksOf(items);
    } catch (error) {
      logger.warn(
        `Could not read catalog links for Applications: ${stringifyError(
          error,
        )}`,
      );
    }
    return new Map();
  }

  /** Application key → entity ref; one Application named by several entities links to the first by ref, every time. */
  private linksOf(items: Entity[]): Map<string, string> {
    const { clusters, logger } = this.options;
    const links = new Map<string, string>();
    const refs = items
      .map(entity => {
        const entityRef = stringifyEntityRef(entity);
        const found = applicationAnnotationOf(entity.metadata.annotations);
        if (found?.deprecated && !this.warnedDeprecated.has(entityRef)) {
          this.warnedDeprecated.add(entityRef);
          logger.warn(deprecatedAnnotationMessage(entityRef));
        }
        return {
          entityRef,
          parsed: parseApplicationRef(found?.value ?? '', found?.annotation),
        };
      })
      .sort((a, b) => a.entityRef.localeCompare(b.entityRef));
    for (const { entityRef, parsed } of refs) {
      if ('error' in parsed) continue;
      const { cluster, namespace, name } = parsed.ref;
      if (cluster && !clusters.has(cluster)) continue;
      const key = ReconcileLoop.keyOf(
        clusters.clusterName(cluster),
        namespace,
        name,
      );
      if (!links.has(key)) links.set(key, entityRef);
    }
    return links;
  }
}

/** The inventory's objects per component, every component of the spec listed. */
function resourcesByComponent(
  object: KubeObject,
  read: InventoryObject[],
): Record<string, ResourceStatus[]> {
  const byComponent: Record<string, ResourceStatus[]> = {};
  for (const c of componentsOf(object)) byComponent[c.name] = [];
  for (const { component, status } of read)
    (byComponent[component] ??= []).push(status);
  return byComponent;
}

function summaryOf(cluster: string, object: KubeObject): ApplicationSummary {
  const status = statusOf(object);
  const services = new Map((status.services ?? []).map(s => [s.name, s]));
  const components = componentsOf(object).map(c => {
    const service = services.get(c.name);
    return {
      name: c.name,
      type: c.type,
      traits: (c.traits ?? []).map(t => t.type),
      healthy: service?.healthy,
      message: service?.message,
    };
  });
  const summary: ApplicationSummary = {
    cluster,
    namespace: object.metadata.namespace ?? 'default',
    name: object.metadata.name,
    createdAt: object.metadata.creationTimestamp as string | undefined,
    // Deleted is deleting from the moment it is asked, before a pass says so.
    phase: object.metadata.deletionTimestamp ? 'deleting' : status.status,
    healthy: components.length > 0 && components.every(c => c.healthy === true),
    components,
  };
  const deletion = deletionOf(object);
  if (deletion) summary.deletion = deletion;
  return summary;
}
