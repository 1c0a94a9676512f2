import { Command } from 'commander';
import { commands } from './commands';
import { redactSecrets } from './secrets';

const program = new Command('gitops')
  .description(
    'GitOps with Workflow: inspect Applications and run the engine offline',
  )
  .showHelpAfterError()
  // Help and commander's own errors pass through the same mask as ours.
  .configureOutput({
    writeOut: text => process.stdout.write(redactSecrets(text)),
    writeErr: text => process.stderr.write(redactSecrets(text)),
  });

for (const register of commands) {
  register(program);
}

program.parseAsync(process.argv).catch(error => {
  // Messages may quote a server's answer or a URL: never let a secret through.
  process.stderr.write(
    redactSecrets(
      `gitops: ${error instanceof Error ? error.message : error}\n`,
    ),
  );
  process.exit(1);
});
