import { DefinitionRegistry } from './registry';
import { builtinComponentTypes } from '../render/builtins/components';
import { builtinTraits } from '../render/builtins/traits';
import { builtinStepTypes } from '../workflow/steps';
import { builtinPolicyTypes } from '../workflow/oamPolicies';
import { blueGreenTrait, canaryTrait } from '../rollout/objects';
import { terraformComponentType } from '../cloud/terraform';
import type { TerraformRunner } from '../cloud/runner';

/** A registry holding the built-in definitions; callers may add their own to it. */
export function createBuiltinDefinitions(
  options: {
    /** What runs `terraform` components (the backend's, once it started). */
    terraform?: () => TerraformRunner | undefined;
  } = {},
): DefinitionRegistry {
  const definitions = new DefinitionRegistry();
  builtinComponentTypes.forEach(d => definitions.addComponentType(d));
  definitions.addComponentType(terraformComponentType(options.terraform));
  [...builtinTraits, canaryTrait, blueGreenTrait].forEach(d =>
    definitions.addTrait(d),
  );
  builtinStepTypes.forEach(d => definitions.addStepType(d));
  builtinPolicyTypes.forEach(d => definitions.addPolicyType(d));
  return definitions;
}

let builtin: DefinitionRegistry | undefined;
/** The definitions used when a caller passes none: the built-ins only. */
export function builtinDefinitions(): DefinitionRegistry {
  builtin ??= createBuiltinDefinitions();
  return builtin;
}
