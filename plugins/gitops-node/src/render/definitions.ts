import { ConflictError } from '@backstage/errors';
import type { Fields } from '../model/fields';
import type {
  Application,
  ApplicationComponent,
  ApplicationTrait,
  KubeObject,
} from '../model/types';

/** Where the objects of a `kustomize` component come from (Git checkout + build, supplied by the caller). */
export type KustomizeSource = (
  component: ApplicationComponent,
  app: Application,
) => Promise<KubeObject[]>;

export interface RenderOptions {
  registry?: DefinitionRegistry;
  kustomizeSource?: KustomizeSource;
}

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

export interface ComponentTypeDefinition {
  type: string;
  /** Throws an InputError naming the field path when the properties are wrong. */
  validate(properties: Fields): void;
  render(
    ctx: ComponentRenderContext,
  ): ComponentOutput | Promise<ComponentOutput>;
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

/**
 * The component types and traits an Application may use. Built-ins register
 * through the same calls as a backend module that brings its own.
 */
export class DefinitionRegistry {
  private readonly componentTypes = new Map<string, ComponentTypeDefinition>();
  private readonly traits = new Map<string, TraitDefinition>();

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
