import http from 'node:http';
import { AddressInfo } from 'node:net';
import {
  deleteTag,
  listTags,
  pushImage,
  pushTags,
  Registry,
  startRegistry,
} from './registry';

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('registry (htpasswd)', () => {
  let registry: Registry;
  beforeAll(async () => {
    registry = await startRegistry();
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('lists a pushed tag to a client with the right password, and refuses a wrong one', async () => {
    const pushed = await pushImage(registry, 'team/app', 'v1.2.3');
    expect(pushed.digest).toMatch(/^sha256:[0-9a-f]{64}$/);

    const res = await fetch(`${registry.url}/v2/team/app/tags/list`, {
      headers: { authorization: basic(registry.username, registry.password) },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ name: 'team/app', tags: ['v1.2.3'] });

    const manifest = await fetch(
      `${registry.url}/v2/team/app/manifests/v1.2.3`,
      {
        headers: {
          authorization: basic(registry.username, registry.password),
          accept: 'application/vnd.oci.image.manifest.v1+json',
        },
      },
    );
    expect(manifest.headers.get('docker-content-digest')).toBe(pushed.digest);

    const wrong = await fetch(`${registry.url}/v2/team/app/tags/list`, {
      headers: { authorization: basic(registry.username, 'wrong') },
    });
    expect(wrong.status).toBe(401);
  });

  it('holds many tags and deletes one', async () => {
    const tags = Array.from({ length: 300 }, (_, i) => `1.0.${i}`);
    await pushTags(registry, 'team/many', tags);
    expect((await listTags(registry, 'team/many')).sort()).toEqual(
      [...tags].sort(),
    );
    await deleteTag(registry, 'team/many', '1.0.7');
    const after = await listTags(registry, 'team/many');
    expect(after).toHaveLength(299);
    expect(after).not.toContain('1.0.7');
  });
});

describe('registry (token auth)', () => {
  let registry: Registry;
  beforeAll(async () => {
    registry = await startRegistry({ auth: 'token' });
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('challenges with Bearer and accepts a token from its token server', async () => {
    await pushImage(registry, 'team/app', '2.0.0');
    const challenge = await fetch(`${registry.url}/v2/team/app/tags/list`);
    expect(challenge.status).toBe(401);
    const header = challenge.headers.get('www-authenticate') ?? '';
    const params = Object.fromEntries(
      [...header.matchAll(/(\w+)="([^"]*)"/g)].map(m => [m[1], m[2]]),
    );
    expect(header).toMatch(/^Bearer /);
    expect(params.realm).toBe(registry.tokenServer!.realm);

    const realm = new URL(params.realm);
    realm.searchParams.set('service', params.service);
    realm.searchParams.set('scope', params.scope);
    const refused = await fetch(realm, {
      headers: { authorization: basic(registry.username, 'wrong') },
    });
    expect(refused.status).toBe(401);
    const tokenRes = await fetch(realm, {
      headers: { authorization: basic(registry.username, registry.password) },
    });
    const { token } = (await tokenRes.json()) as { token: string };

    const res = await fetch(`${registry.url}/v2/team/app/tags/list`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ name: 'team/app', tags: ['2.0.0'] });
  });
});

describe('registry notifications', () => {
  it('posts a push event for a new tag to the configured endpoint', async () => {
    const events: any[] = [];
    const receiver = http.createServer((req, res) => {
      let body = '';
      req.on('data', c => (body += c));
      req.on('end', () => {
        events.push({ headers: req.headers, envelope: JSON.parse(body) });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>(r => receiver.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${
      (receiver.address() as AddressInfo).port
    }/hook`;
    const registry = await startRegistry({
      notifications: { url, headers: { 'x-test-secret': 's3cret' } },
    });
    try {
      await pushImage(registry, 'team/app', '3.1.4');
      const deadline = Date.now() + 20_000;
      const pushEvent = () =>
        events
          .flatMap(e => e.envelope.events)
          .find(
            (ev: any) => ev.action === 'push' && ev.target?.tag === '3.1.4',
          );
      while (!pushEvent() && Date.now() < deadline)
        await new Promise(r => setTimeout(r, 100));
      expect(pushEvent()).toMatchObject({
        target: { repository: 'team/app', tag: '3.1.4' },
      });
      expect(events[0].headers['x-test-secret']).toBe('s3cret');
      expect(events[0].headers['content-type']).toContain(
        'application/vnd.docker.distribution.events.v1+json',
      );
    } finally {
      await registry.stop();
      receiver.closeAllConnections();
      await new Promise(r => receiver.close(r));
    }
  });
});
