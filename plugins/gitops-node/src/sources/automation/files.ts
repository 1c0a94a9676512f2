import fs from 'node:fs';
import path from 'node:path';
import { InputError } from '@backstage/errors';
import { resolveInside } from '../../util/paths';
import {
  IMAGE_POLICY_MARKER,
  ImagePolicyChoices,
  SetterInputFile,
  SettersResult,
  applySetters,
} from '../setters';


/**
 * The `*.yaml`/`*.yml` files under `root`/`sub` that contain a marker, with
 * paths relative to `root` (POSIX separators). Symlinks are not followed, so
 * the rewrite never leaves the repository; `.git` is skipped.
 */
export async function readMarkedFiles(
  root: string,
  sub = '.',
): Promise<SetterInputFile[]> {
  // Real paths both, so the files' paths relative to the root stay right under a symlinked root.
  const base = resolveInside(root, '.');
  const start = resolveInside(base, sub);
  const out: SetterInputFile[] = [];
  const walk = async (dir: string) => {
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(dir, { withFileTypes: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' && dir === start) {
        throw new InputError(`path ${sub} does not exist in the repository`);
      }
      throw e;
    }
    // Byte order, not locale order, so output is the same on every machine.
    entries.sort((a, b) =>
      Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)),
    );
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== '.git') await walk(full);
      } else if (entry.isFile() && /\.ya?ml$/i.test(entry.name)) {
        const content = await fs.promises.readFile(full, 'utf8');
        if (content.includes(IMAGE_POLICY_MARKER)) {
          out.push({
            file: path.relative(base, full).split(path.sep).join('/'),
            content,
          });
        }
      }
    }
  };
  await walk(start);
  return out;
}

/** Writes the changed files of a setters result back under `root`. */
export async function writeSetterResult(
  root: string,
  result: SettersResult,
): Promise<void> {
  for (const file of result.files) {
    await fs.promises.writeFile(resolveInside(root, file.file), file.content);
  }
}

/** Reads, rewrites and saves the marked files of a directory (the CLI's `setters apply`). */
export async function applySettersToDirectory(
  root: string,
  policies: ImagePolicyChoices,
  sub = '.',
): Promise<SettersResult> {
  const result = applySetters(await readMarkedFiles(root, sub), policies);
  await writeSetterResult(root, result);
  return result;
}
