import path from 'node:path';
import { Command } from 'commander';
import {
  ImagePolicyChoice,
  applySetters,
  readMarkedFiles,
  writeSetterResult,
} from '@gitops-workflow/plugin-gitops-node';

/**
 * Parses `NS:NAME=IMAGE:TAG[@DIGEST]`. The tag is the part after the last
 * `:` that follows the last `/`, so registry ports (`host:5000/app:1.0`) work.
 */
export function parseSetFlag(value: string): {
  policy: string;
  choice: ImagePolicyChoice;
} {
  const eq = value.indexOf('=');
  const policy = eq === -1 ? '' : value.slice(0, eq);
  if (!/^[^:=\s]+:[^:=\s]+$/.test(policy)) {
    throw new Error(
      `--set ${value}: expected NS:NAME=IMAGE:TAG[@DIGEST], e.g. default:gitops=registry.local/app:1.0`,
    );
  }
  let ref = value.slice(eq + 1);
  let digest: string | undefined;
  const at = ref.indexOf('@');
  if (at !== -1) {
    digest = ref.slice(at + 1);
    ref = ref.slice(0, at);
  }
  const colon = ref.lastIndexOf(':');
  if (
    colon <= ref.lastIndexOf('/') ||
    colon === ref.length - 1 ||
    colon === 0
  ) {
    throw new Error(`--set ${value}: the image needs a tag (IMAGE:TAG)`);
  }
  if (digest !== undefined && !/^[a-z0-9]+:[a-fA-F0-9]+$/.test(digest)) {
    throw new Error(`--set ${value}: digest must look like sha256:<hex>`);
  }
  const choice: ImagePolicyChoice = {
    image: ref.slice(0, colon),
    tag: ref.slice(colon + 1),
  };
  if (digest) choice.digest = digest;
  return { policy, choice };
}

export function registerSettersCommand(program: Command): void {
  const setters = program
    .command('setters')
    .description(
      'Rewrite image policy markers ({"$imagepolicy": "ns:name"}) in YAML files',
    );

  setters
    .command('apply')
    .description(
      'Set each marked field under a directory to the given images, changing only those scalars',
    )
    .requiredOption(
      '--path <dir>',
      'directory to rewrite (recursively, *.yaml and *.yml)',
    )
    .option(
      '--set <NS:NAME=IMAGE:TAG[@DIGEST]>',
      'what the image policy NS:NAME selects; repeatable',
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option('--dry-run', 'print what would change without writing')
    .action(async (opts: { path: string; set: string[]; dryRun?: boolean }) => {
      if (opts.set.length === 0) {
        throw new Error('give at least one --set NS:NAME=IMAGE:TAG[@DIGEST]');
      }
      const policies: Record<string, ImagePolicyChoice> = {};
      for (const flag of opts.set) {
        const { policy, choice } = parseSetFlag(flag);
        policies[policy] = choice;
      }
      const root = path.resolve(opts.path);
      const result = applySetters(await readMarkedFiles(root), policies);
      if (!opts.dryRun) await writeSetterResult(root, result);

      for (const file of result.files) {
        process.stdout.write(`${file.file}\n`);
        for (const c of file.changes) {
          process.stdout.write(
            `  ${c.line}:${c.column} ${c.policy}${
              c.field === 'image' ? '' : `:${c.field}`
            }: ${c.oldValue} -> ${c.newValue}\n`,
          );
        }
      }
      for (const s of result.skipped) {
        process.stderr.write(`skipped ${s.file}: ${s.reason}\n`);
      }
      for (const u of result.unresolved) {
        process.stderr.write(`${u.file}:${u.line}: ${u.reason}\n`);
      }
      if (result.files.length === 0) {
        process.stderr.write('no marked field needed a change\n');
      }
      if (result.skipped.length > 0) process.exitCode = 1;
    });
}
