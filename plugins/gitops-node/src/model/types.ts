import type {
  ApplicationCondition,
  ApplicationPhase,
  ComponentStatus,
} from '@gitops-workflow/plugin-gitops-common';
import type { KubeObject } from '../kube/objects';
import type { ObjectOwner } from '../apply/apply';

export type { KubeObject };

/** A trait attached to a component (`spec.components[].traits[]`). */
export interface ApplicationTrait {
  type: string;
  properties: Record<string, unknown>;
}

/** One component of an Application (`spec.components[]`). */
export interface ApplicationComponent {
  name: string;
  type: string;
  properties: Record<string, unknown>;
  traits: ApplicationTrait[];
  dependsOn: string[];
}

/** One policy (`spec.policies[]`): topology, override, garbage-collect, apply-once… */
export interface ApplicationPolicy {
  name: string;
  type: string;
  properties: Record<string, unknown>;
}

/** One workflow step; `subSteps` only for `step-group`. */
export interface WorkflowStep {
  name: string;
  type: string;
  properties: Record<string, unknown>;
  dependsOn: string[];
  if?: string;
  timeout?: string;
  subSteps?: WorkflowStep[];
}

export interface ApplicationWorkflow {
  mode?: { steps?: 'StepByStep' | 'DAG'; subSteps?: 'StepByStep' | 'DAG' };
  steps: WorkflowStep[];
}

/** The `status` KubeVela writes on an Application, and so do we. */
export interface ApplicationStatus {
  status?: ApplicationPhase;
  services?: ComponentStatus[];
  conditions?: ApplicationCondition[];
  appliedResources?: Array<{
    apiVersion: string;
    kind: string;
    namespace?: string;
    name: string;
    cluster?: string;
  }>;
  observedGeneration?: number;
  [key: string]: unknown;
}

/** A parsed and validated `core.oam.dev/v1beta1` Application. */
export interface Application {
  apiVersion: typeof APPLICATION_API_VERSION;
  kind: 'Application';
  metadata: {
    name: string;
    namespace: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    uid?: string;
    generation?: number;
    resourceVersion?: string;
    creationTimestamp?: string;
  };
  spec: {
    components: ApplicationComponent[];
    policies: ApplicationPolicy[];
    workflow?: ApplicationWorkflow;
  };
  status?: ApplicationStatus;
}

/** The labels that tie every rendered object to its Application and component. */
export const LABEL_APP_NAME = 'app.oam.dev/name';
export const LABEL_APP_NAMESPACE = 'app.oam.dev/namespace';
export const LABEL_COMPONENT = 'app.oam.dev/component';

/**
 * Our finalizer, on every Application we reconcile (added before its first
 * apply): a deleted Application stays, phase `deleting`, until what it
 * deployed is collected. Not KubeVela's own (`app.oam.dev/resource-tracker-finalizer`),
 * so the two controllers never finish each other's work.
 */
export const GITOPS_FINALIZER = 'gitops.backstage.io/finalizer';
/**
 * KubeVela's orphan marker (`vela delete --orphan` adds it): deleting an
 * Application that carries this finalizer leaves every object it deployed.
 */
export const ORPHAN_FINALIZER = 'app.oam.dev/orphan-resource';

/** The Application's kind, as the API server serves it. */
export const APPLICATION_GVK = {
  group: 'core.oam.dev',
  version: 'v1beta1',
  kind: 'Application',
} as const;
export const APPLICATION_API_VERSION =
  `${APPLICATION_GVK.group}/${APPLICATION_GVK.version}` as const;

/** What `applyObjects` needs to stamp and recognise an Application's objects. */
export function applicationOwner(app: {
  name: string;
  namespace: string;
}): ObjectOwner {
  return {
    id: `Application ${app.namespace}/${app.name}`,
    labels: {
      [LABEL_APP_NAME]: app.name,
      [LABEL_APP_NAMESPACE]: app.namespace,
    },
    namespace: app.namespace,
    groupLabel: LABEL_COMPONENT,
    ownerOf(object) {
      const owner = owningApplicationOf(object);
      return owner && `Application ${owner.namespace}/${owner.name}`;
    },
  };
}

/**
 * The Application whose apply stamped an object (its labels), and the
 * component it belongs to there; undefined for an object no Application applied.
 */
export function owningApplicationOf(
  object: Pick<KubeObject, 'metadata'>,
): { namespace: string; name: string; component?: string } | undefined {
  const labels = object.metadata.labels ?? {};
  const name = labels[LABEL_APP_NAME];
  if (!name) return undefined;
  const owner: { namespace: string; name: string; component?: string } = {
    namespace: labels[LABEL_APP_NAMESPACE] ?? object.metadata.namespace ?? '',
    name,
  };
  if (labels[LABEL_COMPONENT]) owner.component = labels[LABEL_COMPONENT];
  return owner;
}

/**
 * The component of an Application manifest that a field belongs to: a path
 * under `spec.components[name=<component>]` of a `core.oam.dev` Application
 * (the seed's image marker in `first-vela-workflow`'s `test-server`).
 * Undefined for a field of any other object. `path` is in kyaml's notation,
 * as the setters report it.
 */
export function applicationComponentOfField(
  object: { apiVersion?: string; kind?: string; name?: string; namespace?: string },
  path: readonly string[],
  /** For a manifest that names no namespace: where it is applied. */
  defaultNamespace: string,
): { namespace: string; name: string; component: string } | undefined {
  if (
    object.kind !== APPLICATION_GVK.kind ||
    !object.apiVersion?.startsWith(`${APPLICATION_GVK.group}/`) ||
    !object.name ||
    path[0] !== 'spec' ||
    path[1] !== 'components'
  )
    return undefined;
  const component = /^\[name=(.+)\]$/.exec(path[2] ?? '')?.[1];
  if (!component) return undefined;
  return {
    namespace: object.namespace ?? defaultNamespace,
    name: object.name,
    component,
  };
}
