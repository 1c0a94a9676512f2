import path from 'node:path';
import { InputError } from '@backstage/errors';

/** Resolves the component `path` inside `root`, refusing anything that escapes it. */
export function resolveInside(root: string, sub: string): string {
  const base = path.resolve(root);
  const target = path.resolve(base, sub || '.');
  if (target !== base && !target.startsWith(`${base}${path.sep}`)) {
    throw new InputError(`path ${sub} points outside the repository`);
  }
  return target;
}
