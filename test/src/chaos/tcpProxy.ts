/*
 * A TCP proxy on 127.0.0.1 the chaos tests control, in front of any server
 * (the API server, the Git server). It forwards bytes untouched, so TLS
 * passes through: a kubeconfig whose server is the proxy keeps the cluster's
 * CA (the serving certificate names 127.0.0.1).
 *
 * - `blackHole()`: connections are still accepted and kept open, but no byte
 *   goes either way; what a client sends is held. `lift()` forwards what was
 *   held on the connections still open and goes on forwarding, as a healed
 *   partition delivers what TCP kept retransmitting. A connection its client
 *   closed meanwhile is dropped with what it held: nothing of it arrives.
 * - `trap(bytes)`: forwards as usual until a client sends a chunk of at least
 *   `bytes` (under TLS, the size of a write's records is all one sees: a
 *   large object's apply, not a GET), then black-holes from that chunk on.
 * - `down()` / `up()`: connections are refused (nothing listens), as from a
 *   server that is down.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface TcpProxy {
  /** `127.0.0.1:<port>` */
  host: string;
  port: number;
  blackHole(): void;
  /** Resolves once a client sent a chunk of at least `bytes`, which is then held (black hole on). */
  trap(bytes: number): Promise<void>;
  lift(): void;
  down(): Promise<void>;
  up(): Promise<void>;
  /** Held chunks of connections still open, and how many were dropped with their client. */
  held(): { open: number; dropped: number };
  close(): Promise<void>;
}

interface Pipe {
  client: net.Socket;
  upstream: net.Socket;
  /** Bytes from the client not yet forwarded (black hole). */
  toServer: Buffer[];
  /** Bytes from the server not yet forwarded. */
  toClient: Buffer[];
}

export async function startTcpProxy(target: {
  host: string;
  port: number;
}): Promise<TcpProxy> {
  let holding = false;
  let trapAt: number | undefined;
  let sprung: (() => void) | undefined;
  let dropped = 0;
  const pipes = new Set<Pipe>();

  const flush = (pipe: Pipe) => {
    for (const chunk of pipe.toServer.splice(0)) pipe.upstream.write(chunk);
    for (const chunk of pipe.toClient.splice(0)) pipe.client.write(chunk);
  };

  const server = net.createServer(client => {
    const upstream = net.connect(target.port, target.host);
    const pipe: Pipe = { client, upstream, toServer: [], toClient: [] };
    pipes.add(pipe);
    client.on('data', chunk => {
      if (!holding && trapAt !== undefined && chunk.length >= trapAt) {
        holding = true;
        trapAt = undefined;
        sprung?.();
      }
      if (holding) pipe.toServer.push(chunk);
      else upstream.write(chunk);
    });
    upstream.on('data', chunk => {
      if (holding) pipe.toClient.push(chunk);
      else client.write(chunk);
    });
    const end = () => {
      if (!pipes.delete(pipe)) return;
      // The client gave up while held: its bytes never reach the server.
      if (pipe.toServer.length > 0) dropped++;
      pipe.toServer = [];
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    client.on('error', end);
    upstream.on('close', () => {
      // A server that closes during a black hole: the client hears nothing of it.
      if (holding) return;
      end();
    });
    upstream.on('error', () => {
      if (!holding) end();
    });
  });
  const listen = (port = 0) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  const dropAll = () => {
    for (const pipe of [...pipes]) {
      pipe.client.destroy();
      pipe.upstream.destroy();
    }
  };
  await listen();
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    port,
    blackHole() {
      holding = true;
    },
    trap(bytes) {
      return new Promise(resolve => {
        trapAt = bytes;
        sprung = resolve;
      });
    },
    lift() {
      holding = false;
      trapAt = undefined;
      for (const pipe of pipes) {
        flush(pipe);
        if (pipe.upstream.destroyed) {
          pipe.client.destroy();
          pipes.delete(pipe);
        }
      }
    },
    held() {
      let open = 0;
      for (const pipe of pipes) if (pipe.toServer.length > 0) open++;
      return { open, dropped };
    },
    down: () =>
      new Promise<void>(resolve => {
        dropAll();
        server.close(() => resolve());
      }),
    up: () => listen(port),
    close: () =>
      new Promise<void>(resolve => {
        dropAll();
        if (!server.listening) resolve();
        else server.close(() => resolve());
      }),
  };
}
