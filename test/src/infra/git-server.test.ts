import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { GitServer, isolatedGitEnv, startGitServer } from './git-server';

const run = promisify(execFile);

function urlWith(server: GitServer, repo: string, password?: string): string {
  const url = new URL(server.repoUrl(repo));
  if (password !== undefined) {
    url.username = server.username;
    url.password = password;
  }
  return url.toString();
}

async function lsRemote(url: string) {
  try {
    const { stdout } = await run('git', ['ls-remote', url], {
      env: isolatedGitEnv(),
    });
    return { ok: true, out: stdout };
  } catch (e) {
    return { ok: false, out: (e as { stderr: string }).stderr };
  }
}

describe('Git server', () => {
  let server: GitServer;
  let fixture: string;
  beforeAll(async () => {
    server = await startGitServer();
    fixture = fs.mkdtempSync(path.join(os.tmpdir(), 'gitops-fixture-'));
    fs.mkdirSync(path.join(fixture, 'deploy'));
    fs.writeFileSync(
      path.join(fixture, 'deploy', 'app.yaml'),
      'image: demo:1.0.0\n',
    );
  });
  afterAll(async () => {
    await server?.stop();
    fs.rmSync(fixture, { recursive: true, force: true });
  });

  it('serves a pushed commit to git ls-remote with the right password only', async () => {
    const initial = await server.createRepo('apps/demo', {
      fixtureDir: fixture,
    });
    const pushed = await server.pushAsHuman('apps/demo', {
      files: { 'deploy/app.yaml': 'image: demo:1.1.0\n' },
      message: 'Bump demo by hand',
    });
    expect(pushed).not.toBe(initial);

    const good = await lsRemote(urlWith(server, 'apps/demo', server.password));
    expect(good.ok).toBe(true);
    expect(good.out).toContain(`${pushed}\trefs/heads/main`);

    const wrong = await lsRemote(
      urlWith(server, 'apps/demo', 'not-the-password'),
    );
    expect(wrong.ok).toBe(false);
    expect(wrong.out).toMatch(/Authentication failed/);

    const anonymous = await lsRemote(urlWith(server, 'apps/demo'));
    expect(anonymous.ok).toBe(false);
  });

  it('records human commits with their author and content', async () => {
    await server.createRepo('apps/log', { fixtureDir: fixture });
    await server.pushAsHuman('apps/log', {
      change: dir =>
        fs.appendFileSync(path.join(dir, 'deploy', 'app.yaml'), '# note\n'),
      message: 'Add a note',
    });
    const log = await server.log('apps/log');
    expect(log.map(c => c.message)).toEqual(['Add a note', 'Initial commit']);
    expect(log[0]).toMatchObject({
      authorName: 'Dana Developer',
      authorEmail: 'dana@example.com',
    });
    expect(await server.readFile('apps/log', 'deploy/app.yaml')).toBe(
      'image: demo:1.0.0\n# note\n',
    );
    expect(await server.head('apps/log')).toBe(log[0].sha);
  });
});
