import { describeObject, objectKey, type KubeObject } from '../kube/objects';
import {
  assessHealth,
  worstHealth,
  type HealthStatus,
  type ObjectHealth,
} from './health';
import { latestReadySince } from './readySince';

/**
 * Objects that are healthy or not together (a rendered component): the
 * workload whose message speaks for the group, and the objects each of its
 * parts (traits) added.
 */
export interface ObjectGroup {
  name: string;
  type: string;
  objects: KubeObject[];
  /** `objectKey` of the object whose message is the group's (`Ready:1/1`). */
  workloadKey?: string;
  traits: Array<{ type: string; objectKeys: string[] }>;
}

/** One component's health, from its live objects. */
export interface ComponentHealth {
  name: string;
  type: string;
  status: HealthStatus;
  healthy: boolean;
  message: string;
  traits: Array<{ type: string; healthy: boolean; message?: string }>;
  /**
   * When healthy: when the last of its objects became ready, as they record
   * it (a Deployment's completed rollout), when any does. ISO 8601.
   */
  healthySince?: string;
}

/**
 * Health of every group (component), given its live
 * objects by `objectKey` (a missing key means the object is not in the cluster).
 * Component health is the worst of its objects; its message is the workload's
 * (`Ready:1/1`) unless another object is worse.
 */
export function assessComponents(
  components: ReadonlyArray<ObjectGroup>,
  live: ReadonlyMap<string, KubeObject>,
): ComponentHealth[] {
  const healthOf = new Map<
    string,
    ObjectHealth & { key: string; object: KubeObject }
  >();
  for (const object of components.flatMap(c => c.objects)) {
    const key = objectKey(object);
    healthOf.set(key, { ...assessHealth(live.get(key)), key, object });
  }
  const describe = (
    h: ObjectHealth & { key: string; object: KubeObject },
    workloadKey?: string,
  ) =>
    h.key === workloadKey
      ? h.message
      : `${describeObject(h.object)}: ${h.message}`;

  return components.map(component => {
    const healths = component.objects.map(o => healthOf.get(objectKey(o))!);
    const worst = worstHealth(healths) as ObjectHealth & {
      key?: string;
      object?: KubeObject;
    };
    const workload = component.workloadKey
      ? healthOf.get(component.workloadKey)
      : undefined;
    let message = '';
    if (worst.status !== 'Current' && worst.key) {
      message = describe(
        worst as ObjectHealth & { key: string; object: KubeObject },
        component.workloadKey,
      );
    } else if (workload) {
      message = workload.message;
    }
    const healthy = worst.status === 'Current';
    const since = healthy
      ? latestReadySince(component.objects.map(o => live.get(objectKey(o))))
      : undefined;
    return {
      name: component.name,
      type: component.type,
      status: worst.status,
      healthy,
      ...(since ? { healthySince: since.toISOString() } : {}),
      message,
      traits: component.traits.map(trait => {
        const traitWorst = worstHealth(
          trait.objectKeys.map(k => healthOf.get(k)!).filter(Boolean),
        );
        const out: { type: string; healthy: boolean; message?: string } = {
          type: trait.type,
          healthy: traitWorst.status === 'Current',
        };
        if (traitWorst.status !== 'Current') out.message = traitWorst.message;
        return out;
      }),
    };
  });
}

