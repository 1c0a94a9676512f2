import { parseApplication } from '../render/parse';
import { renderApplication } from '../render/render';
import type { KubeObject } from '../model/types';
import { shapeObjects } from './objects';
import { ClusterRollouts } from './controller';
import {
  advance,
  beginPass,
  decideRollout,
  shapeOf,
  type RolloutState,
} from './progress';
import { rolloutSpecOf, type CanarySpec } from './spec';

const successRate = {
  name: 'request-success-rate',
  query:
    'sum(rate(requests_total{version="{{ version }}",code!~"5.."}[{{ interval }}])) / sum(rate(requests_total{version="{{ version }}"}[{{ interval }}])) * 100',
  thresholdRange: { min: 99 },
};

function app(image: string, traits: unknown[], extraTraits: unknown[] = []) {
  return parseApplication({
    apiVersion: 'core.oam.dev/v1beta1',
    kind: 'Application',
    metadata: { name: 'shop', namespace: 'team-a' },
    spec: {
      components: [
        {
          name: 'web',
          type: 'webservice',
          properties: {
            image,
            ports: [{ port: 8080, expose: true }],
            cpu: '0.1',
          },
          traits: [...extraTraits, ...traits],
        },
      ],
    },
  });
}

const canaryTrait = (canary: Record<string, unknown>, rest = {}) => ({
  type: 'kruise-rollout',
  properties: {
    canary: {
      steps: [
        { weight: 20, pause: { duration: '2s' } },
        { weight: 50, pause: {} },
        { weight: 100 },
      ],
      trafficRoutings: [{ gateway: { parentRefs: [{ name: 'public' }] } }],
      ...canary,
    },
    analysis: { interval: '5s', metrics: [successRate] },
    ...rest,
  },
});

const parseError = (traits: unknown[], extra: unknown[] = []) => {
  try {
    const parsed = app('shop/web:1', traits, extra);
    rolloutSpecOf(parsed.spec.components[0], 'spec.components[0]');
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
};

describe('kruise-rollout and blue-green traits', () => {
  it('read KubeVela’s kruise-rollout shape with Flagger’s checks', () => {
    const parsed = app('shop/web:1', [canaryTrait({})]);
    const spec = rolloutSpecOf(parsed.spec.components[0]) as CanarySpec;
    expect(spec.steps).toEqual([
      { weight: 20, pause: { durationMs: 2000 } },
      { weight: 50, pause: {} },
      { weight: 100 },
    ]);
    expect(spec.trafficRoutings).toEqual([
      {
        kind: 'gateway',
        service: 'web',
        httpRouteName: 'web',
        parentRefs: [{ name: 'public' }],
        hostnames: [],
        port: undefined,
      },
    ]);
    expect(spec.analysis.metrics[0]).toMatchObject({
      name: 'request-success-rate',
      min: 99,
    });
    expect(spec.failureLimit).toBe(0);
  });

  it.each([
    [
      canaryTrait({ steps: [{ weight: 20, wieght: 5 }] }),
      'spec.components[0].traits[0].properties.canary.steps[0].wieght: is not a known field',
    ],
    [
      canaryTrait({ steps: [{ weight: 50 }, { weight: 20 }] }),
      'canary.steps[1].weight: must not be lower than the step before (50)',
    ],
    [
      canaryTrait({
        trafficRoutings: [{ gateway: {}, ingress: { name: 'web' } }],
      }),
      'canary.trafficRoutings[0]: names both a gateway and an ingress',
    ],
    [
      canaryTrait(
        {},
        {
          analysis: {
            metrics: [{ ...successRate, query: 'up{job="{{ job }}"}' }],
          },
        },
      ),
      'analysis.metrics[0].query: uses {{ job }}, which is not a variable',
    ],
    [
      canaryTrait(
        {},
        {
          analysis: {
            metrics: [{ ...successRate, thresholdRange: { min: 5, max: 1 } }],
          },
        },
      ),
      'thresholdRange.min: is above max (5 > 1)',
    ],
    [
      {
        type: 'blue-green',
        properties: { autoPromotionEnabled: false, autoPromotionSeconds: 30 },
      },
      'properties.autoPromotionSeconds: contradicts autoPromotionEnabled: false',
    ],
  ])('refuse %#, naming the field', (trait, message) => {
    expect(parseError([trait])).toContain(message);
  });

  it('read KubeVela’s addon shape: the weight from a replicas percentage, the Ingress by ingressName', () => {
    const parsed = app('shop/web:1', [
      canaryTrait({
        steps: [{ replicas: '20%' }, { replicas: '100%', weight: 100 }],
        trafficRoutings: [{ type: 'nginx', ingressName: 'shop' }],
      }),
    ]);
    const spec = rolloutSpecOf(parsed.spec.components[0]) as CanarySpec;
    expect(spec.steps.map(s => s.weight)).toEqual([20, 100]);
    expect(spec.trafficRoutings[0]).toMatchObject({
      kind: 'ingress',
      ingressName: 'shop',
    });
    expect(parseError([canaryTrait({ steps: [{ replicas: 2 }] })])).toContain(
      'canary.steps[0].weight: is required (1-100), unless replicas is a percentage',
    );
  });

  it('refuse a second rollout trait on one component', () => {
    expect(
      parseError([canaryTrait({}), { type: 'blue-green', properties: {} }]),
    ).toContain('spec.components[0].traits[1]: a component rolls out one way');
  });

  it('render the canary Deployment and Service and an HTTPRoute at 100/0', async () => {
    const rendered = await renderApplication(
      app('shop/web:1', [canaryTrait({})]),
    );
    const names = rendered.objects.map(o => `${o.kind}/${o.metadata.name}`);
    expect(names).toEqual([
      'Deployment/web',
      'Service/web',
      'Deployment/web-canary',
      'Service/web-canary',
      'HTTPRoute/web',
    ]);
    const route = rendered.objects[4] as any;
    expect(route.spec.parentRefs).toEqual([{ name: 'public' }]);
    expect(route.spec.rules[0].backendRefs).toEqual([
      { group: '', kind: 'Service', name: 'web', port: 8080, weight: 100 },
      { group: '', kind: 'Service', name: 'web-canary', port: 8080, weight: 0 },
    ]);
    const canary = rendered.objects[2] as any;
    expect(canary.spec.replicas).toBe(0);
    expect(canary.spec.selector.matchLabels).toMatchObject({
      'rollout.gitops.dev/track': 'canary',
    });
  });

  it('render an ingress-nginx canary Ingress beside the gateway trait’s Ingress', async () => {
    const rendered = await renderApplication(
      app(
        'shop/web:1',
        [canaryTrait({ trafficRoutings: [{ type: 'nginx' }] })],
        [
          {
            type: 'gateway',
            properties: { domain: 'shop.example', http: { '/': 8080 } },
          },
        ],
      ),
    );
    const ingress = rendered.objects.find(
      o => o.metadata.name === 'web-canary' && o.kind === 'Ingress',
    ) as any;
    expect(ingress.metadata.annotations).toMatchObject({
      'nginx.ingress.kubernetes.io/canary': 'true',
      'nginx.ingress.kubernetes.io/canary-weight': '0',
    });
    expect(ingress.spec.rules[0].http.paths[0].backend.service.name).toBe(
      'web-canary',
    );
    expect(
      parseError([canaryTrait({ trafficRoutings: [{ type: 'nginx' }] })]),
    ).toBeUndefined();
    await expect(
      renderApplication(
        app('shop/web:1', [
          canaryTrait({ trafficRoutings: [{ ingress: { name: 'shop' } }] }),
        ]),
      ),
    ).rejects.toThrow(
      'canary.trafficRoutings[0].ingress.name: the component renders no Ingress "shop"',
    );
  });

  it('render blue-green’s preview Deployment and Service', async () => {
    const rendered = await renderApplication(
      app('shop/web:1', [{ type: 'blue-green', properties: {} }]),
    );
    expect(rendered.objects.map(o => `${o.kind}/${o.metadata.name}`)).toEqual([
      'Deployment/web',
      'Service/web',
      'Deployment/web-preview',
      'Service/web-preview',
    ]);
  });
});

describe('the canary loop', () => {
  const where = { component: 'web', cluster: 'local', namespace: 'shop' };
  const ready = { ready: true, message: 'Ready:1/1' };
  const notReady = { ready: false, message: 'Ready:0/1' };
  const passing = async () => [
    { name: 'request-success-rate', value: '100.0%', passed: true, at: '' },
  ];
  const failing = async () => [
    {
      name: 'request-success-rate',
      value: '95.0%',
      threshold: '≥ 99%',
      passed: false,
      at: '',
    },
  ];

  async function pass(image: string, state?: RolloutState) {
    const parsed = app(image, [canaryTrait({})]);
    const spec = rolloutSpecOf(parsed.spec.components[0])!;
    const rendered = await renderApplication(parsed);
    const stable = rendered.objects[0] as any;
    const next = beginPass(
      spec,
      state,
      { template: stable.spec.template, replicas: 2 },
      where,
      new Date(0),
    );
    const objects = rendered.objects as KubeObject[];
    shapeObjects(objects, shapeOf(spec, next));
    return { spec, state: next, objects };
  }
  const weights = (objects: KubeObject[]) =>
    ((objects[4].spec as any).rules[0].backendRefs as any[]).map(r => r.weight);
  const image = (o: KubeObject) =>
    (o.spec as any).template.spec.containers[0].image;

  it('keeps the stable on the old template, steps, pauses, waits for Promote and promotes', async () => {
    const first = await pass('shop/web:1');
    expect(first.state.phase).toBe('healthy');
    const { spec, state, objects } = await pass('shop/web:2', first.state);
    expect(state.phase).toBe('progressing');
    expect(image(objects[0])).toBe('shop/web:1');
    expect(image(objects[2])).toBe('shop/web:2');
    expect((objects[2].spec as any).replicas).toBe(1);
    expect(weights(objects)).toEqual([80, 20]);
    // The Services select each version's pods by template hash.
    expect(
      (objects[1].spec as any).selector['rollout.gitops.dev/template-hash'],
    ).toBe(state.stableHash);
    expect(
      (objects[3].spec as any).selector['rollout.gitops.dev/template-hash'],
    ).toBe(state.canaryHash);

    const live = (canary: typeof ready) => ({ stable: ready, canary });
    expect(
      await advance(spec, state, live(notReady), passing, new Date(1000)),
    ).toContain('waiting for the canary to be ready');
    await advance(spec, state, live(ready), passing, new Date(1000));
    expect(state.phase).toBe('paused');
    await advance(spec, state, live(ready), passing, new Date(3500));
    expect(state).toMatchObject({ phase: 'progressing', step: 1 });
    expect(shapeOf(spec, state).weight).toBe(50);
    await advance(spec, state, live(ready), passing, new Date(4000));
    expect(state.phase).toBe('waitingForApproval');
    state.decision = { action: 'promote', by: 'user:default/jane' };
    const promoted = await pass('shop/web:2', state);
    expect(promoted.state).toMatchObject({ phase: 'progressing', step: 2 });
    await advance(spec, promoted.state, live(ready), passing, new Date(5000));
    expect(promoted.state.promoting).toBe(true);
    // The next pass keeps promoting until the stable workload is ready.
    const promoting = await pass('shop/web:2', promoted.state);
    expect(promoting.state).toMatchObject({
      phase: 'progressing',
      promoting: true,
    });
    expect(weights(promoting.objects)).toEqual([0, 100]);
    expect(
      await advance(
        spec,
        promoting.state,
        { stable: notReady, canary: ready },
        passing,
        new Date(5500),
      ),
    ).toContain('promoting');
    promoted.state = promoting.state;
    expect(
      await advance(spec, promoted.state, live(ready), passing, new Date(6000)),
    ).toBeUndefined();
    expect(promoted.state.phase).toBe('healthy');
    const after = await pass('shop/web:2', promoted.state);
    expect(image(after.objects[0])).toBe('shop/web:2');
    expect((after.objects[2].spec as any).replicas).toBe(0);
    expect(weights(after.objects)).toEqual([100, 0]);
  });

  it('keeps one rollout per namespace of a cluster, and a decision reaches each in flight', async () => {
    const states: RolloutState[] = [];
    const deploy = async (reference: string, namespace: string) => {
      const parsed = app(reference, [canaryTrait({})]);
      const rendered = await renderApplication(parsed);
      new ClusterRollouts(states, 'local', {
        timeoutMs: 1000,
        now: () => new Date(0),
      }).prepare(parsed.spec.components, rendered.components, namespace);
    };
    await deploy('shop/web:1', 'eu');
    await deploy('shop/web:1', 'us');
    await deploy('shop/web:2', 'eu');
    await deploy('shop/web:2', 'us');
    expect(states.map(s => [s.namespace, s.phase])).toEqual([
      ['eu', 'progressing'],
      ['us', 'progressing'],
    ]);
    // The us rollout moving on leaves the eu one where it was.
    states[1].step = 1;
    await deploy('shop/web:2', 'eu');
    expect(states.map(s => s.step)).toEqual([0, 1]);

    const decided = decideRollout(states, 'web', 'local', {
      action: 'promote',
      by: 'user:default/jane',
    });
    expect(decided.map(s => [s.namespace, s.decision?.action])).toEqual([
      ['eu', 'promote'],
      ['us', 'promote'],
    ]);
  });

  it('aborts at the first failed analysis, and a restart keeps it aborted', async () => {
    const first = await pass('shop/web:1');
    const { spec, state } = await pass('shop/web:3', first.state);
    await advance(
      spec,
      state,
      { stable: ready, canary: ready },
      failing,
      new Date(1000),
    );
    expect(state.phase).toBe('aborted');
    expect(state.message).toBe('aborted: success rate 95.0% < 99%');
    expect(state.abortedImage).toBe('shop/web:3');
    const again = await pass('shop/web:3', JSON.parse(JSON.stringify(state)));
    expect(again.state.phase).toBe('aborted');
    expect(weights(again.objects)).toEqual([100, 0]);
    expect((again.objects[2].spec as any).replicas).toBe(0);
    expect(image(again.objects[0])).toBe('shop/web:1');
  });

  it('aborts when the canary is not ready within the progress deadline', async () => {
    const first = await pass('shop/web:1');
    const { spec, state } = await pass('shop/web:2', first.state);
    await advance(
      spec,
      state,
      { stable: ready, canary: notReady },
      passing,
      new Date(601_000),
    );
    expect(state.message).toContain(
      'aborted: the canary was not ready within the progress deadline of 600 s',
    );
  });
});

describe('the blue-green loop', () => {
  const where = { component: 'web', cluster: 'local', namespace: 'shop' };
  const ready = { ready: true, message: 'Ready:2/2' };
  const notReady = { ready: false, message: 'Ready:0/2' };
  const passing = async () => [];
  const trait = {
    type: 'blue-green',
    properties: { autoPromotionSeconds: 10, scaleDownDelaySeconds: 30 },
  };

  async function pass(image: string, state?: RolloutState, at = 0) {
    const parsed = app(image, [trait]);
    const spec = rolloutSpecOf(parsed.spec.components[0])!;
    const rendered = await renderApplication(parsed);
    const stable = rendered.objects[0] as any;
    const next = beginPass(
      spec,
      state,
      { template: stable.spec.template, replicas: 2 },
      where,
      new Date(at),
    );
    return { spec, state: next, shape: shapeOf(spec, next) };
  }

  it('switches the active Service in one step after the preview waited, then promotes after the delay', async () => {
    const first = await pass('shop/web:1');
    const { spec, state, shape } = await pass('shop/web:2', first.state);
    // Users stay on blue while the preview runs green at full size.
    expect(shape).toMatchObject({
      activeHash: first.state.stableHash,
      canaryReplicas: 2,
      weight: 0,
    });
    const live = (stable: typeof ready, preview: typeof ready) => ({
      stable,
      canary: preview,
    });
    await advance(spec, state, live(ready, notReady), passing, new Date(1000));
    expect(state.phase).toBe('progressing');
    await advance(spec, state, live(ready, ready), passing, new Date(2000));
    expect(state).toMatchObject({ phase: 'paused' });
    await advance(spec, state, live(ready, ready), passing, new Date(12_500));
    expect(shapeOf(spec, state)).toMatchObject({
      activeHash: state.canaryHash,
      stableHash: first.state.stableHash,
      weight: 100,
    });
    expect(
      await advance(spec, state, live(ready, ready), passing, new Date(20_000)),
    ).toContain('the old version scales down at');
    await advance(spec, state, live(ready, ready), passing, new Date(43_000));
    expect(state.promoting).toBe(true);
    expect(shapeOf(spec, state).stableHash).toBe(state.canaryHash);
    await advance(spec, state, live(ready, ready), passing, new Date(44_000));
    expect(state.phase).toBe('healthy');
    expect(shapeOf(spec, state)).toMatchObject({
      canaryReplicas: 0,
      weight: 0,
    });
  });

  it('is aborted by a person before the switch, leaving users on blue', async () => {
    const first = await pass('shop/web:1');
    const started = await pass('shop/web:2', first.state);
    started.state.decision = {
      action: 'abort',
      by: 'user:default/jane',
      reason: 'wrong build',
    };
    const { state, shape } = await pass('shop/web:2', started.state);
    expect(state.message).toBe('aborted by user:default/jane: wrong build');
    expect(shape).toMatchObject({
      activeHash: first.state.stableHash,
      canaryReplicas: 0,
    });
  });
});
