/*
 * The registry client, scanner and policy evaluator against the real CNCF
 * distribution registry (htpasswd and token auth). The one thing in between
 * is a small HTTP proxy on 127.0.0.1 that forwards to the registry and can
 * be taken down or made to answer 429, to show that the last good choice
 * stays in force and recovers by itself.
 */
import {
  ImagePolicyEvaluator,
  ImagePolicySpec,
  ImageScanner,
  RegistryClient,
  credentialsForRegistry,
  credentialsFromSecret,
} from '@gitops-workflow/plugin-gitops-node';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createCA, createServingCert } from '../infra/certs';
import { startProxy } from './proxy';
import {
  Registry,
  pushImage,
  pushTags,
  startRegistry,
} from '../infra/registry';

jest.setTimeout(180_000);

const seedSpec: ImagePolicySpec = {
  filterTags: { pattern: '^master-[a-f0-9]+-(?P<ts>[0-9]+)', extract: '$ts' },
  policy: { numerical: { order: 'asc' } },
};

/**
 * `master-<sha>-<timestamp>` tags as the seed's CI pushes them. The shas are
 * scattered and the timestamps cross from 9 to 10 digits, so byte order
 * (the registry's) differs from the numerical order of the timestamps.
 */
function seedTags(count: number): string[] {
  return Array.from({ length: count }, (_, i) => {
    const sha = ((i * 2654435761) % 0xfffffff).toString(16).padStart(7, '0');
    return `master-${sha}-${999_998_500 + i}`;
  });
}

const fastClient = () =>
  new RegistryClient({ maxRetries: 2, retryBaseDelayMs: 50, timeoutMs: 5_000 });

/** The error listing the registry's tags with the wrong `password` ends in. */
const listWithPassword = (target: Registry, password: string) =>
  fastClient()
    .listTags(`${target.host}/team/app`, {
      credentials: { username: target.username, password },
      insecure: true,
    })
    .catch(e => e);

describe('registry with htpasswd Basic auth', () => {
  let registry: Registry;
  let credentials: { username: string; password: string };
  const tags = seedTags(2_500);

  beforeAll(async () => {
    registry = await startRegistry({ auth: 'htpasswd' });
    const secret = {
      type: 'kubernetes.io/dockerconfigjson',
      data: {
        '.dockerconfigjson': Buffer.from(registry.dockerConfigJson()).toString(
          'base64',
        ),
      },
    };
    credentials = credentialsForRegistry(
      credentialsFromSecret(secret),
      registry.host,
    )!;
    await pushTags(registry, 'team/app', [...tags, 'latest', 'sha256-abc.sig']);
  });
  afterAll(() => registry?.stop());

  it('lists 2,500 tags and picks the seed policy tag', async () => {
    const client = fastClient();
    const all = await client.listTags(`${registry.host}/team/app`, {
      credentials,
      insecure: true,
    });
    expect(all).toHaveLength(2_502);
    expect(new Set(all)).toEqual(
      new Set([...tags, 'latest', 'sha256-abc.sig']),
    );

    const evaluator = new ImagePolicyEvaluator({
      scanner: new ImageScanner({ client }),
    });
    const result = await evaluator.evaluate('default:gitops', {
      image: `${registry.host}/team/app`,
      spec: seedSpec,
      credentials,
      insecure: true,
      digestReflectionPolicy: 'IfNotPresent',
    });
    expect(result.error).toBeUndefined();
    expect(result.tag).toBe(tags[tags.length - 1]);
    expect(result.image).toBe(`${registry.host}/team/app`);
    expect(result.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('looks up a digest with HEAD and Docker-Content-Digest', async () => {
    const pushed = await pushImage(registry, 'team/other', 'v1.0.0', {
      fileContent: 'digest test\n',
    });
    const digest = await fastClient().getDigest(
      `${pushed.reference}`,
      undefined,
      {
        credentials,
        insecure: true,
      },
    );
    expect(digest).toBe(pushed.digest);
  });

  it('reflects the digest of a re-pushed tag as digestReflectionPolicy says (Never, IfNotPresent, Always)', async () => {
    const image = `${registry.host}/team/moving`;
    const first = await pushImage(registry, 'team/moving', '1.0.0', {
      fileContent: 'first build\n',
    });
    // Every evaluation lists the tags afresh, as each interval (or a sync) does.
    const evaluator = new ImagePolicyEvaluator({
      scanner: new ImageScanner({ client: fastClient(), intervalMs: 0 }),
    });
    const spec: ImagePolicySpec = { policy: { semver: { range: '^1.0.0' } } };
    const digestOf = async (
      policy: 'Never' | 'IfNotPresent' | 'Always',
      on = evaluator,
      writtenDigest?: (tag: string) => Promise<string | undefined>,
    ) => {
      const result = await on.evaluate(`ns:${policy}`, {
        image,
        spec,
        credentials,
        insecure: true,
        digestReflectionPolicy: policy,
        writtenDigest,
      });
      expect(result.error).toBeUndefined();
      expect(result.tag).toBe('1.0.0');
      return result.digest;
    };
    expect(await digestOf('Never')).toBeUndefined();
    expect(await digestOf('IfNotPresent')).toBe(first.digest);
    expect(await digestOf('Always')).toBe(first.digest);

    const moved = await pushImage(registry, 'team/moving', '1.0.0', {
      fileContent: 'second build, same tag\n',
    });
    expect(moved.digest).not.toBe(first.digest);
    expect(await digestOf('Never')).toBeUndefined();
    expect(await digestOf('IfNotPresent')).toBe(first.digest);
    expect(await digestOf('Always')).toBe(moved.digest);

    // After a restart, IfNotPresent keeps the digest Git holds for the tag; with none, it looks it up.
    const restarted = () =>
      new ImagePolicyEvaluator({
        scanner: new ImageScanner({ client: fastClient(), intervalMs: 0 }),
      });
    expect(
      await digestOf('IfNotPresent', restarted(), async tag =>
        tag === '1.0.0' ? first.digest : undefined,
      ),
    ).toBe(first.digest);
    expect(await digestOf('IfNotPresent', restarted())).toBe(moved.digest);
  });

  it('excludes cosign signature tags from scans by default', async () => {
    const scanner = new ImageScanner({ client: fastClient() });
    const scan = await scanner.scan(`${registry.host}/team/app`, {
      credentials,
      insecure: true,
    });
    expect(scan.tags).toHaveLength(2_501);
    expect(scan.tags).not.toContain('sha256-abc.sig');
    const all = await scanner.scan(`${registry.host}/team/app`, {
      credentials,
      insecure: true,
      exclusionList: [],
    });
    expect(all.tags).toContain('sha256-abc.sig');
  });

  it('shares one listing per interval between the policies of an image', async () => {
    const proxy = await startProxy(registry);
    try {
      const scanner = new ImageScanner({
        client: fastClient(),
        intervalMs: 60_000,
      });
      const evaluator = new ImagePolicyEvaluator({ scanner });
      const image = `${proxy.host}/team/app`;
      const access = { credentials, insecure: true };
      const [a, b, c] = await Promise.all([
        evaluator.evaluate('ns:a', { image, spec: seedSpec, ...access }),
        evaluator.evaluate('ns:b', {
          image,
          spec: { policy: { alphabetical: { order: 'asc' } } },
          ...access,
        }),
        evaluator.evaluate('ns:c', {
          image,
          spec: {
            filterTags: { pattern: '^latest$' },
            policy: { alphabetical: {} },
          },
          ...access,
        }),
      ]);
      expect([a.tag, b.tag, c.tag]).toEqual([
        tags[tags.length - 1],
        [...tags, 'latest'].sort().pop(),
        'latest',
      ]);
      // First pages only (a next page carries `last=`): the one 401 that
      // taught the client Basic auth, then the one listing all three shared.
      const firstPages = () =>
        proxy.requests.filter(
          r => r.includes('/tags/list') && !r.includes('last='),
        ).length;
      expect(firstPages()).toBe(2);
      await evaluator.evaluate('ns:a', { image, spec: seedSpec, ...access });
      expect(firstPages()).toBe(2);
    } finally {
      await proxy.close();
    }
  });

  it('trusts a custom CA for a registry served over TLS', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitops-registry-tls-'));
    const ca = await createCA(dir, 'ca', 'gitops test CA');
    const serving = await createServingCert(dir, 'registry', ca, {
      ips: ['127.0.0.1'],
      dnsNames: [],
    });
    const proxy = await startProxy(registry, {
      cert: serving.certPem,
      key: fs.readFileSync(serving.keyFile, 'utf8'),
    });
    try {
      const image = `${proxy.host}/team/app`;
      const listed = await fastClient().listTags(image, {
        credentials,
        ca: ca.certPem,
      });
      expect(listed).toHaveLength(2_502);
      const untrusted = await fastClient()
        .listTags(image, { credentials })
        .catch(e => e);
      expect(untrusted.name).toBe('ServiceUnavailableError');
      expect(untrusted.message).toMatch(/unreachable: .*(CERT|SIGNED|VERIFY)/);
    } finally {
      await proxy.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports a wrong password as an authentication error without the password', async () => {
    const password = 'not-the-password-d3adb33f';
    const error = await listWithPassword(registry, password);
    expect(error?.name).toBe('AuthenticationError');
    expect(error.message).toContain(registry.host);
    expect(error.message).toContain('access denied');
    expect(
      JSON.stringify({ ...error, message: error.message, stack: error.stack }),
    ).not.toContain(password);
  });

  it('keeps the last good choice while the registry is down, and recovers', async () => {
    const proxy = await startProxy(registry);
    try {
      const evaluator = new ImagePolicyEvaluator({
        scanner: new ImageScanner({ client: fastClient(), intervalMs: 0 }),
      });
      const options = {
        image: `${proxy.host}/team/app`,
        spec: seedSpec,
        credentials,
        insecure: true,
      };
      const first = await evaluator.evaluate('default:gitops', options);
      expect(first.tag).toBe(tags[tags.length - 1]);

      await proxy.down();
      const newer = 'master-abcdef0-1800000000';
      await pushImage(registry, 'team/app', newer);
      const during = await evaluator.evaluate('default:gitops', options);
      expect(during.tag).toBe(tags[tags.length - 1]);
      expect(during.error?.name).toBe('ServiceUnavailableError');
      expect(during.error?.message).toContain(
        `Registry ${proxy.host} is unreachable`,
      );

      await proxy.up();
      const after = await evaluator.evaluate('default:gitops', options);
      expect(after).toMatchObject({ tag: newer, changed: true });
      expect(after.error).toBeUndefined();
    } finally {
      await proxy.close();
    }
  });

  it('forgets the policies and listings of Applications that are gone', async () => {
    await pushTags(registry, 'team/other', ['v1.0.0']);
    const evaluator = new ImagePolicyEvaluator({
      scanner: new ImageScanner({ client: fastClient() }),
    });
    const access = { credentials, insecure: true };
    const kept = await evaluator.evaluate('default:app', {
      image: `${registry.host}/team/app`,
      spec: seedSpec,
      ...access,
    });
    expect(kept.tag).toBeDefined();
    await evaluator.evaluate('default:other', {
      image: `${registry.host}/team/other`,
      spec: { policy: { semver: { range: '>=1.0.0' } } },
      ...access,
    });
    expect(evaluator.rememberedPolicies).toBe(2);
    expect(evaluator.scanner.cachedListings).toBe(2);

    evaluator.retain(['default:app']);
    expect(evaluator.rememberedPolicies).toBe(1);
    expect(evaluator.scanner.cachedListings).toBe(1);
    expect(evaluator.lastResult('default:other')).toBeUndefined();
    // What is kept is kept as it was (earlier tests may have pushed more tags to team/app).
    expect(evaluator.lastResult('default:app')?.tag).toBe(kept.tag);

    evaluator.forget('default:app');
    expect(evaluator.rememberedPolicies).toBe(0);
    expect(evaluator.scanner.cachedListings).toBe(0);
  });

  it('gives up on a registry that stops answering, naming the request and the deadline', async () => {
    const proxy = await startProxy(registry);
    const client = new RegistryClient({
      timeoutMs: 300,
      maxRetries: 1,
      retryBaseDelayMs: 10,
    });
    const list = () =>
      client
        .listTags(`${proxy.host}/team/app`, { credentials, insecure: true })
        .catch(e => e);
    try {
      proxy.silence('all');
      const silent = await list();
      expect(silent).toMatchObject({
        name: 'ServiceUnavailableError',
        message: `Registry ${proxy.host}: GET /v2/team/app/tags/list timed out after 300ms, 2 tries`,
      });
      // Headers, then silence: the deadline covers the body as well.
      proxy.silence('body');
      const halfway = await list();
      expect(halfway).toMatchObject({
        name: 'ServiceUnavailableError',
        message: `Registry ${proxy.host}: reading the answer to /v2/team/app/tags/list timed out after 300ms`,
      });
      for (const error of [silent, halfway]) {
        expect(JSON.stringify(error)).not.toContain(credentials.password);
      }
      proxy.silence(false);
      await expect(list()).resolves.toContain(tags[0]);
    } finally {
      await proxy.close();
    }
  });

  it('honours 429 + Retry-After, and keeps the last good choice when it persists', async () => {
    const proxy = await startProxy(registry);
    try {
      const client = new RegistryClient({
        maxRetries: 2,
        retryBaseDelayMs: 50,
      });
      const evaluator = new ImagePolicyEvaluator({
        scanner: new ImageScanner({ client, intervalMs: 0 }),
      });
      const options = {
        image: `${proxy.host}/team/app`,
        spec: seedSpec,
        credentials,
        insecure: true,
      };
      const good = await evaluator.evaluate('default:gitops', options);
      expect(good.error).toBeUndefined();

      // Two 429s: the client waits the asked second each time, then succeeds.
      proxy.rateLimit(2, '1');
      const started = Date.now();
      const retried = await evaluator.evaluate('default:gitops', options);
      expect(retried.error).toBeUndefined();
      expect(Date.now() - started).toBeGreaterThanOrEqual(2_000);

      // More 429s than retries: the last good tag stays, with the reason.
      const newest = 'master-abcdef1-1900000000';
      await pushImage(registry, 'team/app', newest);
      proxy.rateLimit(3, '0');
      const limited = await evaluator.evaluate('default:gitops', options);
      expect(limited.tag).toBe(retried.tag);
      expect(limited.error?.name).toBe('ServiceUnavailableError');
      expect(limited.error?.message).toContain('rate limited (HTTP 429)');

      const recovered = await evaluator.evaluate('default:gitops', options);
      expect(recovered).toMatchObject({ tag: newest, changed: true });
      expect(recovered.error).toBeUndefined();
    } finally {
      await proxy.close();
    }
  });
});

describe('registry with token auth', () => {
  let registry: Registry;

  beforeAll(async () => {
    registry = await startRegistry({ auth: 'token' });
    await pushTags(registry, 'team/app', [
      '1.0.0',
      '1.2.0',
      'v1.10.0',
      '2.0.0-rc.1',
    ]);
  });
  afterAll(() => registry?.stop());

  it('follows the Bearer challenge and caches the token', async () => {
    const client = fastClient();
    const access = {
      credentials: { username: registry.username, password: registry.password },
      insecure: true,
    };
    const issuedBefore = registry.tokenServer!.issued;
    const evaluator = new ImagePolicyEvaluator({
      scanner: new ImageScanner({ client, intervalMs: 0 }),
    });
    const spec: ImagePolicySpec = { policy: { semver: { range: '^1.x' } } };
    const image = `${registry.host}/team/app`;
    const first = await evaluator.evaluate('ns:semver', {
      image,
      spec,
      ...access,
    });
    expect(first).toMatchObject({ tag: 'v1.10.0' });
    expect(first.error).toBeUndefined();
    const second = await evaluator.evaluate('ns:semver', {
      image,
      spec,
      ...access,
      digestReflectionPolicy: 'IfNotPresent',
    });
    expect(second.error).toBeUndefined();
    expect(second.digest).toMatch(/^sha256:/);
    // Two listings and a manifest HEAD, one pull scope: one token.
    expect(registry.tokenServer!.issued - issuedBefore).toBe(1);
  });

  it('reports a wrong password as an authentication error without the password', async () => {
    const password = 'wrong-token-pass-5ec4e7';
    const error = await listWithPassword(registry, password);
    expect(error?.name).toBe('AuthenticationError');
    expect(error.message).toContain('token service refused access for user');
    expect(`${error.message}\n${error.stack}`).not.toContain(password);
  });
});
