export { terraformComponentType } from './terraform';
export { TerraformRunner, type TerraformRunnerOptions } from './runner';
export { Tofu, type TofuOptions } from './tofu';
export type {
  CloudAppRef,
  CloudResourceRecord,
  CloudResourceStore,
} from './store';
