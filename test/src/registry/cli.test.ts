/*
 * `gitops images scan` as a user runs it, against the real registry.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from '../infra/process';
import { Registry, pushTags, startRegistry } from '../infra/registry';

jest.setTimeout(120_000);

function gitops(args: string[], stdin: string) {
  const child = spawn(
    process.execPath,
    [path.join(repoRoot(), 'packages/cli/bin/gitops'), ...args],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  child.stdin.end(stdin);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', d => (stdout += d));
  child.stderr.on('data', d => (stderr += d));
  return new Promise<{ status: number | null; stdout: string; stderr: string }>(
    resolve => child.on('close', status => resolve({ status, stdout, stderr })),
  );
}

describe('gitops images scan', () => {
  let registry: Registry;
  /** `images scan` of the test image, password on stdin, then `extra`. */
  const scan = (extra: string[], stdin: string) =>
    gitops(
      [
        'images',
        'scan',
        `${registry.host}/team/app`,
        '--insecure',
        '--username',
        registry.username,
        '--password-stdin',
        ...extra,
      ],
      stdin,
    );

  beforeAll(async () => {
    registry = await startRegistry({ auth: 'htpasswd' });
    await pushTags(registry, 'team/app', [
      'master-1a2b3c4-1631234567',
      'master-9f8e7d6-1631299999',
      'v1.2.0',
      'v1.10.0',
      'sha256-0123.sig',
    ]);
  });
  afterAll(() => registry?.stop());

  it('prints the tag count and what each policy picks', async () => {
    const run = await scan(
      [
        '--pattern',
        '^master-[a-f0-9]+-(?P<ts>[0-9]+)',
        '--extract',
        '$ts',
        '--numerical',
        'asc',
      ],
      `${registry.password}\n`,
    );
    expect(run).toEqual({
      status: 0,
      stdout: [
        `image: ${registry.host}/team/app`,
        'tags: 4',
        'numerical asc: master-9f8e7d6-1631299999',
        '',
      ].join('\n'),
      stderr: '',
    });
  });

  it('reports each policy, and a failing one with exit 1', async () => {
    const run = await scan(
      ['--semver', '>=1.0', '--numerical', 'desc'],
      registry.password,
    );
    expect(run.status).toBe(1);
    expect(run.stdout).toContain('semver >=1.0: v1.10.0\n');
    expect(run.stdout).toContain('numerical desc: error: Image policy for');
    expect(run.stdout).toContain('it is not a number');
  });

  it('says the credentials were refused, without echoing the password', async () => {
    const run = await scan([], 'wrong-password-7f3a\n');
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('access denied for user');
    expect(run.stderr).not.toContain('wrong-password-7f3a');
  });
});
