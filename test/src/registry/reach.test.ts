/*
 * Guarded network reach of the registry client (#15): the Bearer token
 * realm must be on the registry's own host or one the Application's project
 * allows (`registryTokenHosts`), and no redirect carries credentials to
 * another host. The real distribution registry with its token server, the
 * real Git server for prepareSources, and small Node servers for redirects.
 * `localhost` and `127.0.0.1` are the two hosts: same machine, other names.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import fs from 'node:fs';
import path from 'node:path';
import {
  GitSource,
  ImagePolicyEvaluator,
  ImageScanner,
  RegistryClient,
  defaultProject,
  prepareSources,
  type Application,
  type KubeClient,
  type Project,
} from '@gitops-workflow/plugin-gitops-node';
import { GitServer, startGitServer } from '../infra/git-server';
import { makeTempDir, removeDir } from '../infra/process';
import { Registry, pushTags, startRegistry } from '../infra/registry';

jest.setTimeout(180_000);

const fastClient = () =>
  new RegistryClient({ maxRetries: 1, retryBaseDelayMs: 20, timeoutMs: 5_000 });

const project = (registryTokenHosts: string[]): Project => ({
  ...defaultProject({ metadata: { name: 'app', namespace: 'team' } }, 'home'),
  name: 'team',
  registryTokenHosts,
});

const access = (p: Project) => ({
  tokenHosts: { allowed: p.registryTokenHosts, project: p.name },
});

describe('registry token realm', () => {
  let registry: Registry;
  /** The same registry, named by another host than its token realm's (127.0.0.1). */
  let elsewhere: string;
  let credentials: { username: string; password: string };

  beforeAll(async () => {
    registry = await startRegistry({ auth: 'token' });
    credentials = { username: registry.username, password: registry.password };
    elsewhere = registry.host.replace('127.0.0.1', 'localhost');
    await pushTags(registry, 'team/app', ['v1.0.0', 'v1.1.0']);
  });
  afterAll(() => registry?.stop());

  it('refuses a realm on another host the project does not allow, naming the host and the key, and sends it nothing', async () => {
    const realmHost = new URL(registry.tokenServer!.realm).host;
    const issued = registry.tokenServer!.issued;
    const error = await fastClient()
      .listTags(`${elsewhere}/team/app`, {
        credentials,
        insecure: true,
        ...access(project(['auth.example.com', '*.example.org'])),
      })
      .catch(e => e);
    expect(error).toMatchObject({
      name: 'NotAllowedError',
      message: `Registry ${elsewhere} sends its token requests to ${realmHost}, not the registry's own host; project "team" does not allow it: add "127.0.0.1" to its registryTokenHosts (gitops.projects)`,
    });
    expect(JSON.stringify(error)).not.toContain(registry.password);
    expect(registry.tokenServer!.issued).toBe(issued);
  });

  it('says how to allow it when the Application is in no project', async () => {
    const error = await fastClient()
      .listTags(`${elsewhere}/team/app`, {
        credentials,
        insecure: true,
        ...access(
          defaultProject({ metadata: { name: 'a', namespace: 'n' } }, 'home'),
        ),
      })
      .catch(e => e);
    expect(error.name).toBe('NotAllowedError');
    expect(error.message).toContain(
      `Applications in no project may use only the registry's own host: list "127.0.0.1" in registryTokenHosts of a project in gitops.projects that holds this Application`,
    );
  });

  it('uses a realm the project allows, and one on the registry’s own host without any allowance', async () => {
    await expect(
      fastClient().listTags(`${elsewhere}/team/app`, {
        credentials,
        insecure: true,
        ...access(project(['127.0.0.*'])),
      }),
    ).resolves.toEqual(['v1.0.0', 'v1.1.0']);
    // Own host name, other port: the test token server, like most registries' own.
    await expect(
      fastClient().listTags(`${registry.host}/team/app`, {
        credentials,
        insecure: true,
        ...access(project([])),
      }),
    ).resolves.toEqual(['v1.0.0', 'v1.1.0']);
  });

  it('does not hand a token or a listing fetched for one project to another that does not allow the realm', async () => {
    const evaluator = new ImagePolicyEvaluator({
      scanner: new ImageScanner({ client: fastClient() }),
    });
    const options = {
      image: `${elsewhere}/team/app`,
      spec: { policy: { semver: { range: '>=1.0.0' } } },
      credentials,
      insecure: true,
    };
    const allowed = await evaluator.evaluate('team:a', {
      ...options,
      ...access(project(['127.0.0.1'])),
    });
    expect(allowed).toMatchObject({ tag: 'v1.1.0' });
    expect(allowed.error).toBeUndefined();
    const refused = await evaluator.evaluate('other:b', {
      ...options,
      digestReflectionPolicy: 'IfNotPresent',
      ...access(project([])),
    });
    expect(refused.tag).toBeUndefined();
    expect(refused.error).toMatchObject({ name: 'NotAllowedError' });
  });

  describe('through prepareSources, from the Application’s project', () => {
    let git: GitServer;
    let workDir: string;
    beforeAll(async () => {
      git = await startGitServer({ anonymousRead: true });
      workDir = await makeTempDir('registry-reach');
      const fixture = path.join(workDir, 'fixture');
      fs.mkdirSync(fixture);
      fs.writeFileSync(
        path.join(fixture, 'app.yaml'),
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  image: x:v0 # {"$imagepolicy": "team:web"}\n',
      );
      await git.createRepo('app', { fixtureDir: fixture });
    });
    afterAll(async () => {
      await git?.stop();
      if (workDir) await removeDir(workDir);
    });

    const app: Application = {
      apiVersion: 'core.oam.dev/v1beta1',
      kind: 'Application',
      metadata: { name: 'app', namespace: 'team' },
      spec: {
        components: [
          {
            name: 'web',
            type: 'kustomize',
            properties: {
              repoType: 'git',
              url: '',
              path: '.',
              git: { branch: 'main' },
              imageRepository: {
                image: '',
                secretRef: 'regcred',
                insecure: true,
                policy: { semver: { range: '>=1.0.0' } },
              },
            },
          },
        ],
      },
    } as unknown as Application;

    const run = (p: Project) => {
      const props = app.spec.components[0].properties as any;
      // The bot pushes when the policy moves the marker.
      const repo = new URL(git.repoUrl('app'));
      repo.username = git.username;
      repo.password = git.password;
      props.url = repo.toString();
      props.imageRepository.image = `${elsewhere}/team/app`;
      return prepareSources(app, {
        // The one Secret the component names: credentials for the registry.
        client: {
          get: async () => ({
            apiVersion: 'v1',
            kind: 'Secret',
            metadata: { name: 'regcred', namespace: 'team' },
            type: 'kubernetes.io/dockerconfigjson',
            data: {
              '.dockerconfigjson': Buffer.from(
                JSON.stringify({ auths: { [elsewhere]: credentials } }),
              ).toString('base64'),
            },
          }),
        } as unknown as KubeClient,
        git: new GitSource({ cacheDir: path.join(workDir, `cache-${p.name}`) }),
        images: new ImagePolicyEvaluator({
          scanner: new ImageScanner({ client: fastClient() }),
        }),
        project: { ...p, sourceRepos: ['*'] },
        // Nothing to push: the policy only has to be evaluated.
        automationSuspended: false,
      });
    };

    it('uses the realm the Application’s project allows', async () => {
      const prepared = await run(project(['127.0.0.1']));
      expect(prepared.warnings).toEqual([]);
      expect(prepared.imageUpdates).toMatchObject([{ newTag: 'v1.1.0' }]);
      expect(prepared.manifests.get('web')).toMatchObject([
        { data: { image: `${elsewhere}/team/app:v1.1.0` } },
      ]);
    });

    it('refuses the realm for the default project, as a warning naming it', async () => {
      const prepared = await run(
        defaultProject(
          { metadata: { name: 'app', namespace: 'team' } },
          'home',
        ),
      );
      expect(prepared.warnings).toEqual([
        expect.stringContaining(
          `Image policy team:web: Registry ${elsewhere} sends its token requests to ${
            new URL(registry.tokenServer!.realm).host
          }, not the registry's own host;`,
        ),
      ]);
    });
  });
});

/** A server on 127.0.0.1 that records each request's host, path and Authorization. */
async function startServer(
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void,
) {
  const seen: Array<{ host: string; path: string; authorization?: string }> =
    [];
  const server = http.createServer((req, res) => {
    seen.push({
      host: req.headers.host ?? '',
      path: req.url ?? '',
      authorization: req.headers.authorization,
    });
    handler(req, res);
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    seen,
    close: () => new Promise<void>(resolve => server.close(() => resolve())),
  };
}

describe('registry redirects', () => {
  const credentials = { username: 'robot', password: 'not-for-storage' };
  const basic = `Basic ${Buffer.from('robot:not-for-storage').toString(
    'base64',
  )}`;
  const digest = `sha256:${'d'.repeat(64)}`;
  let server: Awaited<ReturnType<typeof startServer>>;

  beforeAll(async () => {
    server = await startServer((req, res) => {
      const storage = `http://localhost:${server.port}`;
      const url = req.url ?? '';
      if (url.startsWith('/storage/manifest')) {
        // Storage elsewhere: a signed URL needs no Authorization.
        res.writeHead(200, { 'docker-content-digest': digest });
        res.end();
        return;
      }
      if (url === '/storage/token') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"token":"t"}');
        return;
      }
      if (url.startsWith('/token')) {
        // The token service moved elsewhere: the Basic credentials stay behind.
        res.writeHead(302, { location: `${storage}/storage/token` });
        res.end();
        return;
      }
      if (url.startsWith('/v2/bearer/')) {
        if (req.headers.authorization === 'Bearer t') {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{"tags":["b"]}');
        } else {
          res.writeHead(401, {
            'www-authenticate': `Bearer realm="http://127.0.0.1:${server.port}/token",service="test"`,
          });
          res.end();
        }
        return;
      }
      if (req.headers.authorization !== basic) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="test"' });
        res.end();
        return;
      }
      if (url.startsWith('/v2/team/app/tags/list')) {
        // Same host: the credentials go along.
        res.writeHead(307, { location: '/v2/team/app/tags/moved' });
        res.end();
      } else if (url === '/v2/team/app/tags/moved') {
        res.writeHead(200, {
          'content-type': 'application/json',
          link: `<${storage}/v2/team/app/tags/moved?last=a>; rel="next"`,
        });
        res.end('{"tags":["a"]}');
      } else if (url.startsWith('/v2/team/app/manifests/')) {
        res.writeHead(307, { location: `${storage}/storage/manifest` });
        res.end();
      } else {
        res.writeHead(404);
        res.end();
      }
    });
  });
  afterAll(() => server?.close());

  const image = () => `127.0.0.1:${server.port}/team/app`;

  it('follows a manifest redirect to storage on another host without the Authorization header', async () => {
    server.seen.length = 0;
    await expect(
      fastClient().getDigest(image(), 'v1', { credentials, insecure: true }),
    ).resolves.toBe(digest);
    const toRegistry = server.seen.filter(s => s.path.startsWith('/v2/'));
    const toStorage = server.seen.filter(s => s.path.startsWith('/storage/'));
    expect(toRegistry.at(-1)).toMatchObject({
      host: `127.0.0.1:${server.port}`,
      authorization: basic,
    });
    expect(toStorage).toEqual([
      {
        host: `localhost:${server.port}`,
        path: '/storage/manifest',
        authorization: undefined,
      },
    ]);
  });

  it('keeps the credentials on a redirect within the registry’s host, and does not follow Link to another host', async () => {
    server.seen.length = 0;
    const error = await fastClient()
      .listTags(image(), { credentials, insecure: true })
      .catch(e => e);
    expect(server.seen.map(s => [s.path, s.authorization])).toEqual([
      ['/v2/team/app/tags/list?n=1000', undefined],
      ['/v2/team/app/tags/list?n=1000', basic],
      ['/v2/team/app/tags/moved', basic],
    ]);
    expect(error).toMatchObject({
      name: 'NotAllowedError',
      message: `Registry ${
        image().split('/')[0]
      }: the next page of the tags of team/app is on another host (localhost:${
        server.port
      }), not followed`,
    });
  });

  it('does not send the credentials on when the token service redirects to another host', async () => {
    server.seen.length = 0;
    await expect(
      fastClient().listTags(`127.0.0.1:${server.port}/bearer/app`, {
        credentials,
        insecure: true,
        // The realm is on the registry's own host: allowed without a project.
        tokenHosts: { allowed: [], project: 'team' },
      }),
    ).resolves.toEqual(['b']);
    expect(
      server.seen.map(s => [
        s.host.split(':')[0],
        s.path.split('?')[0],
        s.authorization,
      ]),
    ).toEqual([
      ['127.0.0.1', '/v2/bearer/app/tags/list', undefined],
      ['127.0.0.1', '/token', basic],
      ['localhost', '/storage/token', undefined],
      ['127.0.0.1', '/v2/bearer/app/tags/list', 'Bearer t'],
    ]);
  });
});
