import { Command } from 'commander';
import { commands } from './commands';

const program = new Command('gitops')
  .description(
    'GitOps with Workflow: inspect Applications and run the engine offline',
  )
  .showHelpAfterError();

for (const register of commands) {
  register(program);
}

program.parseAsync(process.argv).catch(error => {
  process.stderr.write(
    `gitops: ${error instanceof Error ? error.message : error}\n`,
  );
  process.exit(1);
});
