import { InputError } from '@backstage/errors';
import { isRecord } from '../model/fields';
import { CLUSTER_SCOPED_KINDS, describeObject, objectKey } from '../kube/objects';
import { builtinDefinitions } from '../definitions/builtins';
import { parseApplication } from './parse';
import type { RenderOptions, TraitContext } from '../definitions/registry';
import {
  APPLICATION_API_VERSION,
  LABEL_APP_NAME,
  LABEL_APP_NAMESPACE,
  LABEL_COMPONENT,
  type Application,
  type KubeObject,
} from '../model/types';

export interface RenderedTrait {
  type: string;
  /** `objectKey`s of the objects this trait added (empty for traits that only patch). */
  objectKeys: string[];
}

export interface RenderedComponent {
  name: string;
  type: string;
  objects: KubeObject[];
  /** `objectKey` of the workload traits patched, when the type has one. */
  workloadKey?: string;
  traits: RenderedTrait[];
}

export interface RenderedApplication {
  application: Application;
  components: RenderedComponent[];
  /** Every object of every component, in component order: what apply receives. */
  objects: KubeObject[];
}

/** Stamps the Application's namespace and ownership labels on one rendered object. */
function finalize(
  app: Application,
  componentName: string,
  object: KubeObject,
): void {
  if (!object.metadata.namespace && !CLUSTER_SCOPED_KINDS.has(object.kind)) {
    object.metadata.namespace = app.metadata.namespace;
  }
  object.metadata.labels = {
    ...object.metadata.labels,
    [LABEL_APP_NAME]: app.metadata.name,
    [LABEL_APP_NAMESPACE]: app.metadata.namespace,
    [LABEL_COMPONENT]: componentName,
  };
}

/**
 * Renders a parsed Application into Kubernetes objects: each component by its
 * type, then its traits in order, then namespace and ownership labels on all.
 * Pure: Git-backed components come prepared by the sources stage.
 */
export async function renderApplication(
  app: Application,
  options: RenderOptions = {},
): Promise<RenderedApplication> {
  const definitions = options.definitions ?? builtinDefinitions();
  const components: RenderedComponent[] = [];
  const owners = new Map<string, string>();

  for (const [index, component] of app.spec.components.entries()) {
    const path = `spec.components[${index}]`;
    const definition = definitions.getComponentType(component.type);
    if (!definition) {
      throw new InputError(
        `${path}.type: unknown component type "${component.type}"`,
      );
    }
    const output = await definition.render({ app, component, path, options });
    const objects = output.objects;
    // A nested Application (the seed's git-app applying first-vela-workflow) is
    // checked now: a broken one is a bad document, and nothing gets applied.
    for (const object of objects) {
      if (
        object.apiVersion === APPLICATION_API_VERSION &&
        object.kind === 'Application'
      ) {
        try {
          parseApplication(object, {
            definitions,
            defaultNamespace: app.metadata.namespace,
          });
        } catch (error) {
          throw new InputError(
            `${path}: component "${component.name}" renders ${describeObject(
              object,
            )}, which is invalid: ${(error as Error).message}`,
          );
        }
      }
    }
    const keyOf = (object: KubeObject) =>
      objectKey({
        ...object,
        metadata: {
          ...object.metadata,
          namespace:
            object.metadata.namespace ??
            (CLUSTER_SCOPED_KINDS.has(object.kind)
              ? undefined
              : app.metadata.namespace),
        },
      });

    const traits: RenderedTrait[] = [];
    for (const [traitIndex, trait] of component.traits.entries()) {
      const traitPath = `${path}.traits[${traitIndex}]`;
      const traitDefinition = definitions.getTrait(trait.type);
      if (!traitDefinition) {
        throw new InputError(
          `${traitPath}.type: unknown trait "${trait.type}"`,
        );
      }
      const added = new Set<string>();
      const ctx: TraitContext = {
        app,
        component,
        trait,
        path: traitPath,
        objects,
        workload() {
          if (!output.workload) {
            throw new InputError(
              `${traitPath}: trait "${trait.type}" needs a workload, and component type "${component.type}" has none`,
            );
          }
          return output.workload;
        },
        add(object) {
          const key = keyOf(object);
          added.add(key);
          const existing = objects.find(o => keyOf(o) === key);
          if (existing) return existing;
          objects.push(object);
          return object;
        },
      };
      traitDefinition.apply(ctx);
      traits.push({ type: trait.type, objectKeys: [...added] });
    }

    for (const object of objects) {
      if (
        !isRecord(object.metadata) ||
        typeof object.metadata.name !== 'string'
      ) {
        throw new InputError(
          `${path}: component "${component.name}" rendered a ${object.kind} without metadata.name`,
        );
      }
      finalize(app, component.name, object);
      const key = objectKey(object);
      const owner = owners.get(key);
      if (owner !== undefined) {
        throw new InputError(
          `${path}: component "${component.name}" renders ${describeObject(
            object,
          )}, which component "${owner}" renders too`,
        );
      }
      owners.set(key, component.name);
    }
    components.push({
      name: component.name,
      type: component.type,
      objects,
      workloadKey: output.workload ? objectKey(output.workload) : undefined,
      traits,
    });
  }
  return {
    application: app,
    components,
    objects: components.flatMap(c => c.objects),
  };
}
