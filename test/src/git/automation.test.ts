import fs from 'node:fs';
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
    const events: string[] = [];
    const hold = (name: string) =>
      source.withClone(spec(), async () => {
        events.push(`${name} in`);
        await new Promise(resolve => setTimeout(resolve, 200));
        events.push(`${name} out`);
      });
    await Promise.all([hold('a'), hold('b')]);
    expect(events).toEqual(['a in', 'a out', 'b in', 'b out']);
  });
});
