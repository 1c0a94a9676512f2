/*
 * A forwarding HTTP(S) proxy on 127.0.0.1 in front of a real registry, for
 * the failures a registry cannot be asked to produce: being down, answering
 * 429 with Retry-After, serving TLS with a test CA. It records every request
 * so tests can count listings and pages.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Registry } from '../infra/registry';

export interface Proxy {
  host: string;
  /** `METHOD path` of every request that reached the proxy. */
  requests: string[];
  /** Stop listening: connections are refused, as from a registry that is down. */
  down(): Promise<void>;
  up(): Promise<void>;
  /**
   * Answer every request with this status (500, 401…) and a registry error
   * body until called with `false`; a 429 says `Retry-After: 1`.
   */
  failWith(status: number | false): void;
  /** Answer the next `count` requests with 429 and this `Retry-After`. */
  rateLimit(count: number, retryAfter: string): void;
  /**
   * Stop answering while keeping connections open, as a black-holed
   * registry does: `'all'` sends nothing, `'body'` sends the registry's
   * status and headers but never its body. `false` answers again.
   */
  silence(mode: 'all' | 'body' | false): void;
  close(): Promise<void>;
}

/** Starts the proxy on a free port, forwarding to `registry`. */
export async function startProxy(
  registry: Registry,
  tls?: { cert: string; key: string },
): Promise<Proxy> {
  const target = new URL(registry.url);
  const requests: string[] = [];
  let limited = 0;
  let retryAfter = '1';
  let silent: 'all' | 'body' | false = false;
  let failing: number | false = false;
  const handler: http.RequestListener = (req, res) => {
    requests.push(`${req.method} ${req.url}`);
    if (silent === 'all') return;
    if (failing) {
      res.writeHead(failing, {
        'content-type': 'application/json',
        ...(failing === 429 ? { 'retry-after': '1' } : {}),
        ...(failing === 401
          ? { 'www-authenticate': 'Basic realm="chaos"' }
          : {}),
      });
      res.end(
        JSON.stringify({
          errors: [{ code: 'CHAOS', message: `chaos answers ${failing}` }],
        }),
      );
      req.resume();
      return;
    }
    if (limited > 0) {
      limited--;
      res.writeHead(429, {
        'retry-after': retryAfter,
        'content-type': 'application/json',
      });
      res.end('{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}');
      return;
    }
    const upstream = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      answer => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        if (silent === 'body') {
          res.flushHeaders();
          answer.resume();
          return;
        }
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  };
  const server = tls
    ? https.createServer(tls, handler)
    : http.createServer(handler);
  const listen = (port = 0) =>
    new Promise<void>(resolve => server.listen(port, '127.0.0.1', resolve));
  const stop = () =>
    new Promise<void>(resolve => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  await listen();
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    requests,
    down: stop,
    up: () => listen(port),
    failWith(status) {
      failing = status;
    },
    rateLimit(count, after) {
      limited = count;
      retryAfter = after;
    },
    silence(mode) {
      silent = mode;
    },
    close: () => (server.listening ? stop() : Promise.resolve()),
  };
}
