import {
  deleteObjects,
  type InventoryEntry,
  type ObjectChange,
  type ObjectLeft,
} from '../apply/apply';
import type { KubeClient } from '../kube/client';
import type { KubeObject } from '../kube/objects';
import { isRecord } from '../model/fields';
import {
  applicationOwner,
  type Application,
  type ApplicationComponent,
  type ApplicationPolicy,
} from '../model/types';
import { keptByGarbageCollect } from './oamPolicies';

/** An object left on a cluster by a deletion, and why. */
export interface ClusterObjectLeft extends ObjectLeft {
  cluster: string;
}

export interface CollectInput {
  /** The Application being deleted: its name, namespace and policies. */
  app: KubeObject;
  /** What it deployed, by cluster (the store's, or `status.appliedResources`). */
  inventories: Record<string, InventoryEntry[]>;
  /** KubeVela's orphan marker: keep everything. */
  orphan: boolean;
  /** A client for a configured cluster; undefined for a cluster this backend does not know. */
  clientFor: (cluster: string) => KubeClient | undefined;
  /** How long to wait for deleted objects to be gone before reporting them (default 1 s). */
  waitMs?: number;
}

export interface CollectResult {
  /** What is still to delete, by cluster: the inventory to keep until it is empty. */
  inventories: Record<string, InventoryEntry[]>;
  /** Still there, with why: the deletion is not finished. */
  remaining: ClusterObjectLeft[];
  /** Left on purpose, with why: a keep rule, the orphan marker, another owner. */
  kept: ClusterObjectLeft[];
  changes: ObjectChange[];
  writes: number;
}

/**
 * The policies and component types of a deleted Application, read leniently:
 * an Application whose spec no longer parses must still be collectable.
 */
function specOf(app: KubeObject): Pick<Application, 'spec'> {
  const spec = isRecord(app.spec) ? app.spec : {};
  const list = (value: unknown) =>
    (Array.isArray(value) ? value : []).filter(isRecord);
  return {
    spec: {
      components: list(spec.components).map(c => ({
        name: String(c.name ?? ''),
        type: String(c.type ?? ''),
      })) as ApplicationComponent[],
      policies: list(spec.policies).map(p => ({
        name: String(p.name ?? ''),
        type: String(p.type ?? ''),
        properties: isRecord(p.properties) ? p.properties : {},
      })) as ApplicationPolicy[],
    },
  };
}

/**
 * The deletion of an Application: every object it deployed, on every
 * cluster, is deleted unless KubeVela's rules keep it (the orphan marker,
 * a `garbage-collect` rule with `strategy: never` or `propagation: orphan`)
 * or another Application owns it now (the ownership labels decide, in
 * `deleteObjects`). Returns what is still there and why, so the caller
 * reports it and tries again; an empty `remaining` means done.
 */
export async function collectApplication(
  input: CollectInput,
): Promise<CollectResult> {
  const { app } = input;
  const meta = {
    name: app.metadata.name,
    namespace: app.metadata.namespace ?? 'default',
  };
  const policies = specOf(app);
  const result: CollectResult = {
    inventories: {},
    remaining: [],
    kept: [],
    changes: [],
    writes: 0,
  };
  for (const [cluster, inventory] of Object.entries(input.inventories)) {
    const toDelete: InventoryEntry[] = [];
    for (const entry of inventory) {
      const reason = input.orphan
        ? 'the Application carries the orphan marker'
        : keptByGarbageCollect(policies, entry, 'delete');
      if (reason) result.kept.push({ cluster, entry, reason });
      else toDelete.push(entry);
    }
    if (toDelete.length === 0) continue;
    const client = input.clientFor(cluster);
    if (!client) {
      for (const entry of toDelete) {
        result.remaining.push({
          cluster,
          entry,
          reason: `cluster "${cluster}" is not configured in this backend`,
        });
      }
      result.inventories[cluster] = toDelete;
      continue;
    }
    const deleted = await deleteObjects(client, toDelete, {
      owner: applicationOwner(meta),
      waitMs: input.waitMs,
    });
    result.changes.push(...deleted.changes);
    result.writes += deleted.writes;
    result.kept.push(...deleted.skipped.map(s => ({ ...s, cluster })));
    result.remaining.push(...deleted.remaining.map(r => ({ ...r, cluster })));
    if (deleted.remaining.length > 0)
      result.inventories[cluster] = deleted.remaining.map(r => r.entry);
  }
  return result;
}

/** `Deployment default/web on local: <reason>`, for status messages. */
export function describeLeft(left: ClusterObjectLeft): string {
  const { entry } = left;
  return `${entry.kind} ${entry.namespace ? `${entry.namespace}/` : ''}${
    entry.name
  } on ${left.cluster}: ${left.reason}`;
}
