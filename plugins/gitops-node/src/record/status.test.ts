import { parseApplicationsYaml } from '../render/parse';
import { renderApplication } from '../render/render';
import { assessComponents } from '../assess/components';
import { computeApplicationStatus } from './status';
import { objectKey } from '../kube/objects';
import type { ApplicationStatus, KubeObject } from '../model/types';

const yaml = `
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: first-vela-workflow, namespace: default, generation: 3}
spec:
  components:
  - name: test-server
    type: webservice
    properties: {image: app:1, port: 8088}
    traits:
    - type: ingress
      properties: {domain: testsvc.example.com, http: {"/": 8088}}
`;

async function setup() {
  const [app] = parseApplicationsYaml(yaml, 'app.yaml');
  const rendered = await renderApplication(app);
  const live = new Map<string, KubeObject>();
  for (const object of rendered.objects)
    live.set(objectKey(object), structuredClone(object));
  const deployment = live.get('apps/Deployment/default/test-server')!;
  deployment.metadata.generation = 1;
  return { app, rendered, live, deployment };
}

const now = new Date('2026-01-01T00:00:00.000Z');

describe('status', () => {
  it('is running and healthy with Ready:1/1 once the Deployment is available', async () => {
    const { app, rendered, live, deployment } = await setup();
    deployment.status = {
      observedGeneration: 1,
      replicas: 1,
      updatedReplicas: 1,
      readyReplicas: 1,
      availableReplicas: 1,
      conditions: [
        {
          type: 'Progressing',
          status: 'True',
          reason: 'NewReplicaSetAvailable',
        },
        { type: 'Available', status: 'True' },
      ],
    };
    const components = assessComponents(rendered.components, live);
    const status = computeApplicationStatus({
      app,
      components,
      applied: {
        resources: [
          {
            apiVersion: 'apps/v1',
            kind: 'Deployment',
            namespace: 'default',
            name: 'test-server',
            cluster: 'local',
          },
        ],
        drifted: [],
      },
      now,
    });
    expect(status.status).toBe('running');
    expect(status.services).toEqual([
      {
        name: 'test-server',
        namespace: 'default',
        cluster: 'local',
        healthy: true,
        message: 'Ready:1/1',
        traits: [{ type: 'ingress', healthy: true }],
      },
    ]);
    expect(
      status.conditions!.map(c => `${c.type}=${c.status}/${c.reason}`),
    ).toEqual([
      'Parsed=True/Available',
      'Render=True/Available',
      'Applied=True/Available',
      'Ready=True/Available',
    ]);
    expect(status.appliedResources).toEqual([
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        namespace: 'default',
        name: 'test-server',
        cluster: 'local',
      },
    ]);
    expect(status.observedGeneration).toBe(3);
  });

  it('is runningWorkflow with Ready:0/1 while rolling out, unhealthy when something is missing', async () => {
    const { app, rendered, live } = await setup();
    let status = computeApplicationStatus({
      app,
      components: assessComponents(rendered.components, live),
      now,
    });
    expect(status.status).toBe('runningWorkflow');
    expect(status.services![0]).toMatchObject({
      healthy: false,
      message: 'Ready:0/1',
    });
    expect(status.conditions!.at(-1)).toMatchObject({
      type: 'Ready',
      status: 'False',
      reason: 'Progressing',
      message: 'test-server: Ready:0/1',
    });

    live.delete('networking.k8s.io/Ingress/default/test-server');
    status = computeApplicationStatus({
      app,
      components: assessComponents(rendered.components, live),
      now,
    });
    expect(status.status).toBe('unhealthy');
    expect(status.services![0].traits).toEqual([
      { type: 'ingress', healthy: false, message: 'Not found in the cluster' },
    ]);
  });

  it('says which stage failed and why, keeps transition times of unchanged conditions', async () => {
    const { app } = await setup();
    const first = computeApplicationStatus({
      app,
      failure: {
        stage: 'render',
        message: 'deep/bad.yaml, document 2: bad indentation',
      },
      now,
    });
    expect(first.status).toBe('rendering');
    expect(first.conditions).toEqual([
      {
        type: 'Parsed',
        status: 'True',
        reason: 'Available',
        message: '',
        lastTransitionTime: '2026-01-01T00:00:00Z',
      },
      {
        type: 'Render',
        status: 'False',
        reason: 'RenderFailed',
        message: 'deep/bad.yaml, document 2: bad indentation',
        lastTransitionTime: '2026-01-01T00:00:00Z',
      },
    ]);
    const later = computeApplicationStatus({
      app,
      failure: {
        stage: 'apply',
        reason: 'Conflict',
        message: 'owned by other',
      },
      previous: first,
      now: new Date('2026-01-02T00:00:00Z'),
    });
    expect(later.status).toBe('workflowFailed');
    expect(
      later.conditions!.map(c => [c.type, c.reason, c.lastTransitionTime]),
    ).toEqual([
      ['Parsed', 'Available', '2026-01-01T00:00:00Z'],
      ['Render', 'Available', '2026-01-02T00:00:00Z'],
      ['Applied', 'Conflict', '2026-01-02T00:00:00Z'],
    ]);
  });

  it('reports corrected drift on the Applied condition', async () => {
    const { app } = await setup();
    const status = computeApplicationStatus({
      app,
      components: [],
      applied: { resources: [], drifted: ['Deployment default/test-server'] },
      now,
    });
    expect(status.conditions![2]).toMatchObject({
      type: 'Applied',
      status: 'True',
      reason: 'DriftCorrected',
      message:
        'Changed outside Git and restored: Deployment default/test-server',
    });
  });

  it('shows the image holds with what the policy would pick, also when a pass failed', async () => {
    const { app } = await setup();
    const hold = {
      component: 'test-server',
      image: 'registry.local/gitops',
      tag: '0.1.5',
      heldBy: 'user:default/jane',
      heldAt: '2026-01-01T00:00:00.000Z',
      reason: '0.1.6 leaks memory',
      automatic: false,
      wouldPick: '0.1.6',
      wouldPickAt: '2026-01-01T00:05:00.000Z',
      digest: undefined,
    };
    const running = computeApplicationStatus({
      app,
      components: [],
      imageHolds: [hold],
      now,
    });
    const failed = computeApplicationStatus({
      app,
      failure: { stage: 'sources', message: 'Git is down' },
      imageHolds: [hold],
      now,
    });
    for (const status of [running, failed]) {
      expect(status.imageHolds).toEqual([
        {
          component: 'test-server',
          image: 'registry.local/gitops',
          tag: '0.1.5',
          heldBy: 'user:default/jane',
          heldAt: '2026-01-01T00:00:00.000Z',
          reason: '0.1.6 leaks memory',
          automatic: false,
          wouldPick: '0.1.6',
          wouldPickAt: '2026-01-01T00:05:00.000Z',
        },
      ]);
    }
    expect(
      computeApplicationStatus({ app, components: [], imageHolds: [], now }),
    ).not.toHaveProperty('imageHolds');
  });

  it('says a component was rolled back automatically, and why, while its automatic hold lasts', async () => {
    const { app } = await setup();
    const why =
      'not healthy 5m after it was applied: Deployment default/test-server: Ready:0/1';
    const automatic = {
      component: 'test-server',
      image: 'registry.local/gitops',
      tag: '0.1.5',
      heldBy: 'gitops:automatic-rollback',
      heldAt: '2026-01-01T00:00:00.000Z',
      reason: why,
      automatic: true,
      failedTag: '0.1.6',
    };
    const status = computeApplicationStatus({
      app,
      components: [],
      imageHolds: [automatic],
      now,
    });
    expect(status.conditions).toContainEqual({
      type: 'ImageRollback',
      status: 'True',
      reason: 'AutomaticRollback',
      message: `test-server: 0.1.6 was rolled back automatically to 0.1.5: ${why}. Its image automation holds 0.1.5 until a person releases the hold`,
      lastTransitionTime: '2026-01-01T00:00:00Z',
    });
    // A person's hold is theirs to explain; released, the condition goes.
    for (const imageHolds of [[{ ...automatic, automatic: false }], []]) {
      expect(
        computeApplicationStatus({ app, components: [], imageHolds, now })
          .conditions,
      ).not.toContainEqual(expect.objectContaining({ type: 'ImageRollback' }));
    }
  });

  it('dates Ready=True when the objects became ready, not when the pass saw them', async () => {
    const { app } = await setup();
    const testServer = (healthy: boolean) => ({
      name: 'test-server',
      type: 'webservice',
      status: healthy ? ('Current' as const) : ('InProgress' as const),
      healthy,
      message: healthy ? 'Ready:1/1' : 'Ready:0/1',
      traits: [],
    });
    const readyAt = (
      previous: ApplicationStatus,
      readySince: string,
      at: string,
    ) =>
      computeApplicationStatus({
        app,
        components: [testServer(true)],
        previous,
        readySince,
        now: new Date(at),
      }).conditions!.find(c => c.type === 'Ready')!.lastTransitionTime;
    const rolling = computeApplicationStatus({
      app,
      components: [testServer(false)],
      now,
    });
    // The Deployment finished at 00:00:09; the pass came by at 00:00:20.
    expect(
      readyAt(rolling, '2026-01-01T00:00:09.000Z', '2026-01-01T00:00:20Z'),
    ).toBe('2026-01-01T00:00:09Z');
    // A readiness from before the rollout began is an earlier one's: the pass's time stands.
    expect(
      readyAt(rolling, '2025-12-31T23:00:00.000Z', '2026-01-01T00:00:20Z'),
    ).toBe('2026-01-01T00:00:20Z');
    // Ready all along as far as the passes saw (a rollout between two
    // passes): a newer readiness is a new transition; the same one is not.
    const ready = computeApplicationStatus({
      app,
      components: [testServer(true)],
      now,
    });
    expect(
      readyAt(ready, '2026-01-01T00:00:40.000Z', '2026-01-01T00:01:00Z'),
    ).toBe('2026-01-01T00:00:40Z');
    expect(
      readyAt(ready, '2025-12-31T23:00:00.000Z', '2026-01-01T00:01:00Z'),
    ).toBe('2026-01-01T00:00:00Z');
  });
});
