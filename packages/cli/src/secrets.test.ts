import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { runGitops } from './__testUtils__/runGitops';

jest.setTimeout(60_000);

const TOKEN = 'gitops-t0ken-value';
const PASSWORD = 'registry-pa55word';
const env = { GITOPS_TOKEN: TOKEN, MY_REGISTRY_PASSWORD: PASSWORD };

/** Runs the real binary without blocking this process, so a server in this process can answer it. */
function runAsync(args: string[]) {
  const bin = path.resolve(__dirname, '../bin/gitops');
  return new Promise<{ status: number | null; output: string }>(resolve => {
    const child = spawn(process.execPath, [bin, ...args], {
      env: { ...process.env, ...env },
    });
    let output = '';
    child.stdout.on('data', chunk => (output += chunk));
    child.stderr.on('data', chunk => (output += chunk));
    child.on('close', status => resolve({ status, output }));
  });
}

describe('secrets from the environment', () => {
  it('are not printed by --help, only the name of the variable', () => {
    const run = runGitops(['workflow', 'resume', '--help'], { env });
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('GITOPS_TOKEN');
    expect(run.stdout + run.stderr).not.toContain(TOKEN);
  });

  it('are not printed in errors, even when a server echoes them back', async () => {
    let seen: string | undefined;
    // A backend that refuses the token and quotes every credential it got.
    const server = http.createServer((req, res) => {
      seen = req.headers.authorization;
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          error: {
            message: `token ${TOKEN} (and ${PASSWORD}) refused by https://bot:${PASSWORD}@example.test/`,
          },
        }),
      );
    });
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const run = await runAsync([
        'workflow',
        'resume',
        'app',
        '--backend',
        url,
      ]);
      expect(seen).toBe(`Bearer ${TOKEN}`);
      expect(run.status).toBe(1);
      expect(run.output).toBe(
        'gitops: token *** (and ***) refused by https://***@example.test/\n',
      );

      // A token given as an argument is masked the same way.
      const flag = await runAsync([
        'rollback',
        'app',
        '--backend',
        url,
        '--token',
        'flag-t0ken-value',
      ]);
      expect(flag.output).not.toContain('flag-t0ken-value');
    } finally {
      await new Promise(resolve => server.close(resolve));
    }
  });

  it('are not printed when the backend URL carries credentials and is unreachable', () => {
    const run = runGitops(
      [
        'workflow',
        'resume',
        'app',
        '--backend',
        `http://bot:${PASSWORD}@127.0.0.1:1`,
      ],
      { env },
    );
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(
      'could not reach the backend at http://***@127.0.0.1:1',
    );
    expect(run.stderr).not.toContain(PASSWORD);
  });
});
