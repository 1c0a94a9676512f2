import type { Command } from 'commander';
import { registerImagesCommand } from './images';
import { registerPolicyCommand } from './policy';

/** Every `gitops` sub-command registers itself on the root program. */
export const commands: Array<(program: Command) => void> = [
  registerPolicyCommand,
  registerImagesCommand,
];
