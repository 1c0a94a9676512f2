import type { StepContext } from '../definitions/registry';
import { createBuiltinDefinitions } from '../definitions/builtins';
import { parseApplication } from '../render/parse';
import { builtinStepTypes } from './steps';

const deploy = builtinStepTypes.find(s => s.type === 'deploy')!;

function context(
  traits: unknown[],
  waitingOn: Set<string>,
  deployed: string[],
): StepContext {
  const app = parseApplication({
    apiVersion: 'core.oam.dev/v1beta1',
    kind: 'Application',
    metadata: { name: 'shop', namespace: 'default' },
    spec: {
      components: [
        {
          name: 'web',
          type: 'webservice',
          properties: {
            image: 'shop/web:1',
            ports: [{ port: 80, expose: true }],
          },
          traits,
        },
      ],
      policies: [
        {
          name: 'both',
          type: 'topology',
          properties: { clusters: ['eu', 'us'] },
        },
      ],
      workflow: {
        steps: [
          { name: 'ship', type: 'deploy', properties: { policies: ['both'] } },
        ],
      },
    },
  });
  return {
    app,
    step: app.spec.workflow!.steps[0],
    where: 'step "ship"',
    revision: 1,
    steps: [],
    clusters: [{ name: 'eu' }, { name: 'us' }] as StepContext['clusters'],
    localCluster: 'eu',
    definitions: createBuiltinDefinitions(),
    httpTimeoutMs: 1000,
    deploy: async (_components, targets) => {
      const cluster = targets[0].cluster.name;
      deployed.push(cluster);
      return waitingOn.has(cluster) ? [`web on ${cluster}: canary at 20%`] : [];
    },
  };
}

describe('the deploy step', () => {
  const canary = {
    type: 'kruise-rollout',
    properties: {
      canary: { steps: [{ weight: 50 }], trafficRoutings: [{ gateway: {} }] },
    },
  };

  it('rolls a progressive rollout out one cluster after the other', async () => {
    const deployed: string[] = [];
    const outcome = await deploy.run!(
      context([canary], new Set(['eu']), deployed),
    );
    expect(deployed).toEqual(['eu']);
    expect(outcome).toMatchObject({ phase: 'running' });
    const next: string[] = [];
    const done = await deploy.run!(context([canary], new Set(), next));
    expect(next).toEqual(['eu', 'us']);
    expect(done).toMatchObject({
      phase: 'succeeded',
      message: 'healthy on eu, us',
    });
  });

  it('deploys to every cluster at once without one', async () => {
    const deployed: string[] = [];
    await deploy.run!(context([], new Set(['eu']), deployed));
    expect(deployed.sort()).toEqual(['eu', 'us']);
  });
});
