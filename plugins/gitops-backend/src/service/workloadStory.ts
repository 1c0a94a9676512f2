import { ApplicationDetails } from '@gitops-workflow/plugin-gitops-common';
import {
  APPLICATION_GVK,
  ApplicationStatus,
  inventoriesFromStatus,
  InventoryEntry,
  isPodWorkload,
  KubeObject,
  kustomizeComponents,
  owningApplicationOf,
  podImagesOf,
  type ApplicationComponent,
} from '@gitops-workflow/plugin-gitops-node';
import type { InventoryObject } from './resourceTree';

type ComponentImages = Pick<
  ApplicationDetails['components'][number],
  'images' | 'imagesUnknown'
>;

const describe = (o: InventoryObject) =>
  `${o.status.kind} ${o.status.namespace ? `${o.status.namespace}/` : ''}${
    o.status.name
  }`;

/**
 * The images a component runs, from its live workloads' pod templates (a
 * webservice's Deployment), or why that is not knowable: nothing deployed
 * yet, no workload among its objects, or its workloads could not be read.
 */
export function componentImages(objects: InventoryObject[]): ComponentImages {
  if (objects.length === 0)
    return {
      imagesUnknown:
        'Nothing of it is deployed yet: no objects are recorded for it',
    };
  const workloads = objects.filter(o =>
    isPodWorkload(o.status.apiVersion, o.status.kind),
  );
  if (workloads.length === 0)
    return {
      imagesUnknown: `None of its objects runs containers (${objects
        .map(describe)
        .join(', ')})`,
    };
  const images = [
    ...new Set(workloads.flatMap(o => (o.live && podImagesOf(o.live)) ?? [])),
  ];
  if (images.length > 0) return { images };
  return {
    imagesUnknown: `Its workloads could not be read: ${workloads
      .map(o => `${describe(o)}: ${o.status.message ?? o.status.health}`)
      .join('; ')}`,
  };
}

/** Whether an inventory holds the Application `namespace/name`. */
const holdsApplication =
  (namespace: string, name: string) => (entry: InventoryEntry) =>
    entry.group === APPLICATION_GVK.group &&
    entry.kind === APPLICATION_GVK.kind &&
    entry.namespace === namespace &&
    entry.name === name;

/**
 * Which Application applied `child` from Git, and with which component: the
 * one its labels name, if that one's inventory on the child's cluster
 * (the store's, else its `status.appliedResources`) really holds it. A
 * label alone is anyone's to write; the inventory is ours.
 */
export function managingComponentOf(
  child: { cluster: string; object: KubeObject },
  parent: { cluster: string; object: KubeObject },
  stored: Record<string, InventoryEntry[]> | undefined,
): { component: string; url?: string } | undefined {
  const namespace = child.object.metadata.namespace ?? 'default';
  const inventories =
    stored ??
    inventoriesFromStatus(
      parent.object.status as ApplicationStatus,
      parent.cluster,
    );
  const entry = (inventories[child.cluster] ?? []).find(
    holdsApplication(namespace, child.object.metadata.name),
  );
  if (!entry) return undefined;
  const component =
    entry.component ?? owningApplicationOf(child.object)?.component;
  if (!component) return undefined;
  const components = ((parent.object.spec as { components?: unknown[] })
    ?.components ?? []) as ApplicationComponent[];
  const source = kustomizeComponents(components).find(
    c => c.component.name === component,
  );
  return {
    component,
    // With any credentials in it: the caller strips them.
    ...(typeof source?.props.url === 'string' ? { url: source.props.url } : {}),
  };
}
