import type { AddressInfo } from 'node:net';
import {
  mockCredentials,
  startTestBackend,
} from '@backstage/backend-test-utils';
import { Cluster, startCluster } from '../infra';
import {
  installCrd,
  startGitopsBackend,
  waitUntil,
  webserviceApp,
} from './support';

/*
 * Live updates against the real API server: open pages hear of changes
 * through server-sent events and read again from the backend's cache, so
 * the API server's load does not grow with the pages open. The backend runs
 * as a ServiceAccount of its own, and a FlowSchema of API Priority and
 * Fairness names its requests, so the API server's own metrics count
 * exactly the backend's requests (kube-controller-manager, the scheduler
 * and kwok keep the server busy beside it).
 */

const SERVICE_ACCOUNT = 'gitops-backend';
/** The pages one backend streams to at once in this test. */
const MAX_STREAMS = 20;
/** How long one measurement lasts. */
const WINDOW_MS = 60_000;
/** The reads of an Application's page, as the frontend makes them (EntityGitopsContent and its cards). */
const PAGE_READS = [
  '',
  '/image-history?limit=20',
  '/sync-config',
  '/runs?limit=10',
  '/audit?limit=20',
  '/tree',
  '/timeline',
];

describe('live updates', () => {
  let cluster: Cluster;
  let backend: Awaited<ReturnType<typeof startTestBackend>> | undefined;
  let base: string;
  const tabs = new Set<Tab>();
  const auth = { authorization: mockCredentials.user.header() };

  /** The backend's requests to the API server so far, as the API server counts them. */
  async function backendRequests(): Promise<number> {
    const { status, body } = await cluster.request('GET', '/metrics');
    expect(status).toBe(200);
    let total = 0;
    for (const line of String(body).split('\n')) {
      if (
        line.startsWith('apiserver_flowcontrol_dispatched_requests_total{') &&
        line.includes(`flow_schema="${SERVICE_ACCOUNT}"`)
      )
        total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return total;
  }

  async function get(path: string): Promise<any> {
    const response = await fetch(`${base}${path}`, { headers: auth });
    if (!response.ok)
      throw new Error(
        `GET ${path}: ${response.status} ${await response.text()}`,
      );
    return response.json();
  }

  interface Tab {
    /** Events received so far, by type. */
    events: Map<string, number>;
    /** Reads made after the first, on an event. */
    readonly rereads: number;
    close(): Promise<void>;
    ended: Promise<void>;
  }

  /** Reads what an Application's page shows, as the page does on each event. */
  const readPage = () =>
    Promise.all(
      PAGE_READS.map(path => get(`/applications/default/web${path}`)),
    );

  /**
   * One open page, as the frontend runs it: its reads, then its event
   * stream (read with fetch, as the browser does), reading again on each
   * event. Rejects when the backend refuses the stream.
   */
  async function openTab(): Promise<Tab> {
    // The clusters card reads once, when the page opens.
    await Promise.all([get('/clusters'), readPage()]);
    const abort = new AbortController();
    const response = await fetch(`${base}/applications/default/web/events`, {
      headers: { ...auth, accept: 'text/event-stream' },
      signal: abort.signal,
    });
    if (response.status !== 200) {
      throw Object.assign(
        new Error(`${response.status}: ${await response.text()}`),
        { status: response.status },
      );
    }
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = new Map<string, number>();
    let rereads = 0;
    const ended = (async () => {
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      let text = '';
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          text += decoder.decode(value, { stream: true });
          let end = text.indexOf('\n\n');
          while (end >= 0) {
            const type = /^event: (.*)$/m.exec(text.slice(0, end))?.[1];
            text = text.slice(end + 2);
            end = text.indexOf('\n\n');
            if (!type) continue;
            events.set(type, (events.get(type) ?? 0) + 1);
            rereads++;
            readPage().catch(() => undefined);
          }
        }
      } catch {
        // closed by the test
      }
    })();
    const tab: Tab = {
      events,
      get rereads() {
        return rereads;
      },
      ended,
      close: async () => {
        abort.abort();
        await ended;
        tabs.delete(tab);
      },
    };
    tabs.add(tab);
    return tab;
  }

  const changedEvents = (tab: Tab) => tab.events.get('changed') ?? 0;

  beforeAll(async () => {
    cluster = await startCluster({ name: 'live-updates' });
    await installCrd(cluster);
    // The backend's own identity, and a FlowSchema that names its requests in the metrics.
    await cluster.kubectl([
      'create',
      'serviceaccount',
      SERVICE_ACCOUNT,
      '-n',
      'kube-system',
    ]);
    await cluster.kubectl([
      'create',
      'clusterrolebinding',
      SERVICE_ACCOUNT,
      '--clusterrole=cluster-admin',
      `--serviceaccount=kube-system:${SERVICE_ACCOUNT}`,
    ]);
    const token = (
      await cluster.kubectl([
        'create',
        'token',
        SERVICE_ACCOUNT,
        '-n',
        'kube-system',
        '--duration=2h',
      ])
    ).trim();
    await cluster.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'flowcontrol.apiserver.k8s.io/v1',
        kind: 'FlowSchema',
        metadata: { name: SERVICE_ACCOUNT },
        spec: {
          matchingPrecedence: 500,
          priorityLevelConfiguration: { name: 'workload-high' },
          distinguisherMethod: { type: 'ByUser' },
          rules: [
            {
              subjects: [
                {
                  kind: 'ServiceAccount',
                  serviceAccount: {
                    name: SERVICE_ACCOUNT,
                    namespace: 'kube-system',
                  },
                },
              ],
              resourceRules: [
                {
                  verbs: ['*'],
                  apiGroups: ['*'],
                  resources: ['*'],
                  clusterScope: true,
                  namespaces: ['*'],
                },
              ],
              nonResourceRules: [{ verbs: ['*'], nonResourceURLs: ['*'] }],
            },
          ],
        },
      }),
    });
    backend = await startGitopsBackend({
      clusters: [
        { name: 'local', url: cluster.server, token, caFile: cluster.caFile },
      ],
      shards: 1,
      // Scheduled ticks a minute apart: what happens sooner, the cache's events made happen.
      tickSeconds: 60,
      liveUpdates: {
        maxStreams: MAX_STREAMS,
        // No watch renewal inside a measurement: what is measured is what pages cost.
        watchSeconds: 3600,
      },
    });
    base = `http://127.0.0.1:${
      (backend.server.address() as AddressInfo).port
    }/api/gitops`;
  });

  afterAll(async () => {
    await Promise.all([...tabs].map(tab => tab.close()));
    await backend?.stop();
    await cluster?.stop();
  });

  it('applies a new Application and reports its rollout done as the cache sees them, not at the next tick', async () => {
    const createdAt = Date.now();
    await cluster.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify(webserviceApp('web')),
    });
    await waitUntil(
      'the Application to be healthy',
      async () => {
        const app = await get('/applications/default/web');
        return app.phase === 'running' &&
          app.resources['web-server']?.every(
            (r: { health: string }) => r.health === 'Current',
          )
          ? true
          : undefined;
      },
      async () => JSON.stringify(await get('/applications/default/web/runs')),
      120_000,
    );
    // Before any scheduled tick could have: they are a minute apart.
    expect(Date.now() - createdAt).toBeLessThan(50_000);
    const runs = (await get('/applications/default/web/runs')).items;
    // The apply (its spec appeared), then the pass that saw the Deployment Available.
    expect(runs.map((r: { trigger: string }) => r.trigger)).toEqual(
      runs.map(() => 'watch'),
    );
    expect(runs.length).toBeGreaterThanOrEqual(2);
  });

  it('costs the API server as much with 20 open pages as with one', async () => {
    const runsBefore = (await get('/applications/default/web/runs')).totalCount;
    // The first page of a namespace starts the cache of its Pods and
    // ReplicaSets (the resource tree): once, before anything is measured.
    const warm = await openTab();
    await warm.close();

    /** Backend requests per minute while `pages` pages are open for a minute, in which the Deployment changes once. */
    const measure = async (pages: number) => {
      const start = await backendRequests();
      const startedAt = Date.now();
      const open = await Promise.all(
        Array.from({ length: pages }, () => openTab()),
      );
      // Halfway through, something the pages show changes: each reads again.
      await new Promise(r => setTimeout(r, WINDOW_MS / 2));
      const rereads = open.map(t => t.rereads);
      // A label: an annotation would bump a Deployment's generation, a
      // change its controller rolls out and the loop then checks (a pass).
      await cluster.kubectl([
        'label',
        '--overwrite',
        'deployment',
        'web-server',
        `example.com/measured=${pages}`,
      ]);
      await waitUntil('every page to read again', async () =>
        open.every((t, i) => t.rereads > rereads[i]) ? true : undefined,
      );
      await new Promise(r =>
        setTimeout(r, Math.max(0, startedAt + WINDOW_MS - Date.now())),
      );
      const requests = (await backendRequests()) - start;
      const minutes = (Date.now() - startedAt) / 60_000;
      await Promise.all(open.map(t => t.close()));
      return {
        pages,
        requestsPerMinute: Math.round((requests / minutes) * 10) / 10,
        pageReadsPerMinute: Math.round(
          (open.reduce((n, t) => n + t.rereads + 1, 0) * PAGE_READS.length) /
            minutes,
        ),
      };
    };

    const none = await measure(0);
    const one = await measure(1);
    const twenty = await measure(20);
    // eslint-disable-next-line no-console
    console.log(
      `API server requests by the backend per minute (pages open → requests/min, page reads/min): ${JSON.stringify(
        [none, one, twenty],
      )}`,
    );
    // No pass ran meanwhile (the next is minutes away): the requests are the pages' alone.
    expect((await get('/applications/default/web/runs')).totalCount).toBe(
      runsBefore,
    );
    expect(twenty.pageReadsPerMinute).toBeGreaterThan(
      one.pageReadsPerMinute * 10,
    );
    expect(twenty.requestsPerMinute).toBeLessThanOrEqual(
      one.requestsPerMinute * 1.1,
    );
  }, 600_000);

  it('pushes a change of the Application, of what it applied and of its runs to an open page', async () => {
    const tab = await openTab();
    await waitUntil('ready', async () =>
      tab.events.get('ready') === 1 ? true : undefined,
    );

    let seen = changedEvents(tab);
    await cluster.kubectl([
      'annotate',
      'application',
      'web',
      'example.com/note=changed',
    ]);
    await waitUntil('the Application change', async () =>
      changedEvents(tab) > seen ? true : undefined,
    );

    seen = changedEvents(tab);
    await cluster.kubectl([
      'annotate',
      'deployment',
      'web-server',
      'example.com/note=changed',
    ]);
    await waitUntil('the Deployment change', async () =>
      changedEvents(tab) > seen ? true : undefined,
    );

    const runs = (await get('/applications/default/web/runs')).totalCount;
    seen = changedEvents(tab);
    const sync = await fetch(`${base}/applications/default/web/sync`, {
      method: 'POST',
      headers: auth,
    });
    expect(sync.status).toBe(202);
    await waitUntil('the new run, and an event after it', async () =>
      (await get('/applications/default/web/runs')).totalCount > runs &&
      changedEvents(tab) > seen
        ? true
        : undefined,
    );
    await tab.close();
  });

  it('streams to at most gitops.liveUpdates.maxStreams pages; one more is told why, and a page that goes frees its place', async () => {
    const open = await Promise.all(
      Array.from({ length: MAX_STREAMS }, () => openTab()),
    );
    const refused = await openTab().catch(error => error);
    expect(refused.status).toBe(503);
    expect(refused.message).toMatch(
      /already streams live updates to 20 open pages \(gitops\.liveUpdates\.maxStreams\); this page refreshes every few seconds instead/,
    );
    await open[0].close();
    // The backend sees the page go when its connection closes.
    const another = await waitUntil('a freed place', () =>
      openTab().catch(() => undefined),
    );
    await Promise.all([...open.slice(1), another].map(tab => tab.close()));
  });

  it('ends open streams cleanly when the backend stops', async () => {
    const tab = await openTab();
    await backend!.stop();
    backend = undefined;
    // The stream ends (the fetch body reaches its end) instead of hanging.
    await expect(tab.ended).resolves.toBeUndefined();
    expect(tab.events.get('ready')).toBe(1);
    tabs.delete(tab);
  });
});
