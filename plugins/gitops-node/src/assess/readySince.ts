import { groupOf, type KubeObject } from '../kube/objects';

interface TimedCondition {
  type?: string;
  status?: string;
  reason?: string;
  lastUpdateTime?: string;
  lastTransitionTime?: string;
}

function conditionsOf(object: KubeObject): TimedCondition[] {
  const list = (object.status as { conditions?: unknown } | undefined)
    ?.conditions;
  return Array.isArray(list) ? (list as TimedCondition[]) : [];
}

function dateOf(value: string | undefined): Date | undefined {
  if (!value) return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/**
 * When an object became ready, as the object itself records it: for a
 * Deployment the moment its controller found the rollout complete (its
 * `Progressing` condition turned `NewReplicaSetAvailable`; `Available`
 * stays True through a rolling update, so its time says nothing about
 * this rollout), for anything else with a `Ready` condition (an
 * Application, a Pod) when that turned True. The API server keeps these
 * times in whole seconds. Undefined when the object records no such time
 * or is not ready.
 */
export function readySince(object: KubeObject): Date | undefined {
  const conditions = conditionsOf(object);
  if (object.kind === 'Deployment' && groupOf(object.apiVersion) === 'apps') {
    const progressing = conditions.find(c => c.type === 'Progressing');
    if (
      progressing?.status !== 'True' ||
      progressing.reason !== 'NewReplicaSetAvailable'
    )
      return undefined;
    // The reason changes without a status change: lastUpdateTime moves, lastTransitionTime does not.
    return dateOf(progressing.lastUpdateTime ?? progressing.lastTransitionTime);
  }
  const ready = conditions.find(c => c.type === 'Ready');
  return ready?.status === 'True'
    ? dateOf(ready.lastTransitionTime)
    : undefined;
}

/** The latest of several objects' `readySince`: when the last of them became ready. */
export function latestReadySince(
  objects: Iterable<KubeObject | undefined>,
): Date | undefined {
  let latest: Date | undefined;
  for (const object of objects) {
    const since = object && readySince(object);
    if (since && (!latest || since > latest)) latest = since;
  }
  return latest;
}
