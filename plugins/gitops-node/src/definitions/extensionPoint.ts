import { createExtensionPoint } from '@backstage/backend-plugin-api';
import type {
  ComponentTypeDefinition,
  PolicyTypeDefinition,
  StepTypeDefinition,
  TraitDefinition,
} from './registry';

/**
 * Lets backend modules add component types, traits, workflow step types and
 * policy types to the gitops backend plugin, as KubeVela's definitions do.
 *
 * @public
 */
export interface GitopsDefinitionsExtensionPoint {
  addComponentType(definition: ComponentTypeDefinition): void;
  addTrait(definition: TraitDefinition): void;
  addStepType(definition: StepTypeDefinition): void;
  addPolicyType(definition: PolicyTypeDefinition): void;
}

/**
 * The extension point of the gitops backend plugin for definitions.
 *
 * @public
 */
export const gitopsDefinitionsExtensionPoint =
  createExtensionPoint<GitopsDefinitionsExtensionPoint>({
    id: 'gitops.definitions',
  });
