import { Command } from 'commander';
import fs from 'node:fs';
import {
  ImageScanner,
  RegistryCredentials,
  compileImagePolicy,
} from '@gitops-workflow/plugin-gitops-node';
import {
  PolicyFlags,
  addPolicyOptions,
  policySpecs,
  readStdin,
} from './policy';

interface ScanFlags extends PolicyFlags {
  username?: string;
  passwordStdin?: boolean;
  insecure?: boolean;
  caFile?: string;
  list?: boolean;
}

export function registerImagesCommand(program: Command): void {
  const images = program
    .command('images')
    .description('Inspect image registries');
  addPolicyOptions(
    images
      .command('scan <image>')
      .description(
        'List the tags of an image (cosign *.sig tags excluded) and what each given policy picks',
      ),
  )
    .option('--username <user>', 'registry user name')
    .option('--password-stdin', 'read the registry password from stdin')
    .option('--insecure', 'talk plain HTTP to the registry')
    .option('--ca-file <path>', 'PEM CA bundle to trust for the registry')
    .option('--list', 'also print every tag, one per line')
    .action(async (image: string, flags: ScanFlags) => {
      if (flags.passwordStdin && !flags.username) {
        throw new Error('--password-stdin needs --username');
      }
      let credentials: RegistryCredentials | undefined;
      if (flags.username) {
        if (!flags.passwordStdin) {
          throw new Error(
            '--username needs --password-stdin (passwords are never taken as arguments)',
          );
        }
        credentials = {
          username: flags.username,
          password: (await readStdin()).replace(/\r?\n$/, ''),
        };
      }
      const policies = policySpecs(flags).map(({ label, spec }) => ({
        label,
        policy: compileImagePolicy(spec, { image }),
      }));
      const scan = await new ImageScanner().scan(image, {
        credentials,
        insecure: flags.insecure,
        ca: flags.caFile ? fs.readFileSync(flags.caFile, 'utf8') : undefined,
      });
      const out: string[] = [
        `image: ${scan.image.name}`,
        `tags: ${scan.tags.length}`,
      ];
      let failed = false;
      for (const { label, policy } of policies) {
        try {
          out.push(`${label}: ${policy.select(scan.tags)}`);
        } catch (error) {
          failed = true;
          out.push(`${label}: error: ${(error as Error).message}`);
        }
      }
      if (flags.list) out.push(...scan.tags);
      process.stdout.write(`${out.join('\n')}\n`);
      if (failed) process.exitCode = 1;
    });
}
