import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { databaseServiceFactory } from '@backstage/backend-defaults/database';
import { mockCredentials } from '@backstage/backend-test-utils';
import type {
  ApplicationDetails,
  ReconcileRun,
  RolloutStatus,
} from '@gitops-workflow/plugin-gitops-common';
import request from 'supertest';
import { buildK8sBinaries, pushImage } from '../infra';
import { startPrometheus, type Prometheus } from '../infra/prometheus';
import {
  SOURCE_SECRETS,
  useDeliveryStack,
  waitUntil,
} from '../backend/support';

/*
 * Progressive delivery on the real servers: a cluster with the standard
 * Gateway API CRDs, a real Prometheus scraping an endpoint this test serves
 * (the requests each version answered, with the error rate the test sets
 * per version), and the backend stepping canaries and blue-green switches.
 */

/** Percent of failed requests each version answers; versions are image tags. */
const ERROR_PERCENT: Record<string, number> = { '1': 0, '2': 0, '3': 5 };

/**
 * Counters that grow by 100 requests per scrape and version, `ERROR_PERCENT`
 * of them failed: what an app's own metrics would show under steady load.
 */
function startMetrics(): Promise<http.Server> {
  const counts = new Map<string, { ok: number; failed: number }>();
  const server = http.createServer((_req, res) => {
    const lines = ['# TYPE requests_total counter'];
    for (const [version, percent] of Object.entries(ERROR_PERCENT)) {
      const count = counts.get(version) ?? { ok: 0, failed: 0 };
      count.ok += 100 - percent;
      count.failed += percent;
      counts.set(version, count);
      lines.push(
        `requests_total{version="${version}",code="200"} ${count.ok}`,
        `requests_total{version="${version}",code="500"} ${count.failed}`,
      );
    }
    res.setHeader('content-type', 'text/plain; version=0.0.4');
    res.end(`${lines.join('\n')}\n`);
  });
  return new Promise(resolve =>
    server.listen(0, '127.0.0.1', () => resolve(server)),
  );
}

const SUCCESS_RATE = {
  name: 'request-success-rate',
  query:
    'sum(rate(requests_total{version="{{ version }}",code!~"5.."}[{{ interval }}])) / sum(rate(requests_total{version="{{ version }}"}[{{ interval }}])) * 100',
  thresholdRange: { min: 99 },
};

function application(
  name: string,
  tag: string,
  traits: unknown[],
  replicas = 2,
) {
  return {
    apiVersion: 'core.oam.dev/v1beta1',
    kind: 'Application',
    metadata: { name, namespace: 'default' },
    spec: {
      components: [
        {
          name,
          type: 'webservice',
          properties: {
            image: `registry.local/${name}:${tag}`,
            ports: [{ port: 8080, expose: true }],
          },
          traits: [{ type: 'scaler', properties: { replicas } }, ...traits],
        },
      ],
    },
  };
}

const canaryTrait = {
  type: 'kruise-rollout',
  properties: {
    canary: {
      steps: [
        { weight: 20, pause: { duration: '2s' } },
        { weight: 50, pause: { duration: '2s' } },
        { weight: 100, pause: { duration: '2s' } },
      ],
      trafficRoutings: [{ gateway: { parentRefs: [{ name: 'public' }] } }],
    },
    analysis: { interval: '5s', metrics: [SUCCESS_RATE] },
    progressDeadlineSeconds: 120,
  },
};

describe('progressive delivery', () => {
  const stack = useDeliveryStack({ sourceSecrets: SOURCE_SECRETS });
  let metrics: http.Server | undefined;
  let prometheus: Prometheus | undefined;
  let dbDir: string | undefined;

  /** The backend, with its database on disk so that a restart keeps what it knew. */
  const startBackend = () => {
    dbDir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'gitops-rollout-db-'));
    return stack.startBackend({
      gitops: { shards: 1, prometheus: { url: prometheus!.url } },
      features: [databaseServiceFactory],
      config: {
        backend: {
          database: {
            client: 'better-sqlite3',
            connection: { directory: dbDir },
          },
        },
      },
    });
  };

  beforeAll(async () => {
    const crds =
      process.env.GITOPS_GATEWAY_API_CRDS ??
      path.join(buildK8sBinaries(), 'gateway-api-crds.yaml');
    // Server-side: the CRDs are too large for kubectl's last-applied annotation.
    await stack.cluster.kubectl(['apply', '--server-side', '-f', crds]);
    await stack.cluster.kubectl([
      'wait',
      '--for=condition=Established',
      'crd/httproutes.gateway.networking.k8s.io',
      '--timeout=60s',
    ]);
    metrics = await startMetrics();
    const { port } = metrics.address() as AddressInfo;
    prometheus = await startPrometheus({ targets: [`127.0.0.1:${port}`] });
    await prometheus.targetsUp();
    await startBackend();
  }, 180_000);

  afterAll(async () => {
    await stack.stopBackend();
    if (dbDir) fs.rmSync(dbDir, { recursive: true, force: true });
    await prometheus?.stop();
    metrics?.closeAllConnections();
    await new Promise(resolve => metrics?.close(resolve) ?? resolve(undefined));
  });

  const api = (app: string, url = '') =>
    request(stack.backend.server)
      .get(`/api/gitops/applications/default/${app}${url}`)
      .set('Authorization', mockCredentials.user.header());
  const decide = (app: string, component: string, action: string) =>
    request(stack.backend.server)
      .post(
        `/api/gitops/applications/default/${app}/rollouts/${component}/${action}`,
      )
      .set('Authorization', mockCredentials.user.header())
      .send({ reason: 'checked the preview' });
  const rollout = async (app: string): Promise<RolloutStatus | undefined> =>
    ((await api(app)).body as ApplicationDetails).rollouts?.[0];
  const apply = (object: unknown) =>
    stack.cluster.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify(object),
    });
  const get = async (apiPath: string) => {
    const res = await stack.cluster.request('GET', apiPath);
    if (res.status !== 200) throw new Error(`${apiPath}: HTTP ${res.status}`);
    return res.body;
  };
  const deployment = (name: string) =>
    get(`/apis/apps/v1/namespaces/default/deployments/${name}`);
  const imageOf = (d: any) => d.spec.template.spec.containers[0].image;
  const routeWeights = async (name: string): Promise<number[]> =>
    (
      await get(
        `/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes/${name}`,
      )
    ).spec.rules[0].backendRefs.map((r: { weight: number }) => r.weight);
  /** The images of the pods a Service selects now. */
  const servedImages = async (service: string): Promise<string[]> => {
    const selector = (
      await get(`/api/v1/namespaces/default/services/${service}`)
    ).spec.selector;
    const query = Object.entries(selector)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const pods = await get(
      `/api/v1/namespaces/default/pods?labelSelector=${encodeURIComponent(
        query,
      )}`,
    );
    return [
      ...new Set<string>(
        pods.items.map((p: any) => p.spec.containers[0].image),
      ),
    ];
  };
  const describe_ = async (app: string) =>
    `${JSON.stringify(
      await rollout(app),
      null,
      1,
    )}\n${await stack.cluster.kubectl([
      'get',
      'deployments,services,httproutes,ingresses',
      '-o',
      'wide',
    ])}`;

  /** Every distinct value `read` gave, in order, polled until `stop()`. */
  function watch<T>(read: () => Promise<T>) {
    const seen: string[] = [];
    let running = true;
    const done = (async () => {
      while (running) {
        try {
          const value = JSON.stringify(await read());
          if (seen[seen.length - 1] !== value) seen.push(value);
        } catch {
          // not created yet
        }
        await new Promise(r => setTimeout(r, 100));
      }
    })();
    return {
      seen: () => seen.map(v => JSON.parse(v) as T),
      stop: async () => {
        running = false;
        await done;
      },
    };
  }

  const settled = (app: string, phase: RolloutStatus['phase'], image: string) =>
    waitUntil(
      `${app}'s rollout to be ${phase} with ${image} stable`,
      async () => {
        const status = await rollout(app);
        return status?.phase === phase && status.stableImage === image
          ? status
          : undefined;
      },
      () => describe_(app),
      120_000,
    );

  it('walks a good canary through 20, 50 and 100% on the HTTPRoute and promotes it', async () => {
    await apply(application('web', '1', [canaryTrait]));
    await settled('web', 'healthy', 'registry.local/web:1');
    expect(await routeWeights('web')).toEqual([100, 0]);

    const weights = watch(() => routeWeights('web'));
    await apply(application('web', '2', [canaryTrait]));
    const done = await settled('web', 'healthy', 'registry.local/web:2');
    await weights.stop();
    expect(weights.seen()).toEqual([
      [100, 0],
      [80, 20],
      [50, 50],
      [0, 100],
      [100, 0],
    ]);
    expect(done.message).toBe('promoted registry.local/web:2');
    expect(done.analysis.map(a => [a.value, a.passed])).toEqual([
      ['100.0%', true],
      ['100.0%', true],
      ['100.0%', true],
    ]);
    expect(imageOf(await deployment('web'))).toBe('registry.local/web:2');
    expect((await deployment('web-canary')).spec.replicas).toBe(0);
    expect(await servedImages('web')).toEqual(['registry.local/web:2']);
  }, 240_000);

  it('aborts a canary with 5% errors at its first analysis and holds its tag', async () => {
    const weights = watch(() => routeWeights('web'));
    await apply(application('web', '3', [canaryTrait]));
    const aborted = await settled('web', 'aborted', 'registry.local/web:2');
    await weights.stop();
    expect(aborted.message).toBe('aborted: success rate 95.0% < 99%');
    expect(aborted.canaryImage).toBe('registry.local/web:3');
    expect(aborted.analysis).toEqual([
      expect.objectContaining({
        name: 'request-success-rate',
        value: '95.0%',
        threshold: '≥ 99%',
        passed: false,
      }),
    ]);
    // The canary never got more than its first step's share (the first
    // analysis ends it, however short the step was to watch).
    expect(Math.max(...weights.seen().map(w => w[1]))).toBeLessThanOrEqual(20);
    expect(await routeWeights('web')).toEqual([100, 0]);
    expect((await deployment('web-canary')).spec.replicas).toBe(0);
    expect(imageOf(await deployment('web'))).toBe('registry.local/web:2');
    expect(await servedImages('web')).toEqual(['registry.local/web:2']);

    const runs: ReconcileRun[] = (await api('web', '/runs')).body.items;
    expect(runs.map(r => r.error)).toContain(
      'aborted: success rate 95.0% < 99%',
    );
    // The hold placed on the failed tag is what a person releases.
    const released = await request(stack.backend.server)
      .post('/api/gitops/applications/default/web/images/web/release')
      .set('Authorization', mockCredentials.user.header());
    expect(released.status).toBe(200);
    expect(released.body.hold).toMatchObject({
      component: 'web',
      image: 'registry.local/web',
      tag: '2',
      failedTag: '3',
      reason: 'aborted: success rate 95.0% < 99%',
    });
  }, 240_000);

  const blueGreen = {
    type: 'blue-green',
    properties: {
      autoPromotionEnabled: false,
      scaleDownDelaySeconds: 5,
      prePromotionAnalysis: { interval: '5s', metrics: [SUCCESS_RATE] },
      progressDeadlineSeconds: 120,
    },
  };

  it('serves blue-green’s new version on the preview Service, switches at Promote and scales the old one down after the delay', async () => {
    await apply(application('api', '1', [blueGreen]));
    await settled('api', 'healthy', 'registry.local/api:1');

    await apply(application('api', '2', [blueGreen]));
    await waitUntil(
      'the preview to wait for Promote',
      async () =>
        (await rollout('api'))?.phase === 'waitingForApproval'
          ? true
          : undefined,
      () => describe_('api'),
      120_000,
    );
    expect(await servedImages('api-preview')).toEqual(['registry.local/api:2']);
    expect(await servedImages('api')).toEqual(['registry.local/api:1']);

    // A restarted backend goes on where the last one stopped: still waiting.
    await stack.stopBackend();
    await startBackend();
    expect(await rollout('api')).toMatchObject({
      phase: 'waitingForApproval',
      canaryImage: 'registry.local/api:2',
    });

    const served = watch(() => servedImages('api'));
    const promoted = await decide('api', 'api', 'promote');
    expect(promoted.status).toBe(200);
    expect(promoted.body.rollout).toMatchObject({
      component: 'api',
      strategy: 'blueGreen',
    });
    await waitUntil(
      'users to reach the new version',
      async () =>
        (await rollout('api'))?.canaryWeight === 100 ? true : undefined,
      () => describe_('api'),
      60_000,
    );
    // Until the delay is over, the old version still runs beside the new one.
    expect(imageOf(await deployment('api'))).toBe('registry.local/api:1');
    await settled('api', 'healthy', 'registry.local/api:2');
    await served.stop();
    // One write of the Service's selector: users went from all-blue to all-green.
    expect(served.seen()).toEqual([
      ['registry.local/api:1'],
      ['registry.local/api:2'],
    ]);
    expect(imageOf(await deployment('api'))).toBe('registry.local/api:2');
    expect((await deployment('api-preview')).spec.replicas).toBe(0);

    const audit = (await api('api', '/audit')).body.items;
    expect(audit[0]).toMatchObject({
      action: 'rolloutPromote',
      component: 'api',
    });
  }, 240_000);

  it('leaves users on blue when the preview fails its pre-promotion analysis', async () => {
    await apply(application('api', '3', [blueGreen]));
    const aborted = await settled('api', 'aborted', 'registry.local/api:2');
    expect(aborted.message).toBe('aborted: success rate 95.0% < 99%');
    expect(await servedImages('api')).toEqual(['registry.local/api:2']);
    expect((await deployment('api-preview')).spec.replicas).toBe(0);
  }, 240_000);

  it('steps an ingress-nginx canary through its canary-weight annotation', async () => {
    const nginx = {
      type: 'kruise-rollout',
      properties: {
        canary: {
          steps: [
            { weight: 30, pause: { duration: '2s' } },
            { weight: 100, pause: { duration: '2s' } },
          ],
          trafficRoutings: [{ type: 'nginx' }],
        },
      },
    };
    const gateway = {
      type: 'gateway',
      properties: { domain: 'shop.example', http: { '/': 8080 } },
    };
    await apply(application('shop', '1', [gateway, nginx], 1));
    await settled('shop', 'healthy', 'registry.local/shop:1');
    const canaryWeight = async () => {
      const ingress = await get(
        '/apis/networking.k8s.io/v1/namespaces/default/ingresses/shop-canary',
      );
      return ingress.metadata.annotations[
        'nginx.ingress.kubernetes.io/canary-weight'
      ];
    };
    const canary = await get(
      '/apis/networking.k8s.io/v1/namespaces/default/ingresses/shop-canary',
    );
    expect(
      canary.metadata.annotations['nginx.ingress.kubernetes.io/canary'],
    ).toBe('true');
    expect(canary.spec.rules[0].http.paths[0].backend.service.name).toBe(
      'shop-canary',
    );

    const weights = watch(canaryWeight);
    await apply(application('shop', '2', [gateway, nginx], 1));
    await settled('shop', 'healthy', 'registry.local/shop:2');
    await weights.stop();
    expect(weights.seen()).toEqual(['0', '30', '100', '0']);
  }, 240_000);

  it('commits the stable tag back to Git when the aborted tag came from image automation that rolls back', async () => {
    const image = `${stack.registry.host}/site`;
    await pushImage(stack.registry, 'site', '1');
    const fixture = fs.mkdtempSync(path.join(os.tmpdir(), 'rollout-fixture-'));
    // The Application the automation writes into, as in the seed's first-vela-workflow.
    fs.writeFileSync(
      path.join(fixture, 'site.yaml'),
      `apiVersion: core.oam.dev/v1beta1
kind: Application
metadata:
  name: site
  namespace: default
spec:
  components:
    - name: site
      type: webservice
      properties:
        image: ${image}:1 # {"$imagepolicy": "default:delivery"}
        ports: [{ port: 8080, expose: true }]
      traits:
        - type: kruise-rollout
          properties: ${JSON.stringify(canaryTrait.properties)}
`,
    );
    await stack.git.createRepo('site', { fixtureDir: fixture, branch: 'main' });
    fs.rmSync(fixture, { recursive: true });
    await apply({
      apiVersion: 'core.oam.dev/v1beta1',
      kind: 'Application',
      metadata: { name: 'site-delivery', namespace: 'default' },
      spec: {
        components: [
          {
            name: 'delivery',
            type: 'kustomize',
            properties: {
              url: stack.git.repoUrl('site'),
              secretRef: SOURCE_SECRETS.git,
              pullInterval: '1m',
              git: { branch: 'main' },
              imageRepository: {
                image,
                secretRef: SOURCE_SECRETS.registry,
                interval: '1m',
                insecure: true,
                filterTags: { pattern: '^[0-9]+$' },
                policy: { numerical: { order: 'asc' } },
                rollback: { onFailure: true, after: '10m' },
              },
            },
          },
        ],
      },
    });
    await settled('site', 'healthy', `${image}:1`);

    await pushImage(stack.registry, 'site', '3');
    const sync = await request(stack.backend.server)
      .post('/api/gitops/applications/default/site-delivery/sync')
      .set('Authorization', mockCredentials.user.header());
    expect(sync.status).toBe(202);
    const held = await waitUntil(
      'the automation to be held at 1',
      async () =>
        (
          await api('site-delivery', '/sync-config')
        ).body.components[0].image?.hold,
      () => describe_('site'),
      120_000,
    );
    expect(held).toMatchObject({
      tag: '1',
      failedTag: '3',
      reason: 'aborted: success rate 95.0% < 99%',
    });
    await waitUntil(
      'Git to hold 1 again',
      async () =>
        (await stack.git.readFile('site', 'site.yaml')).includes(`${image}:1 #`)
          ? true
          : undefined,
      () => describe_('site'),
      120_000,
    );
    // The pass records its commit once it has pushed it: a moment after Git has it.
    const updates = await waitUntil(
      'the history to show 3→1',
      async () => {
        const rows: string[] = (
          await api('site-delivery', '/image-history')
        ).body.items.map(
          (c: { oldTag?: string; newTag: string }) => `${c.oldTag}→${c.newTag}`,
        );
        return rows.includes('3→1') ? rows : undefined;
      },
      () => describe_('site'),
      60_000,
    );
    expect(updates).toEqual(expect.arrayContaining(['1→3', '3→1']));
    const back = await settled('site', 'healthy', `${image}:1`);
    expect(back.message).toBe(`back on ${image}:1, as Git asks`);
    expect(imageOf(await deployment('site'))).toBe(`${image}:1`);
  }, 300_000);
});
