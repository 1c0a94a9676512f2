import {
  CacheEvent,
  Informer,
  KubeClient,
} from '@gitops-workflow/plugin-gitops-node';
import { KubeConfig } from '@kubernetes/client-node';
import { Cluster, startCluster } from '../infra';
import { startTcpProxy, TcpProxy } from '../chaos/tcpProxy';
import { waitUntil } from '../backend/support';

/*
 * The informer against a real kube-apiserver: what it mirrors, how it keeps
 * up without re-listing, and how it comes back from a restart of the API
 * server (which forgets every resourceVersion before it: 410 Gone), a black
 * hole, and being stopped.
 */
describe('Informer', () => {
  let cluster: Cluster;
  let client: KubeClient;
  const started: Informer[] = [];

  const CONFIGMAP = { group: '', version: 'v1', kind: 'ConfigMap' };
  const LABEL = 'app.oam.dev/name';

  const clientFor = (server?: string) => {
    const kc = new KubeConfig();
    kc.loadFromString(
      server
        ? cluster.kubeconfig.replace(
            `server: ${cluster.server}`,
            `server: ${server}`,
          )
        : cluster.kubeconfig,
    );
    return KubeClient.fromKubeConfig(kc);
  };

  /** A ConfigMap our informers see (labelled) or not, created or replaced with kubectl. */
  const putConfigMap = (
    namespace: string,
    name: string,
    data: Record<string, string>,
    labelled = true,
  ) =>
    cluster.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {
          name,
          namespace,
          ...(labelled ? { labels: { [LABEL]: 'web' } } : {}),
        },
        data,
      }),
    });

  /** An informer on the labelled ConfigMaps of `namespace`, and every change it reported. */
  function inform(
    namespace: string,
    options: Partial<ConstructorParameters<typeof Informer>[1]> = {},
    through: KubeClient = client,
  ) {
    const events: string[] = [];
    const errors: string[] = [];
    const informer = new Informer(through, {
      kind: CONFIGMAP,
      namespace,
      labelSelector: LABEL,
      onError: error => errors.push(error.message),
      ...options,
    });
    informer.subscribe((event: CacheEvent) =>
      events.push(`${event.type} ${event.object.metadata.name}`),
    );
    started.push(informer.start());
    const names = () =>
      informer
        .list()
        .map(o => o.metadata.name)
        .sort();
    return { informer, events, errors, names };
  }

  beforeAll(async () => {
    cluster = await startCluster({ name: 'informer' });
    client = clientFor();
    for (const ns of ['mirror', 'restart', 'hole', 'stopped'])
      await cluster.kubectl(['create', 'namespace', ns]);
  });

  afterAll(async () => {
    await Promise.all(started.map(i => i.stop()));
    client?.close();
    await cluster?.stop();
  });

  it('mirrors adds, updates and deletes, renewing its watch without listing again', async () => {
    await putConfigMap('mirror', 'before', { v: '1' });
    await putConfigMap('mirror', 'not-ours', { v: '1' }, false);
    // Watches the server ends every 2 s, as it ends every watch in time.
    const { informer, events, names } = inform('mirror', { watchSeconds: 2 });
    expect(await informer.waitForSync(30_000)).toBe(true);
    expect(names()).toEqual(['before']);
    expect(events).toEqual(['ADDED before']);

    await putConfigMap('mirror', 'added', { v: '1' });
    await putConfigMap('mirror', 'before', { v: '2' });
    await cluster.kubectl(['delete', 'configmap', 'added', '-n', 'mirror']);
    await waitUntil('the delete to be seen', async () =>
      events.includes('DELETED added') ? true : undefined,
    );
    expect(events).toEqual([
      'ADDED before',
      'ADDED added',
      'MODIFIED before',
      'DELETED added',
    ]);

    // Several renewals later, a change still arrives, and nothing was listed again.
    await waitUntil('three watch renewals', async () =>
      informer.status.watches >= 4 ? true : undefined,
    );
    await putConfigMap('mirror', 'later', { v: '1' });
    await waitUntil('the change after the renewals', async () =>
      names().includes('later') ? true : undefined,
    );
    expect(informer.status.lists).toBe(1);
    expect(events.filter(e => e.startsWith('ADDED before'))).toHaveLength(1);

    // What it keeps: status and metadata, not the payload nor the writers' bookkeeping.
    const kept = informer.get('mirror', 'before')!;
    expect(kept.metadata.labels).toEqual({ [LABEL]: 'web' });
    expect(kept.metadata.managedFields).toBeUndefined();
    expect(
      kept.metadata.annotations?.[
        'kubectl.kubernetes.io/last-applied-configuration'
      ],
    ).toBeUndefined();
    expect(kept.data).toBeUndefined();
  });

  it('re-lists on its resync interval and reports only real changes', async () => {
    // A resync takes the place of a watch renewal once it is due.
    const { informer, events } = inform('mirror', {
      resyncMs: 500,
      watchSeconds: 1,
    });
    expect(await informer.waitForSync(30_000)).toBe(true);
    const atSync = [...events];
    await waitUntil('two resyncs', async () =>
      informer.status.lists >= 3 ? true : undefined,
    );
    expect(events).toEqual(atSync);
  });

  it('comes back after the API server restarts, listing again when its resourceVersion is gone (410)', async () => {
    await putConfigMap('restart', 'a', { v: '1' });
    const { informer, events, errors, names } = inform('restart', {
      backoff: { initialMs: 200, maxMs: 2000 },
    });
    expect(await informer.waitForSync(30_000)).toBe(true);
    expect(names()).toEqual(['a']);

    // A write the informer does not watch moves etcd past its
    // resourceVersion; the restarted API server's watch cache starts after
    // it, so watching from it again is answered 410 Gone.
    await putConfigMap('mirror', 'elsewhere', { v: '1' });
    await cluster.stopApiServer();
    try {
      await waitUntil('the informer to notice', async () =>
        informer.status.error ? true : undefined,
      );
    } finally {
      await cluster.startApiServer();
    }
    await putConfigMap('restart', 'b', { v: '1' });
    await cluster.kubectl(['delete', 'configmap', 'a', '-n', 'restart']);
    await waitUntil(
      'the changes after the restart',
      async () => (names().join() === 'b' ? true : undefined),
      async () => `cache: ${names()}; errors: ${errors.join('\n')}`,
      120_000,
    );
    expect(informer.status.lists).toBeGreaterThanOrEqual(2);
    expect(informer.status.error).toBeUndefined();
    expect(events).toEqual(
      expect.arrayContaining(['ADDED a', 'ADDED b', 'DELETED a']),
    );
    expect(errors.join('\n')).toMatch(/Kubernetes API server/);
  }, 240_000);

  describe('behind a black hole', () => {
    let proxy: TcpProxy;
    let proxied: KubeClient;

    beforeAll(async () => {
      const url = new URL(cluster.server);
      proxy = await startTcpProxy({
        host: url.hostname,
        port: Number(url.port),
      });
      proxied = clientFor(`https://${proxy.host}`);
    });

    afterAll(async () => {
      proxied?.close();
      await proxy?.close();
    });

    it('gives up a list at its deadline, says so, and recovers once the path heals', async () => {
      await putConfigMap('hole', 'x', { v: '1' });
      proxy.blackHole();
      const { informer, errors, names } = inform(
        'hole',
        { listTimeoutMs: 2000, backoff: { initialMs: 200, maxMs: 1000 } },
        proxied,
      );
      await waitUntil('the list to give up', async () =>
        errors.length ? true : undefined,
      );
      expect(errors[0]).toMatch(
        /Listing ConfigMap \(v1\) in hole .*took longer than 2000 ms/,
      );
      expect(informer.synced).toBe(false);
      proxy.lift();
      expect(await informer.waitForSync(60_000)).toBe(true);
      expect(names()).toEqual(['x']);
    });
  });

  it('stops: the watch ends and nothing changes the cache any more', async () => {
    const { informer, events, names } = inform('stopped', {
      backoff: { initialMs: 60_000, maxMs: 60_000 },
    });
    expect(await informer.waitForSync(30_000)).toBe(true);
    await informer.stop();
    await putConfigMap('stopped', 'after', { v: '1' });
    // Another informer sees it: the stopped one would have, by now.
    const witness = inform('stopped');
    await waitUntil('a running informer to see it', async () =>
      witness.names().includes('after') ? true : undefined,
    );
    expect(names()).toEqual([]);
    expect(events).toEqual([]);
    expect(informer.status.watches).toBe(1);
  });
});
