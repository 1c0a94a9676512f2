import fs from 'node:fs';
import http from 'node:http';
import { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { GitSource } from './GitSource';

describe('GitSource failures', () => {
  let dir: string;
  let server: http.Server | undefined;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitops-gitsource-'));
  });
  afterEach(async () => {
    if (server) {
      server.closeAllConnections();
      await new Promise(resolve => server!.close(resolve));
      server = undefined;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const listen = async (handler: http.RequestListener) => {
    server = http.createServer(handler);
    await new Promise<void>(resolve => server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server!.address() as AddressInfo).port}`;
  };

  it('gives up on a server that never answers, within the timeout', async () => {
    const url = await listen(() => undefined);
    const source = new GitSource({ cacheDir: dir, timeoutMs: 300 });
    const started = Date.now();
    await expect(
      source.sync({ url: `${url}/apps.git`, branch: 'main' }),
    ).rejects.toThrow(`clone ${url}/apps.git timed out after 300ms`);
    expect(Date.now() - started).toBeLessThan(5000);
    // Nothing half-made is left to confuse the next poll.
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('says when a server wants credentials and none are configured', async () => {
    const url = await listen((_req, res) => {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="git"' });
      res.end();
    });
    const source = new GitSource({ cacheDir: dir });
    await expect(
      source.sync({ url: `${url}/apps.git`, branch: 'main' }),
    ).rejects.toMatchObject({
      name: 'AuthenticationError',
      message: `clone ${url}/apps.git: the server requires credentials and none are configured`,
    });
  });

  it('uses the credentials provider when the repository names none', async () => {
    let seen: string | undefined;
    const url = await listen((req, res) => {
      seen = req.headers.authorization;
      res.writeHead(404);
      res.end();
    });
    const source = new GitSource({
      cacheDir: dir,
      credentialsProvider: () => ({ username: 'bot', password: 'token' }),
    });
    await expect(
      source.sync({ url: `${url}/missing.git`, branch: 'main' }),
    ).rejects.toMatchObject({ name: 'NotFoundError' });
    expect(seen).toBe(`Basic ${Buffer.from('bot:token').toString('base64')}`);
  });

  it('refuses URLs it cannot serve', async () => {
    const source = new GitSource({ cacheDir: dir });
    await expect(
      source.sync({ url: 'git@github.com:a/b.git', branch: 'main' }),
    ).rejects.toMatchObject({ name: 'InputError' });
  });
});
