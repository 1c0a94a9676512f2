import type { Command } from 'commander';

/** Every `gitops` sub-command registers itself on the root program. */
export const commands: Array<(program: Command) => void> = [];
