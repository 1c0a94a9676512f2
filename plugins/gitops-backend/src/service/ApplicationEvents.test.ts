import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MiddlewareFactory } from '@backstage/backend-defaults/rootHttpRouter';
import { mockServices } from '@backstage/backend-test-utils';
import express from 'express';
import Router from 'express-promise-router';
import { ApplicationEvents } from './ApplicationEvents';

/**
 * The event streams over real HTTP, behind Backstage's own middleware
 * (compression and error handling included), read as a browser's fetch reads them.
 */
describe('ApplicationEvents', () => {
  let events: ApplicationEvents;
  let server: http.Server;
  let base: string;

  beforeEach(async () => {
    events = new ApplicationEvents({
      maxStreams: 2,
      heartbeatMs: 100,
      coalesceMs: 50,
    });
    const middleware = MiddlewareFactory.create({
      config: mockServices.rootConfig(),
      logger: mockServices.logger.mock(),
    });
    const router = Router();
    router.get('/events/:key', async (req, res) => {
      events.stream(req.params.key, req, res);
    });
    const app = express();
    app.use(middleware.compression());
    app.use(router);
    app.use(middleware.error());
    server = app.listen(0, '127.0.0.1');
    await new Promise(resolve => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    events.close();
    server.closeAllConnections();
    await new Promise(resolve => server.close(resolve));
  });

  /** Opens a stream and collects what arrives, as the page does with fetch. */
  async function open(key: string) {
    const abort = new AbortController();
    const response = await fetch(`${base}/events/${key}`, {
      signal: abort.signal,
      headers: { 'accept-encoding': 'gzip' },
    });
    let text = '';
    let ended = false;
    const reading = (async () => {
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          text += decoder.decode(value, { stream: true });
        }
      } catch {
        // aborted by the test
      }
      ended = true;
    })();
    return {
      response,
      text: () => text,
      ended: () => ended,
      close: async () => {
        abort.abort();
        await reading;
      },
      reading,
    };
  }

  const until = async (what: string, test: () => boolean) => {
    const deadline = Date.now() + 10_000;
    while (!test()) {
      if (Date.now() > deadline)
        throw new Error(`Timed out waiting for ${what}`);
      await new Promise(r => setTimeout(r, 20));
    }
  };

  const count = (text: string, event: string) =>
    text.split('\n').filter(line => line === `event: ${event}`).length;

  it('says ready, then one changed event per burst of changes, with heartbeats between, uncompressed', async () => {
    const stream = await open('local%2Fdefault%2Fweb');
    expect(stream.response.headers.get('content-type')).toMatch(
      /^text\/event-stream/,
    );
    expect(stream.response.headers.get('content-encoding')).toBeNull();
    await until('ready', () => count(stream.text(), 'ready') === 1);

    for (let i = 0; i < 5; i++) events.changed('local/default/web');
    events.changed('local/default/other');
    await until('changed', () => count(stream.text(), 'changed') === 1);
    await until('a heartbeat', () => stream.text().includes(': heartbeat'));
    events.changed('local/default/web');
    await until('the next change', () => count(stream.text(), 'changed') === 2);
    await stream.close();
  });

  it('refuses streams past its bound with 503, and frees a place when a page goes', async () => {
    const first = await open('a');
    const second = await open('b');
    const third = await fetch(`${base}/events/c`);
    expect(third.status).toBe(503);
    expect((await third.json()).error.message).toMatch(
      /already streams live updates to 2 open pages \(gitops\.liveUpdates\.maxStreams\)/,
    );

    await first.close();
    await until('the place to be freed', () => events.size === 1);
    const fourth = await open('c');
    expect(fourth.response.status).toBe(200);
    await Promise.all([second.close(), fourth.close()]);
  });

  it('ends every stream when the backend stops, and refuses new ones', async () => {
    const stream = await open('a');
    await until('ready', () => count(stream.text(), 'ready') === 1);
    events.close();
    await stream.reading;
    expect(stream.ended()).toBe(true);
    expect(events.size).toBe(0);
    expect((await fetch(`${base}/events/a`)).status).toBe(503);
  });
});
