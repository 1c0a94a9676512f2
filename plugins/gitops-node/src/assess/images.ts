import { groupOf, type KubeObject } from '../kube/objects';

type PodSpec = { containers?: Array<{ image?: unknown }> };

const template = (spec: any): PodSpec | undefined => spec?.template?.spec;

/** Where each workload kind (`group/Kind`) keeps the spec of the pods it runs. */
const POD_SPECS: Record<string, (spec: any) => PodSpec | undefined> = {
  '/Pod': spec => spec,
  'apps/Deployment': template,
  'apps/StatefulSet': template,
  'apps/DaemonSet': template,
  'apps/ReplicaSet': template,
  'batch/Job': template,
  'batch/CronJob': spec => template(spec?.jobTemplate?.spec),
};

/**
 * The images a live workload runs: its pod template's containers (init
 * containers finish before the pod runs), in order. Undefined for an object
 * that runs no pods (a Service, a ConfigMap, an Application).
 */
export function podImagesOf(object: KubeObject): string[] | undefined {
  const podSpecOf = POD_SPECS[`${groupOf(object.apiVersion)}/${object.kind}`];
  if (!podSpecOf) return undefined;
  return (podSpecOf(object.spec)?.containers ?? [])
    .map(c => c.image)
    .filter((image): image is string => typeof image === 'string');
}

/** Whether objects of this kind run pods (their images are `podImagesOf`). */
export function isPodWorkload(apiVersion: string, kind: string): boolean {
  return `${groupOf(apiVersion)}/${kind}` in POD_SPECS;
}
