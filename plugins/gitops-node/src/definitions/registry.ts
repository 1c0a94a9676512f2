import { ConflictError } from '@backstage/errors';
import type { Fields } from '../model/fields';
import type { ClusterConnectionConfig } from '../clusters';
import type { KubeClient } from '../kube/client';
import type { Project } from '../model/project';
import type {
  Application,
  ApplicationComponent,
  ApplicationTrait,
  KubeObject,
  WorkflowStep,
} from '../model/types';
import type { StepOutcome } from '../workflow/plan';
import type { DeployTarget } from '../workflow/oamPolicies';
import type { StepState } from '../workflow/types';

export interface RenderOptions {
  definitions?: DefinitionRegistry;
  /** What the sources stage prepared for this pass (the objects of Git components). */
  sources?: PreparedManifests;
}

/** The objects the sources stage built for each Git-backed component, by component name. */
export type PreparedManifests = ReadonlyMap<string, KubeObject[]>;

export interface ComponentRenderContext {
  app: Application;
  component: ApplicationComponent;
  /** The component's field path, e.g. `spec.components[1]`, for error messages. */
  path: string;
  options: RenderOptions;
}

/** What a component type renders: its objects, and which of them traits patch. */
export interface ComponentOutput {
  objects: KubeObject[];
  workload?: KubeObject;
}

/** One component deployed to one cluster and namespace, for what it provisions outside its objects. */
export interface ProvisionContext {
  app: Application;
  component: ApplicationComponent;
  /** The component's field path, e.g. `spec.components[1]`, for error messages. */
  path: string;
  cluster: ClusterConnectionConfig;
  namespace: string;
  /** The pass's client for the cluster (as the Application's ServiceAccount when it has one). */
  client: KubeClient;
  /** What the Application's project allows (its source repositories); none outside the backend. */
  project?: Project;
}

/** Where a component's provisioning stands after one look at it. */
export interface ProvisionResult {
  /** Components that depend on it may go ahead. */
  ready: boolean;
  /** What it is doing or waiting for, shown as the component's status. */
  message: string;
  /** Found changed outside Git (and put back, or waiting for approval), told once. */
  drifted?: string[];
}

/** A deleted Application's component, read leniently, and how to reach its clusters. */
export interface ReleaseContext {
  app: { namespace: string; name: string };
  component: Pick<ApplicationComponent, 'name' | 'type' | 'properties'>;
  /** A configured cluster and its client; undefined for one this backend does not know. */
  cluster(
    name: string,
  ): { config: ClusterConnectionConfig; client: KubeClient } | undefined;
}

export interface ComponentTypeDefinition {
  type: string;
  /** Throws an InputError naming the field path when the properties are wrong. */
  validate(properties: Fields): void;
  render(
    ctx: ComponentRenderContext,
  ): ComponentOutput | Promise<ComponentOutput>;
  /**
   * For a type that stands for something outside the cluster's objects (a
   * cloud resource): called each pass the component is deployed, after its
   * objects are applied. It must answer quickly (long work runs in the
   * background and is looked at again next pass); components that
   * `dependsOn` it wait until it is ready. Throws an InputError when it
   * failed for good (the step fails with that message).
   */
  provision?(ctx: ProvisionContext): Promise<ProvisionResult>;
  /**
   * Undoes `provision` when the Application is deleted, before its objects
   * are collected; called each deletion pass until it resolves with `done`.
   */
  release?(ctx: ReleaseContext): Promise<{ done: boolean; message: string }>;
}

export interface TraitContext {
  app: Application;
  component: ApplicationComponent;
  trait: ApplicationTrait;
  /** The trait's field path, e.g. `spec.components[0].traits[1]`. */
  path: string;
  /** The component's workload; throws an InputError when the component type has none. */
  workload(): KubeObject;
  /** Every object the component renders so far (traits may patch them). */
  objects: KubeObject[];
  /** Adds an object on behalf of this trait, or returns the one already rendered with the same identity. */
  add(object: KubeObject): KubeObject;
}

export interface TraitDefinition {
  type: string;
  validate(properties: Fields): void;
  apply(ctx: TraitContext): void;
}

/** What a workflow step's `run` is given. */
export interface StepContext {
  app: Application;
  step: WorkflowStep;
  /** `step "name"`, to start error messages with. */
  where: string;
  /** The run's revision and the other steps as they stand. */
  revision: number;
  steps: ReadonlyArray<StepState>;
  /** Every configured cluster, and the one a step uses when it names none. */
  clusters: ClusterConnectionConfig[];
  localCluster: string;
  definitions: DefinitionRegistry;
  /**
   * Renders the components for each target and applies them on the targets'
   * cluster, a `dependsOn` level at a time, from this pass's prepared
   * sources. `owns: 'all'` prunes every component's objects that are no longer
   * rendered (a deploy); `'listed'` touches only the listed components'.
   * Resolves with what is not healthy yet (empty: all healthy).
   */
  deploy(
    components: ApplicationComponent[],
    targets: DeployTarget[],
    owns: 'all' | 'listed',
  ): Promise<string[]>;
  /** How long an outgoing HTTP call may take. */
  httpTimeoutMs: number;
  /** What the Application's project allows (e.g. notification hosts); none outside the backend. */
  project?: Project;
}

/** Components and the targets a step deploys them to. */
export interface StepDeployment {
  components: ApplicationComponent[];
  targets: DeployTarget[];
}

/**
 * A workflow step type. `run` is called each pass while the step runs: it
 * returns `running` to be called again, or the step's end. Suspend and
 * step-group are planned by the workflow itself and have no `run`.
 */
export interface StepTypeDefinition {
  type: string;
  run?(ctx: StepContext): Promise<StepOutcome>;
  /**
   * What `run` would deploy, without deploying: the workflow checks it
   * against the Application's project before any step of the pass runs, so
   * a refused object stops the whole pass. A step without it is still
   * checked, but only when it deploys.
   */
  plan?(ctx: StepContext): StepDeployment[];
}

/** An OAM policy type; its semantics live with the steps and stages that read it. */
export interface PolicyTypeDefinition {
  type: string;
  /** Throws an InputError naming the field path when the properties are wrong. */
  validate?(properties: Fields): void;
}

/**
 * The component types, traits, workflow step types and policy types an
 * Application may use. Built-ins register through the same calls as a
 * backend module that brings its own (`gitopsDefinitionsExtensionPoint`).
 */
export class DefinitionRegistry {
  private readonly componentTypes = new Map<string, ComponentTypeDefinition>();
  private readonly traits = new Map<string, TraitDefinition>();
  private readonly stepTypes = new Map<string, StepTypeDefinition>();
  private readonly policyTypes = new Map<string, PolicyTypeDefinition>();

  addComponentType(definition: ComponentTypeDefinition): this {
    if (this.componentTypes.has(definition.type)) {
      throw new ConflictError(
        `Component type "${definition.type}" is already registered`,
      );
    }
    this.componentTypes.set(definition.type, definition);
    return this;
  }

  addTrait(definition: TraitDefinition): this {
    if (this.traits.has(definition.type)) {
      throw new ConflictError(
        `Trait "${definition.type}" is already registered`,
      );
    }
    this.traits.set(definition.type, definition);
    return this;
  }

  addStepType(definition: StepTypeDefinition): this {
    if (this.stepTypes.has(definition.type)) {
      throw new ConflictError(
        `Workflow step type "${definition.type}" is already registered`,
      );
    }
    this.stepTypes.set(definition.type, definition);
    return this;
  }

  addPolicyType(definition: PolicyTypeDefinition): this {
    if (this.policyTypes.has(definition.type)) {
      throw new ConflictError(
        `Policy type "${definition.type}" is already registered`,
      );
    }
    this.policyTypes.set(definition.type, definition);
    return this;
  }

  getStepType(type: string): StepTypeDefinition | undefined {
    return this.stepTypes.get(type);
  }

  getPolicyType(type: string): PolicyTypeDefinition | undefined {
    return this.policyTypes.get(type);
  }

  listStepTypes(): string[] {
    return [...this.stepTypes.keys()].sort();
  }

  listPolicyTypes(): string[] {
    return [...this.policyTypes.keys()].sort();
  }

  getComponentType(type: string): ComponentTypeDefinition | undefined {
    return this.componentTypes.get(type);
  }

  getTrait(type: string): TraitDefinition | undefined {
    return this.traits.get(type);
  }

  listComponentTypes(): string[] {
    return [...this.componentTypes.keys()].sort();
  }

  listTraits(): string[] {
    return [...this.traits.keys()].sort();
  }
}
