import { DefinitionRegistry } from '../definitions';
import { builtinComponentTypes } from './components';
import { builtinTraits } from './traits';

/** A registry holding the built-in component types and traits; callers may add their own to it. */
export function createDefaultRegistry(): DefinitionRegistry {
  const registry = new DefinitionRegistry();
  builtinComponentTypes.forEach(definition => registry.addComponentType(definition));
  builtinTraits.forEach(definition => registry.addTrait(definition));
  return registry;
}
