import fs from 'node:fs';
import http from 'node:http';
import { AddressInfo } from 'node:net';
import path from 'node:path';
import {
  GitSource,
  ImagePolicyChoices,
  runImageUpdate,
} from '@gitops-workflow/plugin-gitops-node';
import { GitServer, HUMAN_AUTHOR, startGitServer } from '../infra/git-server';
import { makeTempDir, removeDir } from '../infra/process';

jest.setTimeout(120_000);

/** The seed's Application, with its marker, inside the synced repository. */
const APP_YAML = [
  'apiVersion: core.oam.dev/v1beta1',
  'kind: Application',
  'metadata:',
  '  name: first-vela-workflow',
  '  namespace: default',
  'spec:',
  '  components:',
  '    - name: test-server',
  '      type: webservice',
  '      properties:',
  '        # replace the imagepolicy `default:gitops` with your policy later',
  '        image: <your image> # {"$imagepolicy": "default:gitops"}',
  '        port: 8088',
  '      traits:',
  '        - type: ingress',
  '          properties:',
  '            domain: testsvc.example.com',
  '            http:',
  '              /: 8088',
  '',
].join('\n');

const SEED_TEMPLATE = 'Image: {{range .Updated.Images}}{{println .}}{{end}}';
const IMAGE = '127.0.0.1:5000/team/gitops';

const choice = (tag: string): ImagePolicyChoices => ({
  'default:gitops': { image: IMAGE, tag },
});

describe('image update automation against a real Git server', () => {
  let server: GitServer;
  let workDir: string;
  let source: GitSource;

  beforeAll(async () => {
    server = await startGitServer();
    workDir = await makeTempDir('git-automation-test');
    const fixture = path.join(workDir, 'fixture');
    fs.mkdirSync(fixture);
    fs.writeFileSync(path.join(fixture, 'app.yaml'), APP_YAML);
    await server.createRepo('apps', { fixtureDir: fixture });
    source = new GitSource({ cacheDir: path.join(workDir, 'cache') });
  });

  afterAll(async () => {
    await server?.stop();
    if (workDir) await removeDir(workDir);
  });

  const spec = () => ({
    url: server.repoUrl('apps'),
    branch: 'main',
    credentials: { username: server.username, password: server.password },
  });

  const poll = (policies: ImagePolicyChoices) =>
    source.withClone(spec(), async clone => {
      await clone.sync();
      return runImageUpdate({
        clone,
        path: '.',
        policies,
        commitMessage: SEED_TEMPLATE,
        automationObject: { namespace: 'default', name: 'git-app' },
      });
    });

  it('commits a new tag as kubevelabot, and a second poll commits nothing', async () => {
    const before = await server.head('apps');
    const result = await poll(choice('master-a1b2c3-1700000001'));

    expect(result.committed).toBe(true);
    expect(result.images).toEqual([
      {
        policy: 'default:gitops',
        image: IMAGE,
        tag: 'master-a1b2c3-1700000001',
        previous: ['<your image>'],
      },
    ]);
    const [top, parent] = await server.log('apps');
    expect(parent.sha).toBe(before);
    expect(top).toMatchObject({
      sha: result.commit,
      authorName: 'kubevelabot',
      authorEmail: 'kubevelabot@users.noreply.github.com',
      message: `Update image automatically.\nImage: ${IMAGE}:master-a1b2c3-1700000001`,
    });
    expect(await server.readFile('apps', 'app.yaml')).toBe(
      APP_YAML.replace('<your image>', `${IMAGE}:master-a1b2c3-1700000001`),
    );

    const pushesBefore = server.requests['git-receive-pack'] ?? 0;
    const again = await poll(choice('master-a1b2c3-1700000001'));
    expect(again.committed).toBe(false);
    expect(await server.head('apps')).toBe(result.commit);
    expect(server.requests['git-receive-pack'] ?? 0).toBe(pushesBefore);
  });

  it("keeps a human's commit pushed between our fetch and our push", async () => {
    const result = await source.withClone(spec(), async clone => {
      await clone.sync();
      // Someone edits the same file while we are about to push.
      await server.pushAsHuman('apps', {
        change: dir => {
          const file = path.join(dir, 'app.yaml');
          fs.writeFileSync(
            file,
            fs.readFileSync(file, 'utf8').replace(/8088/g, '9090'),
          );
        },
        message: 'Move to port 9090',
      });
      return runImageUpdate({
        clone,
        path: '.',
        policies: choice('master-d4e5f6-1700000002'),
        commitMessage: SEED_TEMPLATE,
        automationObject: { namespace: 'default', name: 'git-app' },
      });
    });

    expect(result.committed).toBe(true);
    expect(result.attempts).toBe(2);
    const [bot, human] = await server.log('apps');
    expect(bot).toMatchObject({
      sha: result.commit,
      authorName: 'kubevelabot',
    });
    expect(human).toMatchObject({
      authorName: HUMAN_AUTHOR.name,
      message: 'Move to port 9090',
    });
    const content = await server.readFile('apps', 'app.yaml');
    expect(content).toContain(`image: ${IMAGE}:master-d4e5f6-1700000002 #`);
    expect(content).toContain('port: 9090');
  });

  it('retries when a human wins the race inside the push, and gives up after the bound', async () => {
    // A proxy in front of the server lets a human push just before each of
    // our pushes arrives, so the server (not our fast-forward check) rejects
    // the stale update.
    let races = 0;
    let humanPushes = 0;
    const upstream = new URL(server.url);
    const proxy = http.createServer((req, res) => {
      const forward = async () => {
        if (
          req.method === 'POST' &&
          req.url?.endsWith('/git-receive-pack') &&
          races > 0
        ) {
          races--;
          humanPushes++;
          await server.pushAsHuman('apps', {
            files: { [`notes/race-${humanPushes}.txt`]: `${humanPushes}\n` },
            message: `Race ${humanPushes}`,
          });
        }
        const out = http.request(
          {
            host: upstream.hostname,
            port: upstream.port,
            method: req.method,
            path: req.url,
            headers: req.headers,
          },
          upstreamRes => {
            res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
            upstreamRes.pipe(res);
          },
        );
        req.pipe(out);
      };
      forward().catch(e => {
        res.writeHead(500);
        res.end(String(e));
      });
    });
    await new Promise<void>(resolve => proxy.listen(0, '127.0.0.1', resolve));
    const proxyUrl = `http://127.0.0.1:${
      (proxy.address() as AddressInfo).port
    }/apps.git`;
    try {
      const racing = new GitSource({
        cacheDir: path.join(workDir, 'cache-race'),
      });
      const update = (tag: string, maxAttempts: number) =>
        racing.withClone({ ...spec(), url: proxyUrl }, async clone => {
          await clone.sync();
          return runImageUpdate({
            clone,
            policies: choice(tag),
            automationObject: { namespace: 'default', name: 'git-app' },
            maxAttempts,
          });
        });

      races = 1;
      const won = await update('master-111111-1700000005', 3);
      expect(won).toMatchObject({ committed: true, attempts: 2 });
      const [bot, human] = await server.log('apps');
      expect(bot).toMatchObject({ sha: won.commit, authorName: 'kubevelabot' });
      expect(human.message).toBe('Race 1');

      races = 3;
      const error = await update('master-222222-1700000006', 3).then(
        () => undefined,
        e => e as Error,
      );
      expect(error?.name).toBe('ConflictError');
      expect(error?.message).toMatch(
        /^gave up pushing image updates to main after 3 attempts: others kept pushing first; caused by ConflictError: push to main was rejected: the branch moved from [0-9a-f]{12} to [0-9a-f]{12}$/,
      );
      const log = await server.log('apps');
      expect(log.slice(0, 3).map(c => c.message)).toEqual([
        'Race 4',
        'Race 3',
        'Race 2',
      ]);
      expect(await server.readFile('apps', 'app.yaml')).toContain(
        'master-111111-1700000005',
      );
    } finally {
      proxy.closeAllConnections();
      await new Promise(resolve => proxy.close(resolve));
    }
  });

  it('refuses to retry a push the server itself rejects, and leaves the clone at the remote head', async () => {
    const fixture = path.join(workDir, 'guarded-fixture');
    fs.mkdirSync(fixture);
    fs.writeFileSync(path.join(fixture, 'app.yaml'), APP_YAML);
    const head = await server.createRepo('guarded', { fixtureDir: fixture });
    const hook = path.join(server.root, 'guarded.git', 'hooks', 'pre-receive');
    fs.writeFileSync(
      hook,
      '#!/bin/sh\necho "main is protected" >&2\nexit 1\n',
      { mode: 0o755 },
    );
    const guarded = { ...spec(), url: server.repoUrl('guarded') };

    const error = await source
      .withClone(guarded, async clone => {
        await clone.sync();
        return runImageUpdate({
          clone,
          policies: choice('master-0a0a0a-1700000003'),
          automationObject: { namespace: 'default', name: 'git-app' },
        });
      })
      .then(
        () => undefined,
        e => e as Error,
      );
    expect(error?.name).toBe('NotAllowedError');
    expect(error?.message).toContain('the branch did not move');
    expect(await server.head('guarded')).toBe(head);
    const dir = source.cloneDir(guarded);
    expect(fs.readFileSync(path.join(dir, 'app.yaml'), 'utf8')).toBe(APP_YAML);
    const next = await source.sync(guarded);
    expect(next).toMatchObject({ sha: head, changed: false, fetched: false });
  });

  it('reports a broken commit template before touching the tree', async () => {
    const head = await server.head('apps');
    const error = await source
      .withClone(spec(), async clone => {
        await clone.sync();
        return runImageUpdate({
          clone,
          policies: choice('master-bad-1700000004'),
          commitMessage: 'Images:\n{{range .Updated.Imgs}}{{.}}{{end}}',
          automationObject: { namespace: 'default', name: 'git-app' },
        });
      })
      .then(
        () => undefined,
        e => e as Error,
      );
    expect(error?.name).toBe('InputError');
    expect(error?.message).toBe(
      'template: commitMessage:2:9: executing "commitMessage" at <.Updated.Imgs>: can\'t evaluate field Imgs in type UpdateResult',
    );
    expect(await server.head('apps')).toBe(head);
    const dir = source.cloneDir(spec());
    expect(fs.readFileSync(path.join(dir, 'app.yaml'), 'utf8')).toBe(
      await server.readFile('apps', 'app.yaml'),
    );
  });

  it('gives a clear error for wrong credentials, without the password', async () => {
    const password = 'not-the-password-s3cr3t';
    const error = await source
      .sync({ ...spec(), credentials: { username: server.username, password } })
      .then(
        () => undefined,
        e => e as Error,
      );
    expect(error?.name).toBe('AuthenticationError');
    expect(error?.message).toBe(
      `list refs of ${server.repoUrl(
        'apps',
      )}: the server rejected the credentials for user ${server.username}`,
    );
    const serialized = JSON.stringify(error, Object.getOwnPropertyNames(error));
    expect(serialized).not.toContain(password);
    expect(serialized).not.toContain(
      Buffer.from(`${server.username}:${password}`).toString('base64'),
    );
  });

  it('accepts credentials in the URL but never stores them', async () => {
    const url = new URL(server.repoUrl('apps'));
    url.username = server.username;
    url.password = server.password;
    const result = await source.sync({ url: url.toString(), branch: 'main' });
    expect(result.revision).toBe(`main@sha1:${await server.head('apps')}`);
    const config = fs.readFileSync(
      path.join(
        source.cloneDir({ url: url.toString(), branch: 'main' }),
        '.git',
        'config',
      ),
      'utf8',
    );
    expect(config).toContain(`url = ${server.repoUrl('apps')}`);
    expect(config).not.toContain(server.password);
  });

  it('never lets two reconciles hold the same clone at once', async () => {
    // Which caller goes first is the scheduler's business; that they never overlap is ours.
    let holders = 0;
    let mostAtOnce = 0;
    const ran: string[] = [];
    const hold = (name: string) =>
      source.withClone(spec(), async () => {
        holders++;
        mostAtOnce = Math.max(mostAtOnce, holders);
        await new Promise(resolve => setTimeout(resolve, 200));
        holders--;
        ran.push(name);
      });
    await Promise.all([hold('a'), hold('b'), hold('c')]);
    expect(mostAtOnce).toBe(1);
    expect(ran.sort()).toEqual(['a', 'b', 'c']);
  });

  it('builds an earlier commit beside the clone without moving the branch, fetching the history a shallow clone lacks', async () => {
    const fixture = path.join(workDir, 'history-fixture');
    fs.mkdirSync(fixture);
    fs.writeFileSync(path.join(fixture, 'app.yaml'), 'color: blue\n');
    const first = await server.createRepo('history', { fixtureDir: fixture });
    await server.pushAsHuman('history', {
      files: { 'app.yaml': 'color: green\n', 'new.yaml': 'added: later\n' },
    });
    const head = await server.head('history');
    // A fresh cache: the first clone has the tip only.
    const shallow = new GitSource({
      cacheDir: path.join(workDir, 'history-cache'),
    });
    const history = {
      url: server.repoUrl('history'),
      branch: 'main',
      credentials: { username: server.username, password: server.password },
    };
    await shallow.withClone(history, async clone => {
      await clone.sync();
      const tree = await clone.treeAt(first);
      expect(fs.readFileSync(path.join(tree, 'app.yaml'), 'utf8')).toBe(
        'color: blue\n',
      );
      expect(fs.existsSync(path.join(tree, 'new.yaml'))).toBe(false);
      // The branch and the working tree stay at the head.
      expect(await clone.head()).toBe(head);
      expect(fs.readFileSync(path.join(clone.dir, 'app.yaml'), 'utf8')).toBe(
        'color: green\n',
      );
      expect(await clone.treeAt(first)).toBe(tree);

      const unknown = 'f'.repeat(40);
      await expect(clone.treeAt(unknown)).rejects.toMatchObject({
        name: 'NotFoundError',
        message: `commit ${unknown} is not in the history of main of ${server.repoUrl(
          'history',
        )} (was it force-pushed away?)`,
      });
    });
  });
});
