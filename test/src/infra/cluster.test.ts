import * as k8s from '@kubernetes/client-node';
import { AuditEvent, Cluster, startCluster } from './cluster';

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise(r => setTimeout(r, 250));
  }
}

function clients(cluster: Cluster) {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  return {
    core: kc.makeApiClient(k8s.CoreV1Api),
    apps: kc.makeApiClient(k8s.AppsV1Api),
  };
}

const deployment = (name: string, replicas: number): k8s.V1Deployment => ({
  metadata: { name },
  spec: {
    replicas,
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: {
        containers: [{ name: 'web', image: 'registry.invalid/web:1.0.0' }],
      },
    },
  },
});

describe('Kubernetes test cluster', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('serves the API to @kubernetes/client-node and kubectl', async () => {
    const { core } = clients(cluster);
    const namespaces = await core.listNamespace();
    expect(namespaces.items.map(n => n.metadata?.name)).toEqual(
      expect.arrayContaining(['default', 'kube-system']),
    );
    expect(await cluster.kubectl(['get', 'nodes', '-o', 'name'])).toContain(
      'node/kwok-node-0',
    );
  });

  it('rolls a Deployment of 2 replicas out to Available on the kwok node', async () => {
    const { core, apps } = clients(cluster);
    await core.createNamespace({ body: { metadata: { name: 'rollout' } } });
    await apps.createNamespacedDeployment({
      namespace: 'rollout',
      body: deployment('web', 2),
    });

    const available = await until(
      'Deployment web to become Available',
      async () => {
        const d = await apps.readNamespacedDeployment({
          namespace: 'rollout',
          name: 'web',
        });
        const cond = d.status?.conditions?.find(c => c.type === 'Available');
        return cond?.status === 'True' && d.status?.availableReplicas === 2
          ? d
          : undefined;
      },
    );
    expect(available.status?.readyReplicas).toBe(2);

    const replicaSets = await apps.listNamespacedReplicaSet({
      namespace: 'rollout',
    });
    expect(replicaSets.items).toHaveLength(1);
    const pods = await core.listNamespacedPod({ namespace: 'rollout' });
    expect(pods.items).toHaveLength(2);
    for (const pod of pods.items) {
      expect(pod.spec?.nodeName).toBe('kwok-node-0');
      expect(pod.status?.phase).toBe('Running');
    }
  });

  it('never readies pods of the image their template marks never-ready, so that rollout passes its progress deadline', async () => {
    const { core, apps } = clients(cluster);
    await core.createNamespace({ body: { metadata: { name: 'stalled' } } });
    const marked = (name: string, image: string): k8s.V1Deployment => {
      const d = deployment(name, 1);
      d.spec!.progressDeadlineSeconds = 3;
      d.spec!.template.metadata!.annotations = {
        'test.gitops/never-ready-image': 'registry.invalid/web:2.0.0',
      };
      d.spec!.template.spec!.containers[0].image = image;
      return d;
    };
    await apps.createNamespacedDeployment({
      namespace: 'stalled',
      body: marked('bad', 'registry.invalid/web:2.0.0'),
    });
    await apps.createNamespacedDeployment({
      namespace: 'stalled',
      body: marked('good', 'registry.invalid/web:1.0.0'),
    });

    const progressing = await until(
      'Deployment bad to pass its progress deadline',
      async () => {
        const d = await apps.readNamespacedDeployment({
          namespace: 'stalled',
          name: 'bad',
        });
        const cond = d.status?.conditions?.find(c => c.type === 'Progressing');
        return cond?.reason === 'ProgressDeadlineExceeded' ? cond : undefined;
      },
    );
    expect(progressing.status).toBe('False');
    const good = await until(
      'Deployment good to become Available',
      async () => {
        const d = await apps.readNamespacedDeployment({
          namespace: 'stalled',
          name: 'good',
        });
        return d.status?.availableReplicas === 1 ? d : undefined;
      },
    );
    expect(good.status?.readyReplicas).toBe(1);
    const pods = await core.listNamespacedPod({
      namespace: 'stalled',
      labelSelector: 'app=bad',
    });
    expect(pods.items).toHaveLength(1);
    expect(pods.items[0].status?.phase).toBe('Running');
    expect(
      pods.items[0].status?.conditions?.find(c => c.type === 'Ready')?.status,
    ).toBe('False');
  });

  it("records an audited user's requests, made with its own kubeconfig, and nobody else's", async () => {
    const audited = await startCluster({
      name: 'audited',
      auditUsers: ['auditor'],
    });
    try {
      const kc = new k8s.KubeConfig();
      kc.loadFromFile(audited.userKubeconfigs.auditor);
      await kc
        .makeApiClient(k8s.CoreV1Api)
        .createNamespace({ body: { metadata: { name: 'by-auditor' } } });
      await clients(audited).core.createNamespace({
        body: { metadata: { name: 'by-admin' } },
      });
      const creates = (events: AuditEvent[]) =>
        events.filter(
          e =>
            e.stage === 'ResponseComplete' &&
            e.verb === 'create' &&
            e.objectRef?.resource === 'namespaces',
        );
      // An event may reach the file just after its response reaches the client.
      const events = await until('the audit event of the create', async () => {
        const all = await audited.auditEvents();
        return creates(all).length > 0 ? all : undefined;
      });
      expect(events.map(e => e.user.username)).toEqual(
        events.map(() => 'auditor'),
      );
      expect(creates(events)).toEqual([
        expect.objectContaining({
          responseStatus: expect.objectContaining({ code: 201 }),
        }),
      ]);
    } finally {
      await audited.stop();
    }
  });

  it('runs a second, independent cluster at the same time', async () => {
    const [a, b] = await Promise.all([
      startCluster({ name: 'east' }),
      startCluster({ name: 'west' }),
    ]);
    try {
      expect(new Set([cluster.server, a.server, b.server]).size).toBe(3);
      await clients(a).core.createNamespace({
        body: { metadata: { name: 'only-in-east' } },
      });
      const names = async (c: Cluster) =>
        (await clients(c).core.listNamespace()).items.map(
          n => n.metadata?.name,
        );
      expect(await names(a)).toContain('only-in-east');
      expect(await names(b)).not.toContain('only-in-east');
      expect(await names(cluster)).not.toContain('only-in-east');
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});
