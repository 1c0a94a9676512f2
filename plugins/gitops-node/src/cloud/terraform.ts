import { ServiceUnavailableError } from '@backstage/errors';
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
  /** The backend's runner, once it has one; elsewhere (the CLI) the type only validates and renders. */
  runner: () => TerraformRunner | undefined = () => undefined,
): ComponentTypeDefinition {
  const running = () => {
    const found = runner();
    if (!found)
      throw new ServiceUnavailableError(
        'terraform components are run by the gitops backend, which has not started its OpenTofu runner',
      );
    return found;
  };
  return {
    type: 'terraform',
    validate: fields => void readTerraformProperties(fields),
    render: () => ({ objects: [] }),
    provision: ctx => running().provision(ctx),
    release: ctx => running().release(ctx),
  };
}
