import { constants as fsConstants, promises as fs } from 'node:fs';
import path from 'node:path';
import { ServiceUnavailableError } from '@backstage/errors';

async function isExecutable(file: string): Promise<boolean> {
  try {
    await fs.access(file, fsConstants.X_OK);
    return (await fs.stat(file)).isFile();
  } catch {
    return false;
  }
}

/**
 * The path of a tool the backend runs: the configured one (which must
 * exist), else the first `name` on PATH. Missing, it is one
 * ServiceUnavailableError that says how to install or configure it.
 */
export async function findExecutable(
  name: string,
  options: { configured?: string; configuredAs: string; missing: string },
): Promise<string> {
  if (options.configured) {
    if (await isExecutable(options.configured)) return options.configured;
    throw new ServiceUnavailableError(
      `The ${name} binary configured at ${options.configured} does not exist or is not executable (${options.configuredAs})`,
    );
  }
  for (const dir of (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter(Boolean)) {
    const candidate = path.join(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }
  throw new ServiceUnavailableError(options.missing);
}
