import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { GitSource } from '@gitops-workflow/plugin-gitops-node';
import {
  GitServer,
  HUMAN_AUTHOR,
  isolatedGitEnv,
  startGitServer,
} from '../infra/git-server';
import { makeTempDir, removeDir } from '../infra/process';

const run = promisify(execFile);

jest.setTimeout(120_000);

describe('the working tree of a first clone', () => {
  let server: GitServer;
  let workDir: string;

  beforeAll(async () => {
    server = await startGitServer();
    workDir = await makeTempDir('git-checkout-test');
    const fixture = path.join(workDir, 'fixture');
    fs.mkdirSync(path.join(fixture, 'deploy', 'base', 'nested'), {
      recursive: true,
    });
    fs.writeFileSync(path.join(fixture, 'app.yaml'), 'kind: Application\n');
    fs.writeFileSync(
      path.join(fixture, 'deploy', 'base', 'nested', 'deep.yaml'),
      'depth: 3\n',
    );
    fs.writeFileSync(path.join(fixture, 'build.sh'), '#!/bin/sh\necho hi\n', {
      mode: 0o755,
    });
    await server.createRepo('tree', { fixtureDir: fixture });
    // Made in the pushing clone: copying a fixture would make the link absolute.
    await server.pushAsHuman('tree', {
      change: work => fs.symlinkSync('deploy/base', path.join(work, 'current')),
      message: 'Link the current overlay',
    });
  });

  afterAll(async () => {
    await server?.stop();
    if (workDir) await removeDir(workDir);
  });

  const spec = () => ({
    url: server.repoUrl('tree'),
    branch: 'main',
    credentials: { username: server.username, password: server.password },
  });

  it('has the files, modes and symlinks git would write, an index git finds clean, and commits keep every file', async () => {
    const source = new GitSource({ cacheDir: path.join(workDir, 'cache') });
    const requests = () =>
      Object.values(server.requests).reduce((a, b) => a + b, 0);
    const before = requests();
    await source.withClone(spec(), async clone => {
      const result = await clone.sync();
      expect(result.cloned).toBe(true);
      // One ref listing and one pack.
      expect(requests() - before).toBe(2);
      const file = (name: string) => path.join(clone.dir, name);
      expect(fs.readFileSync(file('app.yaml'), 'utf8')).toBe(
        'kind: Application\n',
      );
      expect(
        fs.readFileSync(file('deploy/base/nested/deep.yaml'), 'utf8'),
      ).toBe('depth: 3\n');
      expect(fs.statSync(file('build.sh')).mode & 0o111).not.toBe(0);
      expect(fs.statSync(file('app.yaml')).mode & 0o111).toBe(0);
      expect(fs.readlinkSync(file('current'))).toBe('deploy/base');

      // The git CLI reads the index we wrote and sees no change.
      const { stdout: status } = await run('git', ['status', '--porcelain'], {
        cwd: clone.dir,
        env: isolatedGitEnv(),
      });
      expect(status).toBe('');

      // A commit builds its tree from the index: every other file stays.
      fs.writeFileSync(file('app.yaml'), 'kind: Application # changed\n');
      await clone.commit(['app.yaml'], 'Change app', HUMAN_AUTHOR);
      await clone.push();
    });
    expect(await server.readFile('tree', 'app.yaml')).toBe(
      'kind: Application # changed\n',
    );
    expect(await server.readFile('tree', 'deploy/base/nested/deep.yaml')).toBe(
      'depth: 3\n',
    );
    const { stdout: tree } = await run(
      'git',
      ['ls-tree', '-r', 'refs/heads/main'],
      { cwd: path.join(server.root, 'tree.git'), env: isolatedGitEnv() },
    );
    expect(tree).toMatch(/^100755 blob [0-9a-f]{40}\tbuild\.sh$/m);
    expect(tree).toMatch(/^120000 blob [0-9a-f]{40}\tcurrent$/m);
  });

  it('refuses a pack damaged on the way, and keeps nothing of it', async () => {
    // The real server behind a proxy that flips one byte in the middle of the pack it sends.
    const target = new URL(server.url);
    const proxy = http.createServer((req, res) => {
      const upstream = http.request(
        {
          host: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        answer => {
          const chunks: Buffer[] = [];
          answer.on('data', chunk => chunks.push(chunk));
          answer.on('end', () => {
            const body = Buffer.concat(chunks);
            if (req.url?.endsWith('/git-upload-pack')) {
              body[Math.floor(body.length / 2)] ^= 0xff;
            }
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            res.end(body);
          });
        },
      );
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
    await new Promise<void>(resolve => proxy.listen(0, '127.0.0.1', resolve));
    const cacheDir = path.join(workDir, 'damaged-cache');
    try {
      const source = new GitSource({ cacheDir });
      const { port } = proxy.address() as AddressInfo;
      await expect(
        source.sync({
          ...spec(),
          url: spec().url.replace(target.host, `127.0.0.1:${port}`),
        }),
      ).rejects.toMatchObject({
        name: 'ServiceUnavailableError',
        message: expect.stringContaining(
          "the Git repository's data is corrupt",
        ),
      });
      expect(
        fs.readdirSync(cacheDir).filter(name => !name.endsWith('.clone-lock')),
      ).toEqual([]);
    } finally {
      await new Promise(resolve => proxy.close(resolve));
    }
  });
});
