import fs from 'node:fs';
import path from 'node:path';
import { InputError } from '@backstage/errors';

const inside = (base: string, target: string) =>
  target === base || target.startsWith(`${base}${path.sep}`);

/**
 * The real path of `target`: its longest existing ancestor with every
 * symlink resolved, then the rest as written (a file about to be created).
 */
function realpathOfExisting(target: string): string {
  let existing = target;
  const rest: string[] = [];
  for (;;) {
    try {
      return path.join(fs.realpathSync(existing), ...rest);
    } catch (error) {
      const parent = path.dirname(existing);
      if (
        (error as NodeJS.ErrnoException).code !== 'ENOENT' ||
        parent === existing
      )
        throw error;
      rest.unshift(path.basename(existing));
      existing = parent;
    }
  }
}

/**
 * Resolves the component `path` (or a file) inside `root`, refusing anything
 * that escapes it: `../` as written, and symlinks whose real target lies
 * outside (another repository's clone, the backend's own files). The one
 * containment check for build, setters and the CLI; returns the real path.
 */
export function resolveInside(root: string, sub: string): string {
  const base = realpathOfExisting(path.resolve(root));
  const lexical = path.resolve(base, sub || '.');
  if (!inside(base, lexical)) {
    throw new InputError(`path ${sub} points outside the repository`);
  }
  const real = realpathOfExisting(lexical);
  if (!inside(base, real)) {
    throw new InputError(
      `path ${sub} is a symlink (or passes through one) leading outside the repository`,
    );
  }
  return real;
}
