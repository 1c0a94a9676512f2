/*
 * Builds a large repository history directly into the test Git server's bare
 * repository with `git fast-import`, which writes 5,000 files and hundreds of
 * commits in about a second instead of minutes of `git commit`.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { GitServer, HUMAN_AUTHOR, isolatedGitEnv } from '../infra/git-server';

export interface LargeRepoOptions {
  files: number;
  commits: number;
  branch?: string;
}

/** Path of the i-th generated file; spread over directories like a real monorepo. */
export const largeRepoFile = (i: number) =>
  `services/svc-${String(i % 100).padStart(3, '0')}/config-${String(i).padStart(
    5,
    '0',
  )}.yaml`;

const fileContent = (i: number, revision: number) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config-${i}\ndata:\n  revision: "${revision}"\n`;

/**
 * Creates `<name>.git` with `files` files in its first commit and
 * `commits - 1` further commits that each change one file.
 */
export async function createLargeRepo(
  server: GitServer,
  name: string,
  options: LargeRepoOptions,
): Promise<string> {
  const branch = options.branch ?? 'main';
  const base = await server.createRepo(name, { branch });
  const who = `${HUMAN_AUTHOR.name} <${HUMAN_AUTHOR.email}>`;
  const chunks: string[] = [];
  const data = (s: string) => `data ${Buffer.byteLength(s)}\n${s}\n`;
  for (let c = 0; c < options.commits - 1; c++) {
    const when = 1700000000 + c;
    chunks.push(
      `commit refs/heads/${branch}\nauthor ${who} ${when} +0000\ncommitter ${who} ${when} +0000\n`,
    );
    chunks.push(
      data(c === 0 ? `Add ${options.files} files` : `Change file ${c}`),
    );
    if (c === 0) {
      chunks.push(`from ${base}\n`);
      for (let i = 0; i < options.files; i++) {
        chunks.push(
          `M 100644 inline ${largeRepoFile(i)}\n${data(fileContent(i, 0))}`,
        );
      }
    } else {
      const i = c % options.files;
      chunks.push(
        `M 100644 inline ${largeRepoFile(i)}\n${data(fileContent(i, c))}`,
      );
    }
  }
  const bare = path.join(server.root, `${name}.git`);
  await new Promise<void>((resolve, reject) => {
    const child = spawn('git', ['--git-dir', bare, 'fast-import', '--quiet'], {
      env: isolatedGitEnv(),
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', d => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', code =>
      code === 0
        ? resolve()
        : reject(new Error(`git fast-import failed: ${stderr}`)),
    );
    child.stdin.end(chunks.join(''));
  });
  return server.head(name, branch);
}
