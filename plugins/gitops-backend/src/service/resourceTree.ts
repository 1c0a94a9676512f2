import { NotFoundError } from '@backstage/errors';
import {
  ApplicationRef,
  ResourceHealth,
  ResourceStatus,
  ResourceTree,
  ResourceTreeComponent,
  ResourceTreeNode,
} from '@gitops-workflow/plugin-gitops-common';
import {
  apiVersionOf,
  ApplicationStatus,
  assessHealth,
  groupOf,
  InventoryEntry,
  inventoriesFromStatus,
  KubeObject,
  LABEL_COMPONENT,
  mapLimited,
  ObjectHealth,
  ObjectRef,
  worstHealth,
} from '@gitops-workflow/plugin-gitops-node';
import { GitopsStore } from '../store/GitopsStore';
import { ClusterService } from './ClusterService';
import { ReconcileLoop } from './ReconcileLoop';

/**
 * Where the Application views read live objects. Every read has the
 * cluster client's deadline; a cache of the clusters' objects can serve
 * the same calls.
 */
export interface LiveObjects {
  /** One object; undefined when it does not exist. NotFoundError when its kind is not served. */
  get(cluster: string, ref: ObjectRef): Promise<KubeObject | undefined>;
  /** The objects of a kind in a namespace that match a label selector. */
  list(
    cluster: string,
    kind: Pick<ObjectRef, 'group' | 'version' | 'kind'>,
    options: { namespace: string; labelSelector: string },
  ): Promise<KubeObject[]>;
}

/** {@link LiveObjects} read from the API servers, through each cluster's shared client. */
export function liveObjectsOf(clusters: ClusterService): LiveObjects {
  return {
    get: (cluster, ref) => clusters.client(cluster).get(ref),
    list: (cluster, kind, options) =>
      clusters.client(cluster).list(kind, options),
  };
}

/** Live reads of one object at a time, in parallel up to this many. */
const READ_CONCURRENCY = 8;
/** The ReplicaSets of a Deployment shown: the newest that have replicas. */
export const MAX_REPLICA_SETS = 3;
/** The Pods shown under one owner. */
export const MAX_PODS = 50;

const REPLICA_SET = { group: 'apps', version: 'v1', kind: 'ReplicaSet' };
const POD = { group: '', version: 'v1', kind: 'Pod' };
/** Kinds whose controllers make Pods, keyed by `group/Kind`. */
const POD_OWNERS = new Set([
  'apps/ReplicaSet',
  'apps/StatefulSet',
  'apps/DaemonSet',
  'batch/Job',
]);

/** One object of an Application's inventory, read live. */
export interface InventoryObject {
  component: string;
  status: ResourceStatus;
  /** Undefined when it is gone or could not be read (`status` says which). */
  live?: KubeObject;
}

/**
 * The objects of an Application's inventory (the store's, else its
 * `status.appliedResources`), read live and assessed with kstatus, each
 * with its component: the inventory's, else the live object's component
 * label, else the Application's only component.
 */
export async function readInventory(
  live: LiveObjects,
  clusters: Pick<ClusterService, 'has'>,
  application: { cluster: string; object: KubeObject },
  stored: Record<string, InventoryEntry[]> | undefined,
): Promise<InventoryObject[]> {
  const { cluster, object } = application;
  const inventories =
    stored ??
    inventoriesFromStatus(object.status as ApplicationStatus, cluster);
  const entries = Object.entries(inventories)
    .filter(([name]) => clusters.has(name))
    .flatMap(([name, list]) => list.map(entry => ({ cluster: name, entry })));
  const components = componentsOf(object);
  const lone = components.length === 1 ? components[0].name : '';
  return mapLimited(
    entries,
    READ_CONCURRENCY,
    async ({ cluster: name, entry }) => {
      let found: KubeObject | undefined;
      let health: ObjectHealth;
      try {
        found = await live.get(name, entry);
        health = assessHealth(found);
      } catch (error) {
        // A kind the cluster no longer serves has no objects either.
        health =
          error instanceof NotFoundError
            ? assessHealth(undefined)
            : {
                status: 'Unknown',
                message: `Could not read it: ${(error as Error).message}`,
              };
      }
      const status: ResourceStatus = {
        apiVersion: apiVersionOf(entry),
        kind: entry.kind,
        namespace: entry.namespace,
        name: entry.name,
        cluster: name,
        health: health.status,
        message: health.message,
      };
      return {
        component:
          entry.component ?? found?.metadata.labels?.[LABEL_COMPONENT] ?? lone,
        status,
        live: found,
      };
    },
  );
}

interface SpecComponent {
  name: string;
  type: string;
}

function componentsOf(object: KubeObject): SpecComponent[] {
  return (
    (object.spec as { components?: SpecComponent[] } | undefined)?.components ??
    []
  );
}

interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{
    key: string;
    operator: string;
    values?: string[];
  }>;
}

/**
 * A workload's `spec.selector` as a label selector query; undefined for a
 * missing or empty one, which would select every Pod of the namespace.
 */
export function labelSelectorOf(object: KubeObject): string | undefined {
  const selector = (object.spec as { selector?: LabelSelector } | undefined)
    ?.selector;
  const terms = [
    ...Object.entries(selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`),
    ...(selector?.matchExpressions ?? []).map(({ key, operator, values }) => {
      const list = `(${(values ?? []).join(',')})`;
      switch (operator) {
        case 'In':
          return `${key} in ${list}`;
        case 'NotIn':
          return `${key} notin ${list}`;
        case 'Exists':
          return key;
        default:
          return `!${key}`;
      }
    }),
  ];
  return terms.length ? terms.join(',') : undefined;
}

const ownedBy = (owner: KubeObject) => (object: KubeObject) =>
  ((object.metadata.ownerReferences ?? []) as Array<{ uid?: string }>).some(
    ref => ref.uid !== undefined && ref.uid === owner.metadata.uid,
  );

const createdAt = (object: KubeObject) =>
  (object.metadata.creationTimestamp as string | undefined) ?? '';

const newestFirst = (a: KubeObject, b: KubeObject) =>
  createdAt(b).localeCompare(createdAt(a));

/** A Deployment's rollout number of a ReplicaSet (its controller's annotation). */
const revisionOf = (object: KubeObject) =>
  Number(
    object.metadata.annotations?.['deployment.kubernetes.io/revision'] ?? 0,
  );

const hasReplicas = (object: KubeObject) => {
  const spec = (object.spec as { replicas?: number } | undefined)?.replicas;
  const status = (object.status as { replicas?: number } | undefined)?.replicas;
  return (spec ?? 0) > 0 || (status ?? 0) > 0;
};

function nodeOf(
  object: KubeObject,
  health = assessHealth(object),
): ResourceTreeNode {
  const node: ResourceTreeNode = {
    apiVersion: object.apiVersion,
    kind: object.kind,
    name: object.metadata.name,
    health: health.status,
    message: health.message,
    children: [],
  };
  if (object.metadata.namespace) node.namespace = object.metadata.namespace;
  const created = createdAt(object);
  if (created) node.createdAt = created;
  return node;
}

/** Keeps the first `max` of `objects` as children, counting the rest. */
function bounded(
  node: ResourceTreeNode,
  objects: KubeObject[],
  max: number,
  child: (object: KubeObject) => ResourceTreeNode,
): void {
  node.children = objects.slice(0, max).map(child);
  if (objects.length > max) node.omittedChildren = objects.length - max;
}

/**
 * Application → components → the objects it applied → what their
 * controllers made for them (a Deployment's ReplicaSets and their Pods; the
 * Pods of a ReplicaSet, StatefulSet, DaemonSet or Job), each with kstatus
 * health. Owned objects are listed by the owner's selector in its
 * namespace and told apart by `ownerReferences`; a Deployment shows its
 * newest {@link MAX_REPLICA_SETS} ReplicaSets with replicas, an owner at
 * most {@link MAX_PODS} Pods, and says how many more there are.
 */
export class ResourceTreeService {
  constructor(
    private readonly options: {
      clusters: ClusterService;
      store: Pick<GitopsStore, 'inventories'>;
      live: LiveObjects;
    },
  ) {}

  async tree(ref: ApplicationRef): Promise<ResourceTree> {
    const { clusters, store, live } = this.options;
    const application = await clusters.getApplication(ref);
    const { cluster, object } = application;
    const objects = await readInventory(
      live,
      clusters,
      application,
      await store.inventories(
        ReconcileLoop.keyOf(cluster, ref.namespace, ref.name),
      ),
    );
    const nodes = await mapLimited(objects, READ_CONCURRENCY, async item => {
      const node: ResourceTreeNode = item.live
        ? nodeOf(item.live)
        : {
            apiVersion: item.status.apiVersion,
            kind: item.status.kind,
            name: item.status.name,
            health: item.status.health as ResourceHealth,
            message: item.status.message,
            children: [],
          };
      if (!item.live && item.status.namespace)
        node.namespace = item.status.namespace;
      node.cluster = item.status.cluster;
      if (item.live)
        await this.addChildren(item.status.cluster!, item.live, node);
      return { component: item.component, node };
    });

    const status = (object.status ?? {}) as ApplicationStatus;
    const messages = new Map(
      (status.services ?? []).map(s => [s.name, s.message]),
    );
    const spec = componentsOf(object);
    const names = [
      ...spec.map(c => c.name),
      ...nodes.map(n => n.component).filter(c => !spec.some(s => s.name === c)),
    ];
    const components = [...new Set(names)].map(
      (name): ResourceTreeComponent => {
        const own = nodes.filter(n => n.component === name).map(n => n.node);
        const worst = worstHealth(
          own.map(n => ({ status: n.health, message: n.message ?? '' })),
        );
        const component: ResourceTreeComponent = {
          name,
          health: worst.status,
          objects: own,
        };
        const type = spec.find(c => c.name === name)?.type;
        if (type) component.type = type;
        const message = messages.get(name) || worst.message;
        if (message) component.message = message;
        return component;
      },
    );
    const worst = worstHealth(
      components.map(c => ({
        status: c.health,
        message:
          c.health === 'Current' ? '' : `${c.name}: ${c.message ?? c.health}`,
      })),
    );
    const tree: ResourceTree = {
      cluster,
      namespace: ref.namespace,
      name: ref.name,
      phase: object.metadata.deletionTimestamp ? 'deleting' : status.status,
      health: worst.status,
      components,
    };
    if (worst.message) tree.message = worst.message;
    return tree;
  }

  /** The owned objects of one node, bounded; a failed read is said on the node, not thrown. */
  private async addChildren(
    cluster: string,
    owner: KubeObject,
    node: ResourceTreeNode,
  ): Promise<void> {
    const kind = `${groupOf(owner.apiVersion)}/${owner.kind}`;
    const namespace = owner.metadata.namespace;
    const selector = labelSelectorOf(owner);
    const isDeployment = kind === 'apps/Deployment';
    if (!namespace || !selector || (!isDeployment && !POD_OWNERS.has(kind)))
      return;
    const { live } = this.options;
    try {
      // A Deployment's Pods match its selector too: one list serves all its ReplicaSets.
      const pods = (
        await live.list(cluster, POD, { namespace, labelSelector: selector })
      ).sort(newestFirst);
      const podsOf = (parent: KubeObject, parentNode: ResourceTreeNode) =>
        bounded(parentNode, pods.filter(ownedBy(parent)), MAX_PODS, pod =>
          nodeOf(pod),
        );
      if (!isDeployment) {
        podsOf(owner, node);
        return;
      }
      const replicaSets = (
        await live.list(cluster, REPLICA_SET, {
          namespace,
          labelSelector: selector,
        })
      )
        .filter(ownedBy(owner))
        .sort((a, b) => revisionOf(b) - revisionOf(a) || newestFirst(a, b));
      // Old ReplicaSets scaled to zero are the rollout history; the newest stays even when empty.
      const shown = replicaSets
        .filter((rs, i) => i === 0 || hasReplicas(rs))
        .slice(0, MAX_REPLICA_SETS);
      node.children = shown.map(rs => {
        const child = nodeOf(rs);
        podsOf(rs, child);
        return child;
      });
      if (replicaSets.length > shown.length)
        node.omittedChildren = replicaSets.length - shown.length;
    } catch (error) {
      node.childrenError = `Could not read its ${
        isDeployment ? 'ReplicaSets and Pods' : 'Pods'
      }: ${(error as Error).message}`;
    }
  }
}
