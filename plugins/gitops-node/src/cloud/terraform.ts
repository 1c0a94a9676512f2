import type { ComponentTypeDefinition } from '../definitions/registry';
import { readTerraformProperties } from './properties';
import type { TerraformRunner } from './runner';

/**
 * KubeVela's `terraform` component, run by OpenTofu: it renders no objects;
 * each pass provisions (plan, approve, apply, drift checks) through the
 * runner, and its outputs land in the connection Secret that components
 * depending on it read.
 */
export function terraformComponentType(
  runner: TerraformRunner,
): ComponentTypeDefinition {
  return {
    type: 'terraform',
    validate: fields => void readTerraformProperties(fields),
    render: () => ({ objects: [] }),
    provision: ctx => runner.provision(ctx),
    release: ctx => runner.release(ctx),
  };
}
