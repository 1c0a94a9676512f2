/**
 * @jest-environment node
 */
import http from 'node:http';
import { AddressInfo } from 'node:net';
import { GitopsClient } from './GitopsApi';

/*
 * The client over real HTTP against a stand-in for our own backend, which
 * records what it was asked and answers like the backend does.
 */
describe('GitopsClient', () => {
  let server: http.Server;
  let base: string;
  const seen: Array<{ method?: string; url?: string; body: string }> = [];
  let answer: { status: number; body: unknown } = { status: 200, body: {} };

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', d => (body += d));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, body });
        res.writeHead(answer.status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(answer.body));
      });
    });
    await new Promise<void>(r => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${
      (server.address() as AddressInfo).port
    }/api/gitops`;
  });
  afterAll(() => new Promise(r => server.close(r)));
  beforeEach(() => {
    seen.length = 0;
    answer = { status: 200, body: {} };
  });

  const client = () =>
    new GitopsClient({
      discoveryApi: { getBaseUrl: async () => base },
      fetchApi: { fetch: (input, init) => fetch(input, init) },
    });
  const ref = { cluster: 'prod', namespace: 'team a', name: 'web' };

  it('asks for one Application on its cluster, with names escaped', async () => {
    answer = { status: 200, body: { name: 'web' } };
    expect(await client().getApplication(ref)).toEqual({ name: 'web' });
    expect(seen).toEqual([
      {
        method: 'GET',
        url: '/api/gitops/applications/team%20a/web?cluster=prod',
        body: '',
      },
    ]);
  });

  it('pages the history', async () => {
    answer = { status: 200, body: { items: [], totalCount: 0 } };
    await client().getImageHistory(
      { namespace: 'default', name: 'web' },
      { limit: 20, offset: 40 },
    );
    await client().getRuns(
      { namespace: 'default', name: 'web' },
      { limit: 10 },
    );
    expect(seen.map(s => s.url)).toEqual([
      '/api/gitops/applications/default/web/image-history?limit=20&offset=40',
      '/api/gitops/applications/default/web/runs?limit=10',
    ]);
  });

  it('asks for the timeline of a window', async () => {
    answer = { status: 200, body: { events: [] } };
    await client().getTimeline(ref, {
      from: '2026-11-24T17:00:00.000Z',
      to: '2026-12-01T17:00:00.000Z',
    });
    expect(seen.map(s => s.url)).toEqual([
      '/api/gitops/applications/team%20a/web/timeline?cluster=prod&from=2026-11-24T17%3A00%3A00.000Z&to=2026-12-01T17%3A00%3A00.000Z',
    ]);
  });

  it('posts the actions, the step to resume as JSON', async () => {
    const app = { namespace: 'default', name: 'web' };
    await client().sync(app);
    await client().setSuspended(app, true);
    await client().setSuspended(app, false);
    await client().resumeWorkflow(app, 'approve');
    expect(seen).toEqual([
      {
        method: 'POST',
        url: '/api/gitops/applications/default/web/sync',
        body: '',
      },
      {
        method: 'POST',
        url: '/api/gitops/applications/default/web/suspend',
        body: '',
      },
      {
        method: 'POST',
        url: '/api/gitops/applications/default/web/resume',
        body: '',
      },
      {
        method: 'POST',
        url: '/api/gitops/applications/default/web/workflow/resume',
        body: '{"step":"approve"}',
      },
    ]);
  });

  it('rolls an image back and releases holds: the component escaped, the reason as JSON', async () => {
    const hold = {
      component: 'web server',
      image: 'registry.local/web',
      tag: '0.1.5',
      heldBy: 'user:default/jane',
      heldAt: '2026-11-23T10:00:00Z',
      automatic: false,
    };
    answer = { status: 200, body: { hold } };
    const app = { namespace: 'default', name: 'web' };
    expect(
      await client().rollbackImage(app, 'web server', {
        to: '0.1.5',
        reason: 'login broken',
      }),
    ).toEqual({ hold });
    await client().releaseImageHold(app, 'web server', 'fixed in 0.1.7');
    await client().releaseImageHold(app, 'web server');
    await client().releaseWorkflowRevision(app, 'fixed');
    answer = { status: 200, body: { items: [], totalCount: 0 } };
    await client().getAudit(app, { limit: 20 });
    expect(seen).toEqual([
      {
        method: 'POST',
        url: '/api/gitops/applications/default/web/images/web%20server/rollback',
        body: '{"to":"0.1.5","reason":"login broken"}',
      },
      {
        method: 'POST',
        url: '/api/gitops/applications/default/web/images/web%20server/release',
        body: '{"reason":"fixed in 0.1.7"}',
      },
      {
        method: 'POST',
        url: '/api/gitops/applications/default/web/images/web%20server/release',
        body: '{}',
      },
      {
        method: 'POST',
        url: '/api/gitops/applications/default/web/rollback/release',
        body: '{"reason":"fixed"}',
      },
      {
        method: 'GET',
        url: '/api/gitops/applications/default/web/audit?limit=20',
        body: '',
      },
    ]);
  });

  it('promotes and aborts a rollout and approves a cloud plan: the component escaped, cluster and reason as JSON', async () => {
    const app = { cluster: 'prod', namespace: 'default', name: 'web' };
    const rollout = {
      component: 'web server',
      cluster: 'eu',
      strategy: 'canary',
      phase: 'healthy',
      canaryWeight: 0,
      analysis: [],
    };
    answer = { status: 200, body: { rollout } };
    expect(
      await client().promoteRollout(app, 'web server', {
        cluster: 'eu',
        reason: 'metrics look fine',
      }),
    ).toEqual({ rollout });
    await client().abortRollout(app, 'web server', {});
    const resource = { component: 'db', state: 'applying', outputs: [] };
    answer = { status: 200, body: { resource } };
    expect(
      await client().approveCloudPlan(app, 'db', { reason: 'plan checked' }),
    ).toEqual({ resource });
    expect(seen).toEqual([
      {
        method: 'POST',
        url: '/api/gitops/applications/default/web/rollouts/web%20server/promote?cluster=prod',
        body: '{"cluster":"eu","reason":"metrics look fine"}',
      },
      {
        method: 'POST',
        url: '/api/gitops/applications/default/web/rollouts/web%20server/abort?cluster=prod',
        body: '{}',
      },
      {
        method: 'POST',
        url: '/api/gitops/applications/default/web/cloud/db/approve?cluster=prod',
        body: '{"reason":"plan checked"}',
      },
    ]);
  });

  it('rejects with the backend’s error body, so the UI can show its message', async () => {
    answer = {
      status: 409,
      body: {
        error: {
          name: 'ConflictError',
          message: 'default/web is not reconciled by this backend',
        },
        request: { method: 'POST', url: '/applications/default/web/sync' },
        response: { statusCode: 409 },
      },
    };
    await expect(
      client().sync({ namespace: 'default', name: 'web' }),
    ).rejects.toMatchObject({
      response: { status: 409 },
      body: {
        error: { message: 'default/web is not reconciled by this backend' },
      },
    });
  });
});

describe('GitopsClient.followChanges', () => {
  let server: http.Server;
  let base: string;
  let full = false;
  const asked: Array<string | undefined> = [];

  beforeAll(async () => {
    // Answers as the backend's stream does: ready, a heartbeat, a change, then ends.
    server = http.createServer((req, res) => {
      asked.push(req.headers.accept);
      if (full) {
        res.writeHead(503, { 'Content-Type': 'application/json' });
        res.end(
          JSON.stringify({
            error: {
              name: 'ServiceUnavailableError',
              message:
                'This backend already streams live updates to 2 open pages',
            },
            request: { method: 'GET', url: '/applications/default/web/events' },
            response: { statusCode: 503 },
          }),
        );
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      res.write('retry: 5000\nevent: ready\ndata: {}\n\n');
      res.write(': heartbeat\n\n');
      setTimeout(() => {
        res.write('event: changed\ndata: {"at":"2026-12-01T00:00:00Z"}\n\n');
        res.end();
      }, 20);
    });
    await new Promise<void>(r => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${
      (server.address() as AddressInfo).port
    }/api/gitops`;
  });
  afterAll(() => new Promise(r => server.close(r)));

  const client = () =>
    new GitopsClient({
      discoveryApi: { getBaseUrl: async () => base },
      fetchApi: { fetch: (input, init) => fetch(input, init) },
    });

  it('reads the stream through fetchApi until the backend ends it', async () => {
    const events: string[] = [];
    await client().followChanges(
      { namespace: 'default', name: 'web' },
      event => events.push(event),
      new AbortController().signal,
    );
    expect(events).toEqual(['ready', 'changed']);
    expect(asked).toEqual(['text/event-stream']);
  });

  it('says why the backend refused the stream', async () => {
    full = true;
    await expect(
      client().followChanges(
        { namespace: 'default', name: 'web' },
        () => {},
        new AbortController().signal,
      ),
    ).rejects.toMatchObject({
      response: { status: 503 },
      body: {
        error: {
          message: 'This backend already streams live updates to 2 open pages',
        },
      },
    });
  });
});
