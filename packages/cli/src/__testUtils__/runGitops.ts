import { spawnSync } from 'node:child_process';
import path from 'node:path';

const bin = path.resolve(__dirname, '../../bin/gitops');

/**
 * Runs the real `gitops` binary, as a user's shell would. It transpiles the
 * TypeScript sources on load, so each run takes seconds, not milliseconds.
 */
export function runGitops(
  args: string[],
  options: { input?: string; env?: Record<string, string> } = {},
) {
  const result = spawnSync(process.execPath, [bin, ...args], {
    input: options.input,
    env: { ...process.env, ...options.env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return {
    status: result.status,
    stdout: result.stdout,
    stderr: result.stderr,
  };
}
