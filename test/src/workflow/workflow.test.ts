/*
 * The delivery workflow on two real clusters: staging first, a manual
 * suspend that survives a restart, then prod with an override; a failing DAG
 * step whose `if: always` notification reaches a real HTTP listener; a
 * timeout; a rollback that restores an earlier revision's objects and
 * stays until released.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse } from 'yaml';
import {
  KubeClient,
  parseApplication,
  releaseRollback,
  resumeWorkflow,
  rollbackTo,
  WorkflowExecutor,
  type Application,
  type ClusterConnectionConfig,
  type WorkflowPassResult,
  type WorkflowState,
} from '@gitops-workflow/plugin-gitops-node';
import { startCluster, type Cluster } from '../infra';

const app = (yaml: string): Application => parseApplication(parse(yaml));

const deliveryApp = app(`
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: { name: shop, namespace: default }
spec:
  components:
  - name: web
    type: webservice
    properties:
      image: 127.0.0.1:5000/shop:1.0.0
      port: 8080
      replicas: 1
      env: [{ name: STAGE, value: staging }]
  policies:
  - name: staging
    type: topology
    properties: { clusters: [staging] }
  - name: prod
    type: topology
    properties: { clusters: [prod] }
  - name: prod-override
    type: override
    properties:
      components:
      - name: web
        properties:
          replicas: 3
          env: [{ name: STAGE, value: production }]
  workflow:
    steps:
    - name: deploy-staging
      type: deploy
      properties: { policies: [staging] }
    - name: manual-approval
      type: suspend
    - name: deploy-prod
      type: deploy
      properties: { policies: [prod, prod-override] }
`);

describe('delivery workflow on two clusters', () => {
  let staging: Cluster;
  let prod: Cluster;
  let clusters: ClusterConnectionConfig[];
  const clients: KubeClient[] = [];

  beforeAll(async () => {
    [staging, prod] = await Promise.all([
      startCluster({ name: 'staging' }),
      startCluster({ name: 'prod' }),
    ]);
    clusters = [
      {
        name: 'staging',
        kubeconfig: staging.kubeconfigPath,
        labels: { env: 'staging', region: 'eu' },
      },
      {
        name: 'prod',
        kubeconfig: prod.kubeconfigPath,
        labels: { env: 'prod', region: 'eu' },
      },
    ];
    clients.push(
      KubeClient.fromKubeconfigFile(staging.kubeconfigPath),
      KubeClient.fromKubeconfigFile(prod.kubeconfigPath),
    );
  });

  afterAll(async () => {
    clients.forEach(c => c.close());
    await Promise.all([staging?.stop(), prod?.stop()]);
  });

  const deployment = (client: KubeClient, name: string) =>
    client.get({
      group: 'apps',
      version: 'v1',
      kind: 'Deployment',
      namespace: 'default',
      name,
    });
  const configMap = (client: KubeClient, name: string) =>
    client.get({
      group: '',
      version: 'v1',
      kind: 'ConfigMap',
      namespace: 'default',
      name,
    });

  /** What the backend's store keeps beside the workflow state: each Application's inventories. */
  const inventories = new Map<string, WorkflowPassResult['inventories']>();
  /** One pass, from a state and the inventories stored with it (none for a first run), as the backend runs it. */
  async function pass(
    executor: WorkflowExecutor,
    application: Application,
    state?: WorkflowState,
  ): Promise<WorkflowPassResult> {
    const name = application.metadata.name;
    const result = await executor.run(application, state, {
      inventories: state ? inventories.get(name) : undefined,
    });
    inventories.set(name, result.inventories);
    return result;
  }

  /** Runs passes, as the backend's schedule does, until the phase is reached. */
  async function runUntil(
    executor: WorkflowExecutor,
    application: Application,
    state: WorkflowState | undefined,
    phase: string,
    timeoutMs = 60_000,
  ): Promise<WorkflowPassResult> {
    const deadline = Date.now() + timeoutMs;
    let current = state;
    for (;;) {
      const result = await pass(executor, application, current);
      if (result.phase === phase) return result;
      current = result.state;
      if (Date.now() > deadline)
        throw new Error(
          `not ${phase}: ${JSON.stringify(result.status.workflow)}`,
        );
      await new Promise(r => setTimeout(r, 300));
    }
  }

  it('deploys to staging, waits for a resume that survives a restart, then deploys prod with its override', async () => {
    const first = new WorkflowExecutor({ clusters });
    const suspended = await runUntil(
      first,
      deliveryApp,
      undefined,
      'workflowSuspending',
    );
    first.close();

    expect(suspended.status.workflow.steps.map(s => [s.name, s.phase])).toEqual(
      [
        ['deploy-staging', 'succeeded'],
        ['manual-approval', 'suspending'],
        ['deploy-prod', 'pending'],
      ],
    );
    const onStaging = await deployment(clients[0], 'web');
    expect((onStaging!.spec as any).replicas).toBe(1);
    expect(await deployment(clients[1], 'web')).toBeUndefined();

    // A restart: a new executor from the persisted state, through JSON.
    const persisted = JSON.parse(
      JSON.stringify(suspended.state),
    ) as WorkflowState;
    const restarted = new WorkflowExecutor({ clusters });
    const still = await pass(restarted, deliveryApp, persisted);
    expect(still.phase).toBe('workflowSuspending');
    expect(await deployment(clients[1], 'web')).toBeUndefined();

    expect(() => resumeWorkflow(still.state, 'deploy-prod')).toThrow(
      /not a suspended step/,
    );
    const resumed = resumeWorkflow(still.state, 'manual-approval');
    const done = await runUntil(restarted, deliveryApp, resumed, 'running');

    const onProd = (await deployment(clients[1], 'web'))!.spec as any;
    expect(onProd.replicas).toBe(3);
    expect(onProd.template.spec.containers[0].env).toEqual([
      { name: 'STAGE', value: 'production' },
    ]);
    const stagingAfter = (await deployment(clients[0], 'web'))!.spec as any;
    expect(stagingAfter.template.spec.containers[0].env).toEqual([
      { name: 'STAGE', value: 'staging' },
    ]);
    expect(done.status.workflow.steps.map(s => s.phase)).toEqual([
      'succeeded',
      'succeeded',
      'succeeded',
    ]);
    expect(done.status.services).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          name: 'web',
          cluster: 'prod',
          healthy: true,
          message: 'Ready:3/3',
        }),
      ]),
    );
    expect(Object.keys(done.inventories).sort()).toEqual(['prod', 'staging']);

    // Done, the workflow keeps its state: a hand edit on prod is taken back, and
    // the Application is unhealthy until the replicas are Available again.
    await prod.kubectl(['scale', 'deployment/web', '--replicas=1']);
    const kept = await runUntil(restarted, deliveryApp, done.state, 'running');
    expect(((await deployment(clients[1], 'web'))!.spec as any).replicas).toBe(
      3,
    );
    expect(kept.state.steps).toEqual(done.state.steps);
    expect(kept.status.services!.map(s => s.cluster).sort()).toEqual([
      'prod',
      'staging',
    ]);
    restarted.close();
  });

  it('runs the if: always notification of a DAG whose step fails, and a real listener receives it', async () => {
    const received: unknown[] = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', chunk => (body += chunk));
      req.on('end', () => {
        received.push({
          type: req.headers['content-type'],
          body: JSON.parse(body),
        });
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${
      (server.address() as AddressInfo).port
    }/hook`;
    const executor = new WorkflowExecutor({
      clusters,
      localCluster: 'staging',
    });
    try {
      const dag = app(`
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: { name: dag, namespace: default }
spec:
  components:
  - name: good
    type: k8s-objects
    properties:
      objects:
      - { apiVersion: v1, kind: ConfigMap, metadata: { name: dag-good }, data: { a: "1" } }
  - name: bad
    type: k8s-objects
    properties:
      objects:
      # The API server refuses it (422): a Service port above 65535.
      - { apiVersion: v1, kind: Service, metadata: { name: dag-bad }, spec: { ports: [{ port: 99999999 }] } }
  workflow:
    mode: { steps: DAG }
    steps:
    - { name: apply-good, type: apply-component, properties: { component: good } }
    - { name: apply-bad, type: apply-component, properties: { component: bad } }
    - name: after-bad
      type: apply-component
      dependsOn: [apply-bad]
      properties: { component: good }
    - name: tell-the-team
      type: notification
      if: always
      dependsOn: [apply-good, apply-bad]
      properties:
        webhook: { url: "${url}" }
`);
      const result = await runUntil(executor, dag, undefined, 'workflowFailed');
      const phases = Object.fromEntries(
        result.status.workflow.steps.map(s => [s.name, [s.phase, s.reason]]),
      );
      expect(phases).toEqual({
        'apply-good': ['succeeded', undefined],
        'apply-bad': ['failed', 'ApplyFailed'],
        'after-bad': ['skipped', 'Skip'],
        'tell-the-team': ['succeeded', undefined],
      });
      expect(received).toEqual([
        {
          type: 'application/json',
          body: {
            text: expect.stringMatching(
              /default\/dag .*apply-bad: failed \(ApplyFailed\)/,
            ),
          },
        },
      ]);
      expect(await configMap(clients[0], 'dag-good')).toBeDefined();
      expect(
        await clients[0].get({
          group: '',
          version: 'v1',
          kind: 'Service',
          namespace: 'default',
          name: 'dag-bad',
        }),
      ).toBeUndefined();
    } finally {
      executor.close();
      await new Promise(resolve => server.close(resolve));
    }
  });

  it('fails a step that outlives its timeout with reason Timeout and skips what follows', async () => {
    const executor = new WorkflowExecutor({
      clusters,
      localCluster: 'staging',
    });
    const timed = app(`
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: { name: timed, namespace: default }
spec:
  components:
  - name: cfg
    type: k8s-objects
    properties:
      objects: [{ apiVersion: v1, kind: ConfigMap, metadata: { name: timed-cfg }, data: { a: "1" } }]
  workflow:
    steps:
    - { name: wait-for-approval, type: suspend, timeout: 2s }
    - { name: deploy, type: deploy }
`);
    const started = Date.now();
    const result = await runUntil(
      executor,
      timed,
      undefined,
      'workflowFailed',
      20_000,
    );
    executor.close();
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
    expect(result.status.workflow.steps).toEqual([
      expect.objectContaining({
        name: 'wait-for-approval',
        phase: 'failed',
        reason: 'Timeout',
      }),
      expect.objectContaining({ name: 'deploy', phase: 'skipped' }),
    ]);
    expect(await configMap(clients[0], 'timed-cfg')).toBeUndefined();
  });

  it('rolls back to an earlier revision and restores its objects', async () => {
    const executor = new WorkflowExecutor({
      clusters,
      localCluster: 'staging',
    });
    const version = (value: string) =>
      app(`
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: { name: settings, namespace: default }
spec:
  components:
  - name: cfg
    type: k8s-objects
    properties:
      objects: [{ apiVersion: v1, kind: ConfigMap, metadata: { name: settings }, data: { greeting: "${value}" } }]
`);
    const one = await runUntil(
      executor,
      version('hello'),
      undefined,
      'running',
    );
    expect(one.state.revision).toBe(1);
    const two = await runUntil(
      executor,
      version('bonjour'),
      one.state,
      'running',
    );
    expect(two.state.revision).toBe(2);
    expect((await configMap(clients[0], 'settings'))!.data).toEqual({
      greeting: 'bonjour',
    });

    const back = await runUntil(
      executor,
      version('bonjour'),
      rollbackTo(two.state, 1),
      'running',
    );
    expect(back.state.revision).toBe(1);
    expect(back.status.workflow.appRevision).toBe('settings-v1');
    expect((await configMap(clients[0], 'settings'))!.data).toEqual({
      greeting: 'hello',
    });

    // The rollback stays pinned, even when the spec changes, until released.
    const again = await pass(executor, version('hallo'), back.state);
    expect(again.state.revision).toBe(1);
    expect((await configMap(clients[0], 'settings'))!.data).toEqual({
      greeting: 'hello',
    });
    const three = await runUntil(
      executor,
      version('hallo'),
      releaseRollback(again.state),
      'running',
    );
    executor.close();
    expect(three.state.revision).toBe(3);
    expect((await configMap(clients[0], 'settings'))!.data).toEqual({
      greeting: 'hallo',
    });
  });

  it('without a workflow deploys every component to the selected clusters, a dependsOn level at a time', async () => {
    const executor = new WorkflowExecutor({ clusters });
    const ordered = app(`
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: { name: ordered, namespace: default }
spec:
  components:
  - name: api
    type: webservice
    dependsOn: [db]
    properties: { image: 127.0.0.1:5000/api:1, port: 80 }
  - name: db
    type: webservice
    properties: { image: 127.0.0.1:5000/db:1, port: 5432 }
  policies:
  - name: eu
    type: topology
    properties: { clusterLabelSelector: { region: eu } }
`);
    const first = await pass(executor, ordered);
    // db was just created and is not Available yet, so api waits.
    expect(first.status.workflow.steps[0]).toMatchObject({
      name: 'deploy',
      phase: 'running',
      message: expect.stringContaining('db on staging'),
    });
    for (const client of clients) {
      expect(await deployment(client, 'db')).toBeDefined();
      expect(await deployment(client, 'api')).toBeUndefined();
    }
    const done = await runUntil(executor, ordered, first.state, 'running');
    executor.close();
    for (const client of clients)
      expect(await deployment(client, 'api')).toBeDefined();
    expect(
      done.status.services!.map(s => `${s.cluster}/${s.name}`).sort(),
    ).toEqual(['prod/api', 'prod/db', 'staging/api', 'staging/db']);
  });

  it('runs a step-group whose sub-steps apply to both clusters', async () => {
    const executor = new WorkflowExecutor({ clusters });
    const grouped = app(`
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: { name: grouped, namespace: default }
spec:
  components:
  - name: cfg
    type: k8s-objects
    properties:
      objects: [{ apiVersion: v1, kind: ConfigMap, metadata: { name: grouped-cfg }, data: { a: "1" } }]
  workflow:
    steps:
    - name: everywhere
      type: step-group
      subSteps:
      - { name: to-staging, type: apply-component, properties: { component: cfg, cluster: staging } }
      - { name: to-prod, type: apply-component, properties: { component: cfg, cluster: prod } }
`);
    const done = await runUntil(executor, grouped, undefined, 'running');
    executor.close();
    expect(done.status.workflow.steps).toEqual([
      expect.objectContaining({
        name: 'everywhere',
        phase: 'succeeded',
        subSteps: [
          expect.objectContaining({ name: 'to-staging', phase: 'succeeded' }),
          expect.objectContaining({ name: 'to-prod', phase: 'succeeded' }),
        ],
      }),
    ]);
    for (const client of clients)
      expect(await configMap(client, 'grouped-cfg')).toBeDefined();
  });

  it('fails a deploy to an unknown cluster naming its policy, and a notification the webhook refuses', async () => {
    const server = http.createServer((_req, res) => res.writeHead(400).end());
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const executor = new WorkflowExecutor({ clusters });
    try {
      const broken = app(`
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: { name: broken, namespace: default }
spec:
  components:
  - name: cfg
    type: k8s-objects
    properties:
      objects: [{ apiVersion: v1, kind: ConfigMap, metadata: { name: broken-cfg } }]
  policies:
  - name: moon
    type: topology
    properties: { clusters: [moon-base] }
  workflow:
    steps:
    - { name: to-the-moon, type: deploy, properties: { policies: [moon] } }
    - name: page-someone
      type: notification
      if: status.to-the-moon.failed
      properties: { webhook: { url: { value: "http://127.0.0.1:${port}/secret-token-path" } } }
`);
      const result = await runUntil(
        executor,
        broken,
        undefined,
        'workflowFailed',
      );
      expect(result.status.workflow.steps).toEqual([
        expect.objectContaining({
          phase: 'failed',
          reason: 'PolicyFailed',
          message: expect.stringContaining(
            'topology policy "moon" names cluster "moon-base", which is not configured (clusters: staging, prod)',
          ),
        }),
        expect.objectContaining({
          phase: 'failed',
          reason: 'NotificationFailed',
          message: 'the webhook answered HTTP 400',
        }),
      ]);
      // Webhook URLs carry tokens: none of it shows in the status.
      expect(JSON.stringify(result.status)).not.toContain('secret-token-path');
    } finally {
      executor.close();
      await new Promise(resolve => server.close(resolve));
    }
  });

  it("puts objects in the topology's namespace and keeps legacy objects under garbage-collect", async () => {
    await staging.kubectl(['create', 'namespace', 'team-a']);
    const executor = new WorkflowExecutor({ clusters });
    const spec = (components: string[]) =>
      app(`
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: { name: placed, namespace: default }
spec:
  components:
${components
  .map(
    name => `  - name: ${name}
    type: k8s-objects
    properties:
      objects: [{ apiVersion: v1, kind: ConfigMap, metadata: { name: placed-${name} } }]`,
  )
  .join('\n')}
  policies:
  - name: team-a
    type: topology
    properties: { clusters: [staging], namespace: team-a }
  - name: keep
    type: garbage-collect
    properties: { keepLegacyResource: true }
`);
    const inTeamA = (name: string) =>
      clients[0].get({
        group: '',
        version: 'v1',
        kind: 'ConfigMap',
        namespace: 'team-a',
        name,
      });
    const first = await runUntil(
      executor,
      spec(['one', 'two']),
      undefined,
      'running',
    );
    expect(await inTeamA('placed-one')).toBeDefined();
    expect(await configMap(clients[0], 'placed-one')).toBeUndefined();
    expect(
      first.status.services!.map(s => `${s.cluster}/${s.namespace}/${s.name}`),
    ).toEqual(['staging/team-a/one', 'staging/team-a/two']);
    // Ownership stays with the Application in its own namespace.
    expect((await inTeamA('placed-one'))!.metadata.labels).toMatchObject({
      'app.oam.dev/name': 'placed',
      'app.oam.dev/namespace': 'default',
    });

    const second = await runUntil(
      executor,
      spec(['one']),
      first.state,
      'running',
    );
    expect(await inTeamA('placed-two')).toBeDefined();

    // Without garbage-collect, what leaves the spec leaves the cluster.
    const withoutKeep = (components: string[]) => {
      const application = spec(components);
      application.spec.policies = application.spec.policies.filter(
        p => p.type !== 'garbage-collect',
      );
      return application;
    };
    const third = await runUntil(
      executor,
      withoutKeep(['one', 'three']),
      second.state,
      'running',
    );
    expect(await inTeamA('placed-three')).toBeDefined();
    await runUntil(executor, withoutKeep(['one']), third.state, 'running');
    executor.close();
    expect(await inTeamA('placed-three')).toBeUndefined();
    expect(await inTeamA('placed-one')).toBeDefined();
  });
});
