import fs from 'node:fs';
import path from 'node:path';
import { assessHealth } from '@gitops-workflow/plugin-gitops-node';
import { Cluster, pushImage, Registry, startCluster, startRegistry } from '.';
import { buildGoImage, buildGoImageFromFiles } from './go-image';
import { httpGet } from './node';
import { repoRoot, waitFor } from './process';

/*
 * The real node: containers of an image we build and push run on it, get an
 * address on its bridge, and answer through kube-proxy (a Service) and
 * Traefik (an Ingress of the seed's class, and a weighted HTTPRoute); a
 * container that exits 1 crash-loops and our health assessment says so.
 */

const SERVER_PORT = 8088;

describe('a cluster with a real node', () => {
  let cluster: Cluster;
  let registry: Registry;
  const kubectl = (args: string[], input?: unknown) =>
    cluster.kubectl(
      args,
      input === undefined ? {} : { input: JSON.stringify(input) },
    );
  const getJson = async (...args: string[]) =>
    JSON.parse(await kubectl(['get', ...args, '-o', 'json']));
  /** What a failed wait shows: the objects, events and the node's view. */
  const context = async () =>
    kubectl([
      'get',
      'deployments,pods,services,ingresses,events',
      '-o',
      'wide',
    ]).catch(e => (e as Error).message);
  const waitOr = async <T>(
    what: string,
    probe: () => Promise<T | undefined | false>,
    timeoutMs = 120_000,
  ): Promise<T> => {
    try {
      return await waitFor(what, probe, { timeoutMs, intervalMs: 250 });
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${await context()}`);
    }
  };

  /** A Deployment (with the registry's pull secret) and its Service. */
  const webApp = (name: string, image: string) => [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name } },
          spec: {
            imagePullSecrets: [{ name: 'regcred' }],
            containers: [
              {
                name: 'server',
                image,
                ports: [{ containerPort: SERVER_PORT }],
              },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name },
      spec: {
        selector: { app: name },
        ports: [{ port: SERVER_PORT, targetPort: SERVER_PORT }],
      },
    },
  ];
  const apply = (items: unknown[]) =>
    kubectl(['apply', '-f', '-'], { apiVersion: 'v1', kind: 'List', items });
  const available = async (name: string) => {
    const d = await getJson('deployment', name);
    return d.status?.availableReplicas === 1 ? d : undefined;
  };

  const images: Record<string, string> = {};

  beforeAll(async () => {
    [cluster, registry] = await Promise.all([
      startCluster({ name: 'real', nodes: 'real' }),
      startRegistry(),
    ]);
    cluster.node!.trustRegistry(registry.host);
    await kubectl([
      'create',
      'secret',
      'generic',
      'regcred',
      '--type=kubernetes.io/dockerconfigjson',
      `--from-literal=.dockerconfigjson=${registry.dockerConfigJson()}`,
    ]);
    // The seed's program at 0.1.5, and the same program at 0.1.6 (a different binary).
    const demoRepo = path.join(repoRoot(), 'examples', 'demo-repo');
    const source = fs.readFileSync(path.join(demoRepo, 'main.go'), 'utf8');
    const [v015, v016, crash] = await Promise.all([
      buildGoImage(demoRepo),
      buildGoImageFromFiles({
        'go.mod': 'module example.com/first-vela-workflow\n\ngo 1.22\n',
        'main.go': source.replace(
          /const VERSION = "[^"]*"/,
          'const VERSION = "0.1.6"',
        ),
      }),
      buildGoImageFromFiles({
        'go.mod': 'module example.com/crash\n\ngo 1.22\n',
        'main.go': [
          'package main',
          '',
          'import "os"',
          '',
          'func main() {',
          '\tprintln("failing on purpose")',
          '\tos.Exit(1)',
          '}',
          '',
        ].join('\n'),
      }),
    ]);
    for (const [tag, image] of Object.entries({
      '0.1.5': v015,
      '0.1.6': v016,
      crash,
    })) {
      images[tag] = (
        await pushImage(registry, 'demo/server', tag, { image })
      ).reference;
    }
  }, 600_000);

  afterAll(async () => {
    await Promise.allSettled([cluster?.stop(), registry?.stop()]);
  }, 120_000);

  it('runs our image: Available, a Pod IP on the bridge, answering through kube-proxy and Traefik', async () => {
    const node = cluster.node!;
    await apply([
      ...webApp('web', images['0.1.5']),
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'Ingress',
        metadata: {
          name: 'web',
          // As KubeVela's ingress trait renders it: the class as an annotation.
          annotations: { 'kubernetes.io/ingress.class': 'nginx' },
        },
        spec: {
          rules: [
            {
              host: 'testsvc.example.com',
              http: {
                paths: [
                  {
                    path: '/',
                    pathType: 'ImplementationSpecific',
                    backend: {
                      service: { name: 'web', port: { number: SERVER_PORT } },
                    },
                  },
                ],
              },
            },
          ],
        },
      },
    ]);
    await waitOr('Deployment web to be Available', () => available('web'));

    const [pod] = (await getJson('pods', '-l', 'app=web')).items;
    expect(pod.spec.nodeName).toBe(node.name);
    expect(pod.status.hostIP).toBe(node.ip);
    const subnetPrefix = node.podSubnet.replace(/\.0\/24$/, '.');
    expect(pod.status.podIP.startsWith(subnetPrefix)).toBe(true);
    expect(pod.status.podIP).not.toBe(node.ip);

    // The container itself, on its Pod IP.
    expect(
      (await httpGet(`http://${pod.status.podIP}:${SERVER_PORT}/`)).body,
    ).toBe('Version: 0.1.5\n');
    // The Service's cluster IP exists only in kube-proxy's rules.
    const service = await getJson('service', 'web');
    const viaService = await waitOr('the Service to answer', async () => {
      const res = await httpGet(
        `http://${service.spec.clusterIP}:${SERVER_PORT}/`,
      );
      return res.status === 200 ? res : undefined;
    });
    expect(viaService.body).toBe('Version: 0.1.5\n');
    // The Ingress, through Traefik, by its host.
    const viaIngress = await waitOr('the Ingress to answer', async () => {
      const res = await httpGet(`${node.ingressUrl}/`, 'testsvc.example.com');
      return res.status === 200 ? res : undefined;
    });
    expect(viaIngress.body).toBe('Version: 0.1.5\n');
    // Another host is not routed.
    expect(
      (await httpGet(`${node.ingressUrl}/`, 'other.example.com')).status,
    ).toBe(404);
  });

  it('splits requests by the weights of an HTTPRoute', async () => {
    const node = cluster.node!;
    await apply([
      ...webApp('stable', images['0.1.5']),
      ...webApp('canary', images['0.1.6']),
    ]);
    await waitOr(
      'stable and canary to be Available',
      async () => (await available('stable')) && (await available('canary')),
    );
    const route = (stableWeight: number, canaryWeight: number) => ({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'canary-split' },
      spec: {
        parentRefs: [node.gateway],
        hostnames: ['canary.example.com'],
        rules: [
          {
            backendRefs: [
              { name: 'stable', port: SERVER_PORT, weight: stableWeight },
              { name: 'canary', port: SERVER_PORT, weight: canaryWeight },
            ],
          },
        ],
      },
    });
    const versions = async (n: number) => {
      const seen: string[] = [];
      for (let i = 0; i < n; i++) {
        const res = await httpGet(`${node.ingressUrl}/`, 'canary.example.com');
        seen.push(res.status === 200 ? res.body.trim() : `HTTP ${res.status}`);
      }
      return seen;
    };

    // All traffic to stable: every request answers 0.1.5.
    await apply([route(100, 0)]);
    await waitOr(
      'the HTTPRoute to be served',
      async () =>
        (await httpGet(`${node.ingressUrl}/`, 'canary.example.com')).status ===
        200,
    );
    expect(new Set(await versions(20))).toEqual(new Set(['Version: 0.1.5']));

    // Half and half: Traefik's weighted round robin answers with both.
    await apply([route(50, 50)]);
    const split = await waitOr('both versions to answer', async () => {
      const seen = await versions(20);
      return seen.includes('Version: 0.1.6') ? seen : undefined;
    });
    expect(new Set(split)).toEqual(
      new Set(['Version: 0.1.5', 'Version: 0.1.6']),
    );
  });

  it('a container that exits 1 crash-loops, and our health reports the Pod failed for that reason', async () => {
    await apply([webApp('crasher', images.crash)[0]]);
    const pod = await waitOr(
      'the crashing container to be in CrashLoopBackOff',
      async () => {
        const [p] = (await getJson('pods', '-l', 'app=crasher')).items;
        const status = p?.status?.containerStatuses?.[0];
        return status?.state?.waiting?.reason === 'CrashLoopBackOff'
          ? p
          : undefined;
      },
    );
    const status = pod.status.containerStatuses[0];
    expect(status.lastState.terminated.exitCode).toBe(1);
    expect(status.restartCount).toBeGreaterThanOrEqual(1);
    expect(assessHealth(pod)).toEqual({
      status: 'Failed',
      reason: 'ContainerCrashLooping',
      message: 'Container server is in CrashLoopBackOff',
    });
  });
});
