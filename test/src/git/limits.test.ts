import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { GitSource } from '@gitops-workflow/plugin-gitops-node';
import { GitServer, startGitServer } from '../infra/git-server';
import { makeTempDir, removeDir } from '../infra/process';

jest.setTimeout(120_000);

/** Random bytes do not compress: the pack carries about this many bytes. */
const incompressible = (bytes: number) =>
  crypto.randomBytes(bytes).toString('base64').slice(0, bytes);

describe('GitSource bounds against a real Git server', () => {
  let server: GitServer;
  let workDir: string;

  beforeAll(async () => {
    server = await startGitServer();
    workDir = await makeTempDir('git-limits-test');
    const fixture = path.join(workDir, 'fixture');
    fs.mkdirSync(fixture);
    fs.writeFileSync(path.join(fixture, 'app.yaml'), 'kind: ConfigMap\n');
    await server.createRepo('small', { fixtureDir: fixture });
    fs.writeFileSync(path.join(fixture, 'blob.txt'), incompressible(3 << 20));
    await server.createRepo('big', { fixtureDir: fixture });
  });

  afterAll(async () => {
    await server?.stop();
    if (workDir) await removeDir(workDir);
  });

  const spec = (repo: string) => ({
    url: server.repoUrl(repo),
    branch: 'main',
    credentials: { username: server.username, password: server.password },
  });

  it('refuses a repository over the maximum size, saying so, and keeps nothing of it', async () => {
    const cacheDir = path.join(workDir, 'cache-refuse');
    const source = new GitSource({ cacheDir, maxRepositoryBytes: 1 << 20 });
    await expect(source.sync(spec('big'))).rejects.toMatchObject({
      name: 'NotAllowedError',
      message: `clone ${server.repoUrl(
        'big',
      )}: the repository needs more than 1 MiB (the configured maximum repository size), refused`,
    });
    expect(fs.readdirSync(cacheDir)).toEqual([]);
    // A repository within the bound is unaffected.
    await expect(source.sync(spec('small'))).resolves.toMatchObject({
      cloned: true,
    });
  });

  it('replaces a clone that has grown past its maximum size with a fresh shallow clone', async () => {
    await server.createRepo('growing', {});
    const source = new GitSource({
      cacheDir: path.join(workDir, 'cache-grow'),
      maxCloneBytes: 1 << 20,
    });
    expect((await source.sync(spec('growing'))).cloned).toBe(true);
    await server.pushAsHuman('growing', {
      files: { 'blob.txt': incompressible(2 << 20) },
    });
    // This fetch takes the clone past the bound; it is still used as it is.
    const grown = await source.sync(spec('growing'));
    expect(grown).toMatchObject({ cloned: false, fetched: true });
    const renewed = await source.sync(spec('growing'));
    expect(renewed).toMatchObject({ cloned: true, sha: grown.sha });
    // Its tip alone is past the bound: a small change fetched next must not
    // make it re-clone after every fetch.
    await server.pushAsHuman('growing', {
      files: { 'small.txt': 'a change\n' },
    });
    expect(await source.sync(spec('growing'))).toMatchObject({
      cloned: false,
      fetched: true,
    });
    expect((await source.sync(spec('growing'))).cloned).toBe(false);
  });

  it('replaces a clone older than its maximum age', async () => {
    const source = new GitSource({
      cacheDir: path.join(workDir, 'cache-age'),
      maxCloneAgeMs: 3600_000,
    });
    expect((await source.sync(spec('small'))).cloned).toBe(true);
    expect((await source.sync(spec('small'))).cloned).toBe(false);
    const born = path.join(
      source.cloneDir(spec('small')),
      '.git',
      'gitops-cloned',
    );
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    fs.utimesSync(born, twoHoursAgo, twoHoursAgo);
    expect((await source.sync(spec('small'))).cloned).toBe(true);
    expect((await source.sync(spec('small'))).cloned).toBe(false);
  });

  it('forgets the memory of repositories no longer used', async () => {
    const source = new GitSource({
      cacheDir: path.join(workDir, 'cache-memo'),
    });
    await source.sync(spec('small'));
    await source.sync(spec('big'));
    expect(source.rememberedClones).toBe(2);
    source.retain([spec('small')]);
    expect(source.rememberedClones).toBe(1);
    source.forget(spec('small'));
    expect(source.rememberedClones).toBe(0);
  });

  it('gives up on a server that stops answering in the middle of a response', async () => {
    // Answers the ref listing with headers and the first bytes, then falls silent.
    const sockets: net.Socket[] = [];
    const silent = net.createServer(socket => {
      sockets.push(socket);
      socket.once('data', () =>
        socket.write(
          'HTTP/1.1 200 OK\r\ncontent-type: application/x-git-upload-pack-advertisement\r\n' +
            'transfer-encoding: chunked\r\n\r\n1e\r\n001e# service=git-upload-pack\n\r\n',
        ),
      );
    });
    await new Promise<void>(resolve => silent.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${
      (silent.address() as net.AddressInfo).port
    }/apps.git`;
    try {
      const source = new GitSource({
        cacheDir: path.join(workDir, 'cache-silent'),
        timeoutMs: 500,
      });
      await expect(
        source.sync({
          url,
          branch: 'main',
          credentials: { username: 'u', password: 's3cret-pw' },
        }),
      ).rejects.toMatchObject({
        name: 'ServiceUnavailableError',
        message: `clone ${url} timed out after 500ms`,
      });
      // The caller's signal (a pass that is aborted) ends it sooner.
      const patient = new GitSource({
        cacheDir: path.join(workDir, 'cache-silent'),
        timeoutMs: 60_000,
      });
      await expect(
        patient.sync(
          { url, branch: 'main' },
          { signal: AbortSignal.timeout(300) },
        ),
      ).rejects.toMatchObject({
        name: 'ServiceUnavailableError',
        message: `clone ${url} was aborted`,
      });
    } finally {
      sockets.forEach(socket => socket.destroy());
      await new Promise(resolve => silent.close(resolve));
    }
  });
});
