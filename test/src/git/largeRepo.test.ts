import fs from 'node:fs';
import path from 'node:path';
import { GitSource } from '@gitops-workflow/plugin-gitops-node';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { GitServer, isolatedGitEnv, startGitServer } from '../infra/git-server';
import { makeTempDir, removeDir } from '../infra/process';
import { createLargeRepo, largeRepoFile } from './largeRepo';

const run = promisify(execFile);

jest.setTimeout(300_000);

const total = (requests: Readonly<Record<string, number>>) =>
  Object.values(requests).reduce((a, b) => a + b, 0);

describe('polling a repository of 5,000 files and 500 commits', () => {
  let server: GitServer;
  let workDir: string;

  beforeAll(async () => {
    server = await startGitServer();
    workDir = await makeTempDir('git-large-test');
    await createLargeRepo(server, 'big', { files: 5000, commits: 500 });
  });

  afterAll(async () => {
    await server?.stop();
    if (workDir) await removeDir(workDir);
  });

  it('reuses one working clone, lists refs once when nothing changed, and fetches only the change', async () => {
    const source = new GitSource({ cacheDir: path.join(workDir, 'cache') });
    const spec = {
      url: server.repoUrl('big'),
      branch: 'main',
      credentials: { username: server.username, password: server.password },
    };
    const dir = source.cloneDir(spec);

    const first = await source.sync(spec);
    expect(first).toMatchObject({ cloned: true, changed: true });
    expect(fs.existsSync(path.join(dir, largeRepoFile(4999)))).toBe(true);
    const inode = fs.statSync(path.join(dir, '.git')).ino;

    // Nothing changed: one ref listing, no fetch, same clone.
    let before = total(server.requests);
    const idle = await source.sync(spec);
    expect(idle).toEqual({
      ...first,
      cloned: false,
      changed: false,
      fetched: false,
    });
    expect(total(server.requests) - before).toBe(1);

    // A one-file change: listed, fetched incrementally into the same clone.
    const sha = await server.pushAsHuman('big', {
      files: {
        [largeRepoFile(42)]: 'changed: true\n',
        'added/deep/new.yaml': 'added: true\n',
      },
      change: work =>
        fs.rmSync(path.join(work, 'services', 'svc-043'), { recursive: true }),
    });
    before = total(server.requests);
    const moved = await source.sync(spec);
    expect(moved).toEqual({
      revision: `main@sha1:${sha}`,
      sha,
      changed: true,
      cloned: false,
      fetched: true,
    });
    expect(total(server.requests) - before).toBe(3);
    expect(fs.statSync(path.join(dir, '.git')).ino).toBe(inode);
    expect(fs.readFileSync(path.join(dir, largeRepoFile(42)), 'utf8')).toBe(
      'changed: true\n',
    );
    expect(fs.readFileSync(path.join(dir, 'added/deep/new.yaml'), 'utf8')).toBe(
      'added: true\n',
    );
    expect(fs.existsSync(path.join(dir, 'services', 'svc-043'))).toBe(false);
    // Only the changed paths were touched, yet the clone is exactly the new commit.
    const status = await run('git', ['status', '--porcelain'], {
      cwd: dir,
      env: isolatedGitEnv(),
    });
    expect(status.stdout).toBe('');
    const headOf = await run('git', ['rev-parse', 'HEAD'], {
      cwd: dir,
      env: isolatedGitEnv(),
    });
    expect(headOf.stdout.trim()).toBe(sha);
  });
});
