import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeClient } from './client';

/**
 * A plain HTTP server standing in for an API server behind a path-prefixing
 * proxy, for the behaviours a real kube-apiserver won't produce on demand
 * (throttling); everything else is covered against the real one in test/.
 */
describe('KubeClient', () => {
  let server: http.Server;
  let base: string;
  const seen: string[] = [];
  let throttled = 0;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers.authorization}`);
      res.setHeader('content-type', 'application/json');
      if (req.url === '/proxy/api/v1') {
        res.end(
          JSON.stringify({
            resources: [
              { name: 'configmaps', kind: 'ConfigMap', namespaced: true },
            ],
          }),
        );
      } else if (
        req.url === '/proxy/api/v1/namespaces/a/configmaps/busy' &&
        throttled++ < 2
      ) {
        res.statusCode = 429;
        res.end(
          JSON.stringify({ kind: 'Status', message: 'too many requests' }),
        );
      } else if (req.url === '/proxy/api/v1/namespaces/a/configmaps/busy') {
        res.end(
          JSON.stringify({
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: { name: 'busy', namespace: 'a' },
          }),
        );
      } else {
        res.statusCode = 403;
        res.end(
          JSON.stringify({
            kind: 'Status',
            message: 'configmaps "secret" is forbidden',
          }),
        );
      }
    });
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/proxy`;
  });
  afterAll(() => new Promise(resolve => server.close(resolve)));

  function client() {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      // Plain HTTP here; client-node insists on this flag for an http:// server.
      clusters: [{ name: 'c', server: base, skipTLSVerify: true }],
      users: [{ name: 'u', token: 's3cret' }],
      contexts: [{ name: 'c', cluster: 'c', user: 'u' }],
      currentContext: 'c',
    });
    return KubeClient.fromKubeConfig(kc);
  }

  it('keeps the path prefix, sends the token, and retries when throttled', async () => {
    const c = client();
    try {
      const object = await c.get({
        group: '',
        version: 'v1',
        kind: 'ConfigMap',
        namespace: 'a',
        name: 'busy',
      });
      expect(object?.metadata.name).toBe('busy');
      expect(
        seen.filter(s =>
          s.startsWith('GET /proxy/api/v1/namespaces/a/configmaps/busy'),
        ),
      ).toHaveLength(3);
      expect(seen.every(s => s.endsWith('Bearer s3cret'))).toBe(true);
    } finally {
      c.close();
    }
  });

  it("maps the API server's refusals to @backstage/errors types with its message", async () => {
    const c = client();
    try {
      await expect(
        c.get({
          group: '',
          version: 'v1',
          kind: 'ConfigMap',
          namespace: 'a',
          name: 'secret',
        }),
      ).rejects.toMatchObject({
        name: 'NotAllowedError',
        message:
          'GET /proxy/api/v1/namespaces/a/configmaps/secret: configmaps "secret" is forbidden',
      });
      await expect(
        c.get({
          group: '',
          version: 'v1',
          kind: 'Widget',
          namespace: 'a',
          name: 'w',
        }),
      ).rejects.toMatchObject({
        name: 'NotFoundError',
        message: 'The cluster has no kind Widget in v1',
      });
    } finally {
      c.close();
    }
  });
});
