import { promises as fs } from 'node:fs';
import path from 'node:path';
import { NotAllowedError } from '@backstage/errors';
import { parse } from 'yaml';
import { isRecord } from '../model/fields';
import { resolveInside } from '../util/paths';

const KUSTOMIZATION_FILES = [
  'kustomization.yaml',
  'kustomization.yml',
  'Kustomization',
];

/** The fields of a kustomization that name other kustomizations or files to load. */
const REFERENCE_FIELDS = ['resources', 'bases', 'components'] as const;

async function kustomizationFile(dir: string): Promise<string | undefined> {
  for (const name of KUSTOMIZATION_FILES) {
    const file = path.join(dir, name);
    if (
      await fs.stat(file).then(
        s => s.isFile(),
        () => false,
      )
    )
      return file;
  }
  return undefined;
}

/**
 * Checks a kustomization and every local one it loads before kustomize runs,
 * as Flux's `--no-remote-bases` does: an entry of `resources`, `bases` or
 * `components` that is not a file or directory in the repository is a
 * remote base and refused unless `remoteBases`; a local entry, symlinks
 * resolved, must stay inside `root` (kustomize's own load restrictor lets a
 * directory base point anywhere on the disk, e.g. another Application's
 * clone).
 */
export async function checkKustomization(
  dir: string,
  root: string,
  options: { remoteBases: boolean; project?: string },
  seen: Set<string> = new Set(),
): Promise<void> {
  if (seen.has(dir)) return;
  seen.add(dir);
  const file = await kustomizationFile(dir);
  if (!file) return;
  const relative = (p: string) => path.relative(root, p) || '.';
  let document: unknown;
  try {
    document = parse(await fs.readFile(file, 'utf8'));
  } catch {
    // kustomize reports a broken kustomization better than we could.
    return;
  }
  if (!isRecord(document)) return;
  for (const field of REFERENCE_FIELDS) {
    const entries = document[field];
    if (!Array.isArray(entries)) continue;
    for (const entry of entries) {
      if (typeof entry !== 'string') continue;
      const where = `${relative(file)} ${field} entry "${entry}"`;
      const lexical = path.resolve(dir, entry);
      const local = await fs.lstat(lexical).then(
        () => true,
        () => false,
      );
      if (!local) {
        if (options.remoteBases) continue;
        throw new NotAllowedError(
          `${where} is not a file or directory in the repository, and remote bases are off${
            options.project
              ? ` (project "${options.project}" does not allow remoteBases)`
              : ''
          }`,
        );
      }
      let target: string;
      try {
        target = resolveInside(root, path.relative(root, lexical));
      } catch (error) {
        throw new NotAllowedError(`${where}: ${(error as Error).message}`);
      }
      if ((await fs.stat(target)).isDirectory())
        await checkKustomization(target, root, options, seen);
    }
  }
}
