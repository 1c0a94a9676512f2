import { Command, Option } from 'commander';
import {
  ImagePolicySpec,
  compileImagePolicy,
  excludeTags,
} from '@gitops-workflow/plugin-gitops-node';

/** The policy flags `policy select` and `images scan` share. */
export interface PolicyFlags {
  pattern?: string;
  extract?: string;
  alphabetical?: 'asc' | 'desc';
  numerical?: 'asc' | 'desc';
  semver?: string;
}

/** Adds `--pattern`, `--extract`, `--alphabetical`, `--numerical`, `--semver`. */
export function addPolicyOptions(command: Command): Command {
  return command
    .option('--pattern <regex>', 'filterTags.pattern: RE2, unanchored')
    .option(
      '--extract <template>',
      'filterTags.extract: Go Regexp.Expand template such as $ts',
    )
    .addOption(
      new Option('--alphabetical <order>', 'alphabetical policy').choices([
        'asc',
        'desc',
      ]),
    )
    .addOption(
      new Option('--numerical <order>', 'numerical policy').choices([
        'asc',
        'desc',
      ]),
    )
    .option(
      '--semver <range>',
      'semver policy with a Masterminds-style range, e.g. ">=1.0 <2"',
    );
}

/** One spec per policy flag given, labelled for output. */
export function policySpecs(
  flags: PolicyFlags,
): Array<{ label: string; spec: ImagePolicySpec }> {
  const filterTags = { pattern: flags.pattern, extract: flags.extract };
  const specs: Array<{ label: string; spec: ImagePolicySpec }> = [];
  if (flags.alphabetical) {
    specs.push({
      label: `alphabetical ${flags.alphabetical}`,
      spec: {
        filterTags,
        policy: { alphabetical: { order: flags.alphabetical } },
      },
    });
  }
  if (flags.numerical) {
    specs.push({
      label: `numerical ${flags.numerical}`,
      spec: { filterTags, policy: { numerical: { order: flags.numerical } } },
    });
  }
  if (flags.semver !== undefined) {
    specs.push({
      label: `semver ${flags.semver}`,
      spec: { filterTags, policy: { semver: { range: flags.semver } } },
    });
  }
  return specs;
}

/** All of stdin as UTF-8. */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function registerPolicyCommand(program: Command): void {
  const policy = program
    .command('policy')
    .description('Try image tag policies offline');
  addPolicyOptions(
    policy
      .command('select')
      .description(
        'Read tags one per line on stdin and print the one the policy picks ' +
          '(Flux semantics; cosign *.sig tags are left out as a scan would)',
      ),
  )
    .option('--image <name>', 'image name, for error messages')
    .action(async (flags: PolicyFlags & { image?: string }) => {
      const specs = policySpecs(flags);
      if (specs.length !== 1) {
        throw new Error(
          'give exactly one of --alphabetical asc|desc, --numerical asc|desc or --semver RANGE',
        );
      }
      // Validate the spec before waiting on stdin.
      const chosen = compileImagePolicy(specs[0].spec, { image: flags.image });
      const tags = (await readStdin())
        .split(/\r?\n/)
        .filter(line => line !== '');
      process.stdout.write(`${chosen.select(excludeTags(tags))}\n`);
    });
}
