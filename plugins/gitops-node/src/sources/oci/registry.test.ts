import { InputError } from '@backstage/errors';
import { nextLink, parseChallenge, parseRetryAfter } from './client';
import {
  credentialsForRegistry,
  credentialsFromSecret,
  parseDockerConfigJson,
} from './credentials';
import { parseImageReference } from './reference';

const DIGEST = `sha256:${'a'.repeat(64)}`;

describe('parseImageReference', () => {
  it.each`
    reference                            | registry                      | repository         | tag               | digest
    ${'nginx'}                           | ${'index.docker.io'}          | ${'library/nginx'} | ${undefined}      | ${undefined}
    ${'nginx:1.25'}                      | ${'index.docker.io'}          | ${'library/nginx'} | ${'1.25'}         | ${undefined}
    ${'docker.io/nginx'}                 | ${'index.docker.io'}          | ${'library/nginx'} | ${undefined}      | ${undefined}
    ${'docker.io/bitnami/redis:7'}       | ${'index.docker.io'}          | ${'bitnami/redis'} | ${'7'}            | ${undefined}
    ${'bitnami/redis'}                   | ${'index.docker.io'}          | ${'bitnami/redis'} | ${undefined}      | ${undefined}
    ${'ghcr.io/org/team/app:v1.2.3'}     | ${'ghcr.io'}                  | ${'org/team/app'}  | ${'v1.2.3'}       | ${undefined}
    ${'127.0.0.1:5000/app:master-abc-1'} | ${'127.0.0.1:5000'}           | ${'app'}           | ${'master-abc-1'} | ${undefined}
    ${'localhost/app'}                   | ${'localhost'}                | ${'app'}           | ${undefined}      | ${undefined}
    ${'Registry.Example.com:443/a/b'}    | ${'registry.example.com:443'} | ${'a/b'}           | ${undefined}      | ${undefined}
    ${`ghcr.io/app@${DIGEST}`}           | ${'ghcr.io'}                  | ${'app'}           | ${undefined}      | ${DIGEST}
  `('$reference → $registry / $repository', ({ reference, ...expected }) => {
    expect(parseImageReference(reference)).toMatchObject(expected);
    expect(parseImageReference(reference).name).toBe(
      `${expected.registry}/${expected.repository}`,
    );
  });

  it.each(['', 'Upper/case', 'app:bad tag', 'a//b', 'app@md5'])(
    'rejects %j with an InputError',
    reference => {
      expect(() => parseImageReference(reference)).toThrow(InputError);
    },
  );
});

describe('dockerconfigjson credentials', () => {
  const document = JSON.stringify({
    auths: {
      'https://index.docker.io/v1/': {
        auth: Buffer.from('hubuser:hub:pass').toString('base64'),
      },
      'registry.example.com:5000': { username: 'u', password: 'p' },
      'ghcr.io': { auth: '' },
    },
  });

  it('reads "auth" and "username"/"password" entries, matched by host', () => {
    const auths = parseDockerConfigJson(document);
    expect(credentialsForRegistry(auths, 'index.docker.io')).toEqual({
      username: 'hubuser',
      password: 'hub:pass',
    });
    expect(credentialsForRegistry(auths, 'docker.io')).toEqual(
      credentialsForRegistry(auths, 'index.docker.io'),
    );
    expect(credentialsForRegistry(auths, 'registry.example.com:5000')).toEqual({
      username: 'u',
      password: 'p',
    });
    expect(
      credentialsForRegistry(auths, 'registry.example.com'),
    ).toBeUndefined();
    expect(credentialsForRegistry(auths, 'ghcr.io')).toBeUndefined();
  });

  it('reads a kubernetes.io/dockerconfigjson Secret', () => {
    const secret = {
      metadata: { name: 'imagesecret', namespace: 'default' },
      type: 'kubernetes.io/dockerconfigjson',
      data: { '.dockerconfigjson': Buffer.from(document).toString('base64') },
    };
    expect(
      credentialsForRegistry(
        credentialsFromSecret(secret),
        'registry.example.com:5000',
      ),
    ).toEqual({ username: 'u', password: 'p' });
  });

  it('says what is wrong without quoting secrets', () => {
    expect(() =>
      parseDockerConfigJson('{"auths": {"h": {"auth": "c2VjcmV0"}}'),
    ).toThrow('not valid JSON');
    const noColon = JSON.stringify({ auths: { h: { auth: 'c2VjcmV0' } } });
    expect(() => parseDockerConfigJson(noColon)).toThrow(
      'The .dockerconfigjson entry for "h" has an "auth" that is not base64 of user:password',
    );
    expect(() =>
      credentialsFromSecret({
        metadata: { name: 's', namespace: 'ns' },
        type: 'Opaque',
      }),
    ).toThrow(
      'Secret ns/s is of type Opaque, expected kubernetes.io/dockerconfigjson',
    );
  });
});

describe('HTTP header parsing', () => {
  it('parses Bearer and Basic challenges', () => {
    expect(
      parseChallenge(
        'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"',
      ),
    ).toEqual({
      scheme: 'bearer',
      realm: 'https://auth.example/token',
      service: 'registry.example',
    });
    expect(parseChallenge('Basic realm="Registry Realm"')).toEqual({
      scheme: 'basic',
    });
    expect(parseChallenge('Bearer service="x"')).toBeUndefined();
    expect(parseChallenge(null)).toBeUndefined();
  });

  it('follows rel="next" relative to the current page', () => {
    const current = 'http://127.0.0.1:5000/v2/app/tags/list?n=1000';
    expect(
      nextLink('</v2/app/tags/list?last=t999&n=1000>; rel="next"', current),
    ).toBe('http://127.0.0.1:5000/v2/app/tags/list?last=t999&n=1000');
    expect(nextLink('<https://x/prev>; rel="prev"', current)).toBeUndefined();
    expect(nextLink(null, current)).toBeUndefined();
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('2')).toBe(2000);
    const inFiveSeconds = new Date(Date.now() + 5000).toUTCString();
    expect(parseRetryAfter(inFiveSeconds)).toBeGreaterThan(3000);
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});
