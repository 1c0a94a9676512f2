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

/**
 * An API server that stops answering: it serves discovery, then accepts
 * every other request and never finishes it (after nothing, or after the
 * headers and half a body), as a black-holed or wedged one does.
 */
describe('KubeClient deadlines', () => {
  let server: http.Server;
  let base: string;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url === '/api/v1') {
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            resources: [
              { name: 'configmaps', kind: 'ConfigMap', namespaced: true },
            ],
          }),
        );
      } else if (req.url?.startsWith('/api/v1/namespaces/half')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"kind":"ConfigMapList","items":[');
      } else if (req.url?.includes('watch=true')) {
        // The watch starts, then nothing ever crosses the connection again.
        res.writeHead(200, { 'content-type': 'application/json' });
        res.flushHeaders();
      }
      // Anything else: accepted, never answered.
    });
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    return new Promise(resolve => server.close(resolve));
  });

  const CONFIGMAP = { group: '', version: 'v1', kind: 'ConfigMap' };

  function client(options: {
    requestTimeoutMs: number;
    watchGraceMs?: number;
  }) {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: base, skipTLSVerify: true }],
      users: [{ name: 'u', token: 'tok3n-never-shown' }],
      contexts: [{ name: 'c', cluster: 'c', user: 'u' }],
      currentContext: 'c',
    });
    return KubeClient.fromKubeConfig(kc, options);
  }

  it('ends a request the server never answers, naming it and the deadline', async () => {
    const c = client({ requestTimeoutMs: 300 });
    try {
      const error = await c
        .list(CONFIGMAP, { namespace: 'silent' })
        .catch(e => e);
      expect(error).toMatchObject({
        name: 'ServiceUnavailableError',
        message: `Kubernetes API server ${base}: GET /api/v1/namespaces/silent/configmaps timed out after 300ms`,
      });
      expect(JSON.stringify(error)).not.toContain('tok3n');
    } finally {
      c.close();
    }
  });

  it('ends a request whose response stops half-way', async () => {
    const c = client({ requestTimeoutMs: 300 });
    try {
      await expect(
        c.list(CONFIGMAP, { namespace: 'half' }),
      ).rejects.toMatchObject({
        name: 'ServiceUnavailableError',
        message: `Kubernetes API server ${base}: GET /api/v1/namespaces/half/configmaps timed out after 300ms`,
      });
    } finally {
      c.close();
    }
  });

  it('ends a request when its signal aborts', async () => {
    const c = client({ requestTimeoutMs: 60_000 });
    try {
      const request = c.request('GET', '/api/v1/namespaces/silent/configmaps', {
        signal: AbortSignal.timeout(200),
      });
      await expect(request).rejects.toMatchObject({
        name: 'ServiceUnavailableError',
        message: `Kubernetes API server ${base}: GET /api/v1/namespaces/silent/configmaps was aborted`,
      });
    } finally {
      c.close();
    }
  });

  it('ends a watch that outlives the time the server was asked to end it', async () => {
    const c = client({ requestTimeoutMs: 300, watchGraceMs: 300 });
    try {
      await expect(
        c.watch(CONFIGMAP, { namespace: 'w', timeoutSeconds: 1 }, () => {}),
      ).rejects.toMatchObject({
        name: 'ServiceUnavailableError',
        message: `Kubernetes API server ${base}: WATCH /api/v1/namespaces/w/configmaps (the server never ended it) timed out after 1300ms`,
      });
    } finally {
      c.close();
    }
  });
});
