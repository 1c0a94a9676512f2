import crypto from 'node:crypto';
import { KubeObject } from '@gitops-workflow/plugin-gitops-node';
import {
  applicationsForImages,
  applicationsForRepository,
  checkFreshness,
  pushedTags,
  pushedRepository,
  verifyBearer,
  verifyHmac,
} from './webhooks';

const SECRET = 'a-shared-secret-of-some-length';
const hmac = (data: string) =>
  crypto.createHmac('sha256', SECRET).update(data).digest('hex');

function app(name: string, properties: Record<string, unknown>): KubeObject {
  return {
    apiVersion: 'core.oam.dev/v1beta1',
    kind: 'Application',
    metadata: { name, namespace: 'default' },
    spec: { components: [{ name: 'gitops', type: 'kustomize', properties }] },
  };
}

describe('webhook verification', () => {
  it('accepts the registry bearer secret and refuses anything else', () => {
    expect(() => verifyBearer(`Bearer ${SECRET}`, SECRET)).not.toThrow();
    expect(() => verifyBearer(`Bearer ${SECRET}x`, SECRET)).toThrow(
      'Wrong webhook secret',
    );
    expect(() => verifyBearer(SECRET, SECRET)).toThrow('Missing Authorization');
    expect(() => verifyBearer(undefined, SECRET)).toThrow(
      'Missing Authorization',
    );
  });

  it('checks GitHub and generic HMAC signatures of the raw body', () => {
    const body = Buffer.from('{"ref":"refs/heads/main"}');
    expect(() =>
      verifyHmac(body, { github: `sha256=${hmac(body.toString())}` }, SECRET),
    ).not.toThrow();
    expect(() =>
      verifyHmac(body, { github: hmac(body.toString()) }, SECRET),
    ).toThrow('X-Hub-Signature-256');
    expect(() =>
      verifyHmac(body, { generic: hmac(body.toString()) }, SECRET),
    ).not.toThrow();
    expect(() =>
      verifyHmac(body, { generic: `sha256=${hmac(body.toString())}` }, SECRET),
    ).not.toThrow();
    // One changed byte of the body is a different signature.
    expect(() =>
      verifyHmac(
        Buffer.from('{"ref":"refs/heads/mai"}'),
        { generic: hmac(body.toString()) },
        SECRET,
      ),
    ).toThrow('X-Signature does not match');
    expect(() => verifyHmac(body, {}, SECRET)).toThrow('not signed');
  });

  it('signs the timestamp with the body, so a replay cannot carry a fresh one', () => {
    const body = Buffer.from('{}');
    const ts = '1800000000';
    expect(() =>
      verifyHmac(body, { generic: hmac(`${ts}.{}`), timestamp: ts }, SECRET),
    ).not.toThrow();
    expect(() =>
      verifyHmac(body, { generic: hmac('{}'), timestamp: ts }, SECRET),
    ).toThrow('X-Signature');
  });

  it('refuses a timestamp more than five minutes away, in seconds or as a date', () => {
    const now = Date.parse('2026-11-23T12:00:00Z');
    expect(() => checkFreshness(undefined, now)).not.toThrow();
    expect(() => checkFreshness(String(now / 1000 - 60), now)).not.toThrow();
    expect(() => checkFreshness(String(now / 1000 - 301), now)).toThrow(
      'stale',
    );
    expect(() => checkFreshness('2026-11-23T11:54:00Z', now)).toThrow('stale');
    expect(() => checkFreshness('yesterday', now)).toThrow('not a Unix time');
  });
});

describe('webhook matching', () => {
  const apps = [
    app('by-image', {
      url: 'https://git.example.com/org/demo.git',
      git: { branch: 'main' },
      imageRepository: { image: '127.0.0.1:5000/team/web' },
    }),
    app('hub', {
      url: 'https://git.example.com/org/other',
      imageRepository: { image: 'nginx' },
    }),
    app('no-images', { url: 'https://user:pw@GIT.example.com/org/demo/' }),
  ];

  it('finds Applications whose image automation watches a pushed tag, ignoring blobs and digest-only pushes', () => {
    const receivedAt = new Date('2026-12-01T16:31:09Z');
    const pushes = pushedTags(
      {
        events: [
          {
            action: 'push',
            timestamp: '2026-12-01T16:31:07.123456789Z',
            target: { repository: 'team/web', tag: 'v2' },
            request: { host: '127.0.0.1:5000' },
          },
          {
            action: 'push',
            target: { repository: 'team/api', digest: 'sha256:0' },
            request: { host: '127.0.0.1:5000' },
          },
          {
            action: 'pull',
            target: { repository: 'library/nginx', tag: '1' },
            request: { host: 'docker.io' },
          },
        ],
      },
      receivedAt,
    );
    // The registry's own time of the push, to the millisecond.
    expect(pushes).toEqual([
      {
        image: '127.0.0.1:5000/team/web',
        tag: 'v2',
        pushedAt: new Date('2026-12-01T16:31:07.123Z'),
      },
    ]);
    expect(
      applicationsForImages(
        apps,
        pushes.map(p => p.image),
      ).map(a => a.metadata.name),
    ).toEqual(['by-image']);
    // Docker Hub's short names are normalised on both sides; a push without
    // a time, or with one ahead of ours, is as old as its notification.
    const hub = pushedTags(
      {
        events: [
          {
            action: 'push',
            target: { repository: 'library/nginx', tag: '2' },
            request: { host: 'docker.io' },
          },
          {
            action: 'push',
            timestamp: '2026-12-01T17:00:00Z',
            target: { repository: 'library/nginx', tag: '3' },
            request: { host: 'docker.io' },
          },
        ],
      },
      receivedAt,
    );
    expect(hub.map(p => p.pushedAt)).toEqual([receivedAt, receivedAt]);
    expect(
      applicationsForImages(
        apps,
        hub.map(p => p.image),
      ).map(a => a.metadata.name),
    ).toEqual(['hub']);
    expect(() => pushedTags({ hello: 1 })).toThrow(
      'Not a registry notification',
    );
  });

  it('finds Applications synced from the pushed repository and branch, however the URL is written', () => {
    const github = pushedRepository({
      ref: 'refs/heads/master',
      repository: {
        clone_url: 'https://git.example.com/org/demo.git',
        html_url: 'https://git.example.com/org/demo',
      },
    });
    expect(github).toEqual({
      urls: ['git.example.com/org/demo'],
      branch: 'master',
    });
    // by-image follows main; no-images the default branch, master.
    expect(
      applicationsForRepository(apps, github).map(a => a.metadata.name),
    ).toEqual(['no-images']);
    const anyBranch = pushedRepository({
      repository: { url: 'http://git.example.com/org/demo' },
    });
    expect(
      applicationsForRepository(apps, anyBranch).map(a => a.metadata.name),
    ).toEqual(['by-image', 'no-images']);
    expect(() => pushedRepository({ ref: 'refs/heads/main' })).toThrow(
      'names no repository URL',
    );
  });
});
