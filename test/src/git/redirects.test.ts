/*
 * No credentials on redirects to other hosts (#15): GitSource follows the
 * Git server's redirects itself, keeping the Authorization header within the
 * repository's host and dropping it anywhere else. A real Git server behind
 * a small redirecting proxy; `localhost` and `127.0.0.1` are the two hosts.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { GitSource } from '@gitops-workflow/plugin-gitops-node';
import { GitServer, startGitServer } from '../infra/git-server';
import { makeTempDir, removeDir } from '../infra/process';

jest.setTimeout(120_000);

interface Seen {
  host: string;
  method: string;
  path: string;
  authorization?: string;
}

describe('GitSource redirects', () => {
  let server: GitServer;
  let proxy: http.Server;
  /** The same proxy on a second port: the same host name, another host. */
  let second: http.Server;
  let port: number;
  let secondPort: number;
  let workDir: string;
  const seen: Seen[] = [];

  beforeAll(async () => {
    server = await startGitServer();
    await server.createRepo('app');
    workDir = await makeTempDir('git-redirects-test');
    const target = new URL(server.url);
    const handler: http.RequestListener = (req, res) => {
      const url = req.url ?? '/';
      seen.push({
        host: req.headers.host ?? '',
        method: req.method ?? '',
        path: url,
        authorization: req.headers.authorization,
      });
      // 307 keeps the method and body, as Git servers that move repositories answer.
      if (url.startsWith('/moved/')) {
        res.writeHead(307, { location: url.slice('/moved'.length) });
        res.end();
        return;
      }
      if (url.startsWith('/port/')) {
        res.writeHead(307, {
          location: `http://127.0.0.1:${secondPort}${url.slice(
            '/port'.length,
          )}`,
        });
        res.end();
        return;
      }
      if (url.startsWith('/away/')) {
        res.writeHead(307, {
          location: `http://localhost:${port}${url.slice('/away'.length)}`,
        });
        res.end();
        return;
      }
      const upstream = http.request(
        {
          host: target.hostname,
          port: target.port,
          method: req.method,
          path: url,
          headers: req.headers,
        },
        answer => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    };
    const listen = async () => {
      const listener = http.createServer(handler);
      await new Promise<void>(resolve =>
        listener.listen(0, '127.0.0.1', resolve),
      );
      return [listener, (listener.address() as AddressInfo).port] as const;
    };
    [proxy, port] = await listen();
    [second, secondPort] = await listen();
  });

  afterAll(async () => {
    await new Promise(resolve => proxy?.close(resolve));
    await new Promise(resolve => second?.close(resolve));
    await server?.stop();
    if (workDir) await removeDir(workDir);
  });

  const spec = (prefix: string) => ({
    url: `http://127.0.0.1:${port}${prefix}/app.git`,
    branch: 'main',
    credentials: { username: server.username, password: server.password },
  });

  it('keeps the credentials on a redirect within the repository’s host, GET and POST alike', async () => {
    seen.length = 0;
    const source = new GitSource({ cacheDir: path.join(workDir, 'moved') });
    await expect(source.sync(spec('/moved'))).resolves.toMatchObject({
      cloned: true,
    });
    expect(seen.every(s => s.authorization?.startsWith('Basic '))).toBe(true);
    expect(seen.map(s => `${s.method} ${s.path.split('?')[0]}`)).toEqual(
      expect.arrayContaining([
        'GET /moved/app.git/info/refs',
        'GET /app.git/info/refs',
        'POST /moved/app.git/git-upload-pack',
        'POST /app.git/git-upload-pack',
      ]),
    );
  });

  it.each`
    to                                  | prefix     | other
    ${'another host name'}              | ${'/away'} | ${() => `localhost:${port}`}
    ${'the same host name, other port'} | ${'/port'} | ${() => `127.0.0.1:${secondPort}`}
  `(
    'never sends the Authorization header on to $to',
    async ({ prefix, other }) => {
      seen.length = 0;
      const source = new GitSource({
        cacheDir: path.join(workDir, prefix.slice(1)),
      });
      const error = await source.sync(spec(prefix)).catch(e => e);
      // Without its credentials the Git server refuses, and that is what is said.
      expect(error).toMatchObject({ name: 'AuthenticationError' });
      expect(JSON.stringify(error)).not.toContain(server.password);
      const elsewhere = seen.filter(s => s.host === other());
      expect(elsewhere.length).toBeGreaterThan(0);
      expect(elsewhere.map(s => s.authorization)).toEqual(
        elsewhere.map(() => undefined),
      );
      // It was sent to the repository's own host.
      expect(
        seen.find(s => s.host === `127.0.0.1:${port}`)?.authorization,
      ).toMatch(/^Basic /);
    },
  );
});
