/*
 * A real OCI registry for tests: the CNCF distribution registry from Debian's
 * `docker-registry` package, with htpasswd Basic auth or Bearer-token auth
 * served by a tiny token server here, and optional push notifications.
 * Images are pushed over the registry's HTTP API (blob uploads + manifest PUT),
 * exactly as a container tool would.
 */
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import { createCA } from './certs';
import {
  Blob,
  ImageBlobs,
  ImageContent,
  imageBlobs,
  imageManifest,
  MANIFEST_MEDIA_TYPE,
  sha256,
} from './oci';
import {
  freePort,
  makeTempDir,
  requireExecutable,
  ServiceHandle,
  waitFor,
} from './process';

const run = promisify(execFile);

const REGISTRY_BIN = process.env.GITOPS_REGISTRY ?? '/usr/bin/docker-registry';
const TOKEN_SERVICE = 'gitops-test-registry';
const TOKEN_ISSUER = 'gitops-test-token-issuer';

export interface RegistryNotificationsOptions {
  /** Where the registry POSTs its event envelopes. */
  url: string;
  headers?: Record<string, string>;
  /** Blob events are noise for tag-driven tests; skipped unless asked for. */
  includeBlobEvents?: boolean;
}

export interface StartRegistryOptions {
  /** `htpasswd` (default): Basic auth. `token`: Bearer token flow. `none`: anonymous. */
  auth?: 'htpasswd' | 'token' | 'none';
  username?: string;
  password?: string;
  notifications?: RegistryNotificationsOptions;
}

export interface TokenServer {
  /** The realm URL advertised in the registry's `WWW-Authenticate` challenge. */
  realm: string;
  service: string;
  /** How many tokens were issued: lets a test see that a client caches its token. */
  readonly issued: number;
}

export interface Registry {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** `127.0.0.1:<port>`, the registry part of an image reference. */
  host: string;
  auth: 'htpasswd' | 'token' | 'none';
  username: string;
  password: string;
  /** Present in `token` mode. */
  tokenServer?: TokenServer;
  storageDir: string;
  logFile: string;
  /** A `.dockerconfigjson` document with this registry's credentials. */
  dockerConfigJson(): string;
  stop(): Promise<void>;
}

function bcryptHtpasswd(): string {
  return requireExecutable(
    'htpasswd',
    'install it with `apt-get install -y apache2-utils` (or run scripts/ensure-system-deps.sh)',
  );
}

function yamlString(value: string): string {
  return JSON.stringify(value); // JSON strings are valid YAML flow scalars
}

/** Starts a registry on a free 127.0.0.1 port with its storage in a temp dir. */
export async function startRegistry(
  options: StartRegistryOptions = {},
): Promise<Registry> {
  const auth = options.auth ?? 'htpasswd';
  const username = options.username ?? 'gitops';
  const password = options.password ?? crypto.randomBytes(12).toString('hex');
  requireExecutable(
    REGISTRY_BIN,
    'install it with `apt-get install -y docker-registry` (or run scripts/ensure-system-deps.sh)',
  );

  const handle = new ServiceHandle('registry');
  try {
    const dir = handle.addDir(await makeTempDir('registry'));
    const storageDir = path.join(dir, 'storage');
    fs.mkdirSync(storageDir);
    const logFile = path.join(dir, 'registry.log');

    const authLines: string[] = [];
    let tokenServer: (TokenServer & { close(): Promise<void> }) | undefined;
    if (auth === 'htpasswd') {
      const htpasswdFile = path.join(dir, 'htpasswd');
      await run(bcryptHtpasswd(), [
        '-Bbc',
        '-C',
        '4',
        htpasswdFile,
        username,
        password,
      ]);
      authLines.push(
        'auth:',
        '  htpasswd:',
        '    realm: gitops-test-registry',
        `    path: ${yamlString(htpasswdFile)}`,
      );
    } else if (auth === 'token') {
      const signer = await createCA(dir, 'token-signer', TOKEN_ISSUER);
      tokenServer = await startTokenServer(signer, username, password);
      authLines.push(
        'auth:',
        '  token:',
        `    realm: ${yamlString(tokenServer.realm)}`,
        `    service: ${TOKEN_SERVICE}`,
        `    issuer: ${TOKEN_ISSUER}`,
        `    rootcertbundle: ${yamlString(signer.certFile)}`,
      );
    }

    const notificationLines: string[] = [];
    if (options.notifications) {
      const n = options.notifications;
      notificationLines.push(
        'notifications:',
        '  endpoints:',
        '    - name: gitops-test',
        `      url: ${yamlString(n.url)}`,
        '      timeout: 2s',
        '      threshold: 3',
        '      backoff: 1s',
      );
      if (n.headers && Object.keys(n.headers).length > 0) {
        notificationLines.push('      headers:');
        for (const [k, v] of Object.entries(n.headers)) {
          notificationLines.push(
            `        ${yamlString(k)}: [${yamlString(v)}]`,
          );
        }
      }
      if (!n.includeBlobEvents) {
        notificationLines.push(
          '      ignoredmediatypes:',
          '        - application/octet-stream',
        );
      }
    }

    // A port taken between freePort() and the registry binding it makes the
    // registry exit: retry with a fresh port instead of failing the test.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const configFile = path.join(dir, 'config.yml');
      fs.writeFileSync(
        configFile,
        [
          'version: 0.1',
          'log:',
          '  level: warn',
          '  accesslog:',
          '    disabled: true',
          'storage:',
          '  filesystem:',
          `    rootdirectory: ${yamlString(storageDir)}`,
          '  delete:',
          '    enabled: true',
          '  maintenance:',
          '    uploadpurging:',
          '      enabled: false',
          'http:',
          `  addr: 127.0.0.1:${port}`,
          `  secret: ${crypto.randomBytes(16).toString('hex')}`,
          ...authLines,
          ...notificationLines,
          '',
        ].join('\n'),
      );
      // REGISTRY_* variables would override the config file.
      const env = Object.fromEntries(
        Object.entries(process.env).filter(([k]) => !k.startsWith('REGISTRY_')),
      );
      const proc = handle.spawn(
        'docker-registry',
        REGISTRY_BIN,
        ['serve', configFile],
        {
          logFile,
          env,
        },
      );
      const url = `http://127.0.0.1:${port}`;
      try {
        await waitFor(
          `the registry on ${url}`,
          async () => {
            const res = await fetch(`${url}/v2/`);
            return res.status === 200 || res.status === 401;
          },
          { timeoutMs: 20_000, intervalMs: 50, abort: proc.deathError },
        );
      } catch (e) {
        if (
          attempt < 3 &&
          !proc.running &&
          /address already in use/.test(proc.logTail())
        ) {
          continue;
        }
        throw e;
      }
      const registry: Registry = {
        url,
        host: `127.0.0.1:${port}`,
        auth,
        username,
        password,
        tokenServer,
        storageDir,
        logFile,
        dockerConfigJson: () =>
          JSON.stringify({
            auths: {
              [`127.0.0.1:${port}`]: {
                username,
                password,
                auth: Buffer.from(`${username}:${password}`).toString('base64'),
              },
            },
          }),
        stop: async () => {
          await handle.stop();
          await tokenServer?.close();
        },
      };
      return registry;
    }
  } catch (e) {
    await handle.stop();
    throw e;
  }
}

const b64url = (data: Buffer | string) =>
  Buffer.from(data).toString('base64url');

/**
 * The token server of the distribution token-auth spec: Basic credentials in,
 * a JWT out, signed by a key whose certificate the registry trusts
 * (`rootcertbundle`). The certificate travels in the `x5c` header, which the
 * registry verifies against that bundle. Known user: every requested action;
 * anyone else: 401.
 */
async function startTokenServer(
  signer: { certPem: string; keyFile: string },
  username: string,
  password: string,
): Promise<TokenServer & { close(): Promise<void> }> {
  const key = crypto.createPrivateKey(fs.readFileSync(signer.keyFile));
  const certDer = new crypto.X509Certificate(signer.certPem).raw.toString(
    'base64',
  );
  const expected = Buffer.from(
    `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`,
  );
  let issued = 0;

  const server = http.createServer((req, res) => {
    const reqUrl = new URL(req.url ?? '/', 'http://127.0.0.1');
    const given = Buffer.from(req.headers.authorization ?? '');
    if (
      given.length !== expected.length ||
      !crypto.timingSafeEqual(given, expected)
    ) {
      res.writeHead(401, {
        'www-authenticate': 'Basic realm="gitops-test-token"',
      });
      res.end(
        '{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}',
      );
      return;
    }
    const access = reqUrl.searchParams.getAll('scope').flatMap(scope => {
      // repository:<name>:<actions>; names may contain ':' only before a port, never here.
      const [type, ...rest] = scope.split(':');
      const actions = rest.pop() ?? '';
      return [
        {
          type,
          name: rest.join(':'),
          actions: actions.split(',').filter(Boolean),
        },
      ];
    });
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: 'ES256', typ: 'JWT', x5c: [certDer] };
    const claims = {
      iss: TOKEN_ISSUER,
      sub: username,
      aud: reqUrl.searchParams.get('service') ?? TOKEN_SERVICE,
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: crypto.randomUUID(),
      access,
    };
    const signingInput = `${b64url(JSON.stringify(header))}.${b64url(
      JSON.stringify(claims),
    )}`;
    const signature = crypto.sign('sha256', Buffer.from(signingInput), {
      key,
      dsaEncoding: 'ieee-p1363',
    });
    const token = `${signingInput}.${b64url(signature)}`;
    issued++;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        token,
        access_token: token,
        expires_in: 300,
        issued_at: new Date(now * 1000).toISOString(),
      }),
    );
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as import('node:net').AddressInfo;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service: TOKEN_SERVICE,
    get issued() {
      return issued;
    },
    close: () =>
      new Promise<void>(resolve => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Just enough of a registry client for the helpers: Basic auth, or the Bearer
 * challenge flow with a token per scope. The product's own client lives in
 * plugins/gitops-node; this one only seeds test data.
 */
class SeedClient {
  private readonly tokens = new Map<string, string>();

  constructor(readonly registry: Registry) {}

  async request(
    method: string,
    repo: string,
    pathAndQuery: string,
    init: { body?: Buffer | string; headers?: Record<string, string> } = {},
  ): Promise<Response> {
    const url = pathAndQuery.startsWith('http')
      ? pathAndQuery
      : `${this.registry.url}${pathAndQuery}`;
    const scope = `repository:${repo}:pull,push,delete`;
    const send = () =>
      fetch(url, {
        method,
        body: init.body,
        headers: { ...init.headers, ...this.authHeader(scope) },
        redirect: 'manual',
      });
    let res = await send();
    if (res.status === 401 && this.registry.auth === 'token') {
      await res.arrayBuffer();
      await this.fetchToken(scope);
      res = await send();
    }
    return res;
  }

  private authHeader(scope: string): Record<string, string> {
    const { auth, username, password } = this.registry;
    if (auth === 'htpasswd') {
      return {
        authorization: `Basic ${Buffer.from(`${username}:${password}`).toString(
          'base64',
        )}`,
      };
    }
    const token = this.tokens.get(scope);
    return token ? { authorization: `Bearer ${token}` } : {};
  }

  private async fetchToken(scope: string): Promise<void> {
    const { tokenServer, username, password } = this.registry;
    if (!tokenServer) throw new Error('registry has no token server');
    const realm = new URL(tokenServer.realm);
    realm.searchParams.set('service', tokenServer.service);
    realm.searchParams.set('scope', scope);
    const res = await fetch(realm, {
      headers: {
        authorization: `Basic ${Buffer.from(`${username}:${password}`).toString(
          'base64',
        )}`,
      },
    });
    if (!res.ok) throw new Error(`token server answered ${res.status}`);
    this.tokens.set(scope, ((await res.json()) as { token: string }).token);
  }
}

async function expectStatus(
  res: Response,
  ok: number[],
  what: string,
): Promise<Response> {
  if (!ok.includes(res.status)) {
    throw new Error(
      `${what}: registry answered ${res.status} ${await res.text()}`,
    );
  }
  return res;
}

export interface PushImageOptions {
  /** Content of the single file in the layer; the default names repo and tag. */
  fileContent?: string;
  /** A runnable image instead: its files (e.g. a static binary) and entrypoint. */
  image?: ImageContent;
  /** Extra manifest annotations. */
  annotations?: Record<string, string>;
}

export interface PushedImage {
  repository: string;
  tag: string;
  /** Manifest digest (`sha256:…`), as a registry reports it in `Docker-Content-Digest`. */
  digest: string;
  /** `127.0.0.1:<port>/<repo>:<tag>` */
  reference: string;
}

async function uploadBlob(
  client: SeedClient,
  repo: string,
  { digest, data }: Blob,
): Promise<string> {
  const head = await client.request(
    'HEAD',
    repo,
    `/v2/${repo}/blobs/${digest}`,
  );
  if (head.status === 200) return digest;
  const start = await expectStatus(
    await client.request('POST', repo, `/v2/${repo}/blobs/uploads/`),
    [202],
    `starting a blob upload to ${repo}`,
  );
  const location = new URL(
    start.headers.get('location') ?? '',
    client.registry.url,
  );
  location.searchParams.set('digest', digest);
  await expectStatus(
    await client.request('PUT', repo, location.toString(), {
      body: data,
      headers: { 'content-type': 'application/octet-stream' },
    }),
    [201],
    `uploading blob ${digest} to ${repo}`,
  );
  return digest;
}

/** Blobs first, as a container tool pushes: the manifest may only name blobs the registry has. */
async function uploadImageBlobs(
  client: SeedClient,
  repo: string,
  content: ImageContent,
): Promise<ImageBlobs> {
  const blobs = imageBlobs(content);
  await Promise.all([
    uploadBlob(client, repo, blobs.config),
    uploadBlob(client, repo, blobs.layer),
  ]);
  return blobs;
}

/** The single text file the bookkeeping images (tags only, never run) carry. */
const textImage = (fileContent: string): ImageContent => ({
  files: [{ name: 'hello.txt', content: Buffer.from(fileContent) }],
});

async function putManifest(
  client: SeedClient,
  repo: string,
  tag: string,
  blobs: ImageBlobs,
  annotations: Record<string, string>,
): Promise<string> {
  const manifest = imageManifest(blobs, annotations);
  await expectStatus(
    await client.request(
      'PUT',
      repo,
      `/v2/${repo}/manifests/${encodeURIComponent(tag)}`,
      {
        body: manifest,
        headers: { 'content-type': MANIFEST_MEDIA_TYPE },
      },
    ),
    [201],
    `pushing ${repo}:${tag}`,
  );
  return sha256(manifest);
}

/**
 * Each tag gets its own manifest (an annotation names the tag), so deleting
 * one tag — which distribution 2.x can only do by manifest digest — never
 * takes other tags with it.
 */
const tagAnnotations = (tag: string, extra?: Record<string, string>) => ({
  'io.gitops-workflow.test.tag': tag,
  ...extra,
});

/**
 * Pushes a small real image (config blob, one layer, OCI manifest) as
 * `repo:tag`: by default one text file, or `options.image` (a runnable one).
 */
export async function pushImage(
  registry: Registry,
  repo: string,
  tag: string,
  options: PushImageOptions = {},
): Promise<PushedImage> {
  const client = new SeedClient(registry);
  const blobs = await uploadImageBlobs(
    client,
    repo,
    options.image ?? textImage(options.fileContent ?? `${repo}:${tag}\n`),
  );
  const digest = await putManifest(
    client,
    repo,
    tag,
    blobs,
    tagAnnotations(tag, options.annotations),
  );
  return {
    repository: repo,
    tag,
    digest,
    reference: `${registry.host}/${repo}:${tag}`,
  };
}

/**
 * Pushes the same image under many tags quickly: blobs once, then one
 * manifest PUT per tag, `concurrency` at a time (2,500 tags take seconds).
 */
export async function pushTags(
  registry: Registry,
  repo: string,
  tags: string[],
  options: PushImageOptions & { concurrency?: number } = {},
): Promise<PushedImage[]> {
  const client = new SeedClient(registry);
  const blobs = await uploadImageBlobs(
    client,
    repo,
    options.image ?? textImage(options.fileContent ?? `${repo}\n`),
  );
  const results: PushedImage[] = new Array(tags.length);
  let next = 0;
  const worker = async () => {
    while (next < tags.length) {
      const i = next++;
      const tag = tags[i];
      const digest = await putManifest(
        client,
        repo,
        tag,
        blobs,
        tagAnnotations(tag, options.annotations),
      );
      results[i] = {
        repository: repo,
        tag,
        digest,
        reference: `${registry.host}/${repo}:${tag}`,
      };
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 8 }, worker));
  return results;
}

/** Deletes `repo:tag` (its manifest, by digest: the only way distribution 2.x deletes). */
export async function deleteTag(
  registry: Registry,
  repo: string,
  tag: string,
): Promise<void> {
  const client = new SeedClient(registry);
  const head = await expectStatus(
    await client.request(
      'HEAD',
      repo,
      `/v2/${repo}/manifests/${encodeURIComponent(tag)}`,
      {
        headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
      },
    ),
    [200],
    `looking up ${repo}:${tag}`,
  );
  const digest = head.headers.get('docker-content-digest');
  if (!digest) throw new Error(`registry gave no digest for ${repo}:${tag}`);
  await deleteManifest(registry, repo, digest);
}

/** Deletes a manifest by digest, and with it every tag pointing at it. */
export async function deleteManifest(
  registry: Registry,
  repo: string,
  digest: string,
): Promise<void> {
  const client = new SeedClient(registry);
  await expectStatus(
    await client.request('DELETE', repo, `/v2/${repo}/manifests/${digest}`),
    [202],
    `deleting ${repo}@${digest}`,
  );
}

/** All tags of `repo` as the registry lists them, following `Link` pagination. */
export async function listTags(
  registry: Registry,
  repo: string,
): Promise<string[]> {
  const client = new SeedClient(registry);
  const tags: string[] = [];
  let next: string | undefined = `/v2/${repo}/tags/list?n=1000`;
  while (next) {
    const res = await expectStatus(
      await client.request('GET', repo, next),
      [200],
      `listing ${repo}`,
    );
    const body = (await res.json()) as { tags: string[] | null };
    tags.push(...(body.tags ?? []));
    const link = res.headers.get('link');
    next = link?.match(/<([^>]+)>;\s*rel="next"/)?.[1];
  }
  return tags;
}
