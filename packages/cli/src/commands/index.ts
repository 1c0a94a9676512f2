import type { Command } from 'commander';
import { registerDryRunCommand } from './dry-run';
import { registerImagesCommand } from './images';
import { registerLsCommand } from './ls';
import { registerPolicyCommand } from './policy';
import { registerSettersCommand } from './setters';
import { registerStatusCommand } from './status';
import {
  registerAuditCommand,
  registerReleaseCommand,
  registerRollbackCommand,
  registerWorkflowCommand,
} from './workflow';

/** Every `gitops` sub-command registers itself on the root program. */
export const commands: Array<(program: Command) => void> = [
  registerPolicyCommand,
  registerImagesCommand,
  registerDryRunCommand,
  registerLsCommand,
  registerSettersCommand,
  registerStatusCommand,
  registerWorkflowCommand,
  registerRollbackCommand,
  registerReleaseCommand,
  registerAuditCommand,
];
