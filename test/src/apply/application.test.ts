/*
 * Applications on a real control plane: the seed's git-app pulls
 * first-vela-workflow from its (local) source, which then runs healthy;
 * scaling, pruning, drift, bad documents, conflicts and a no-write second
 * reconcile, all observed through the API server.
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import {
  buildManifests,
  installApplicationCrd,
  KubeClient,
  PassStoppedError,
  kustomizeComponents,
  resolveInside,
  runPipeline,
  WorkflowExecutor,
  type WorkflowExecutorOptions,
  type InventoryEntry,
  type KubeObject,
  type Project,
  type ReconcileOutcome,
  type WorkflowState,
} from '@gitops-workflow/plugin-gitops-node';
import { startCluster, type Cluster } from '../infra';

const run = promisify(execFile);
const repoRoot = path.resolve(__dirname, '../../..');
const crdFile = path.join(
  repoRoot,
  'plugins/gitops-node/crds/application.yaml',
);

const firstVelaWorkflow = (
  extraTraits = '',
  extraComponents = '',
) => `apiVersion: core.oam.dev/v1beta1
kind: Application
metadata:
  name: first-vela-workflow
  namespace: default
spec:
  components:
  - name: test-server
    type: webservice
    properties:
      # replace the imagepolicy \`default:gitops\` with your policy later
      image: 127.0.0.1:5000/gitops:master-abc1234-1700000000 # {"$imagepolicy": "default:gitops"}
      port: 8088
    traits:
    - type: ingress
      properties:
        domain: testsvc.example.com
        http:
          /: 8088${extraTraits}${extraComponents}
`;

const gitApp = `apiVersion: core.oam.dev/v1beta1
kind: Application
metadata:
  name: git-app
  namespace: default
spec:
  components:
  - name: gitops
    type: kustomize
    properties:
      repoType: git
      url: http://127.0.0.1:1/repo.git
      secretRef: my-secret
      pullInterval: 1m
      git:
        branch: master
      path: .
      imageRepository:
        image: 127.0.0.1:5000/gitops
        filterTags:
          pattern: '^master-[a-f0-9]+-(?P<ts>[0-9]+)'
          extract: '$ts'
        policy:
          numerical:
            order: asc
        commitMessage: "Image: {{range .Updated.Images}}{{println .}}{{end}}"
`;

/** These Applications install CRDs and Namespaces: the platform team's project allows it. */
const platformProject: Project = {
  name: 'platform',
  applications: {},
  sourceRepos: ['*'],
  destinations: [{ cluster: '*', namespace: '*' }],
  clusterScopedKinds: [{ group: '*', kind: '*' }],
  deniedNamespacedKinds: [],
  integrationCredentials: false,
  notificationHosts: [],
  registryTokenHosts: [],
  remoteBases: false,
  terraform: false,
};

describe('Applications on a real cluster', () => {
  let cluster: Cluster;
  let client: KubeClient;
  let workdir: string;
  /** What the backend store would persist between reconciles, per Application. */
  const inventories = new Map<string, Record<string, InventoryEntry[]>>();
  const workflows = new Map<string, WorkflowState>();
  /** Local stand-ins for Git checkouts, by component name. */
  const sources = new Map<string, string>();

  const applyYaml = (yaml: string) =>
    cluster.kubectl(['apply', '-f', '-'], { input: yaml });
  const getApp = async (name: string, namespace = 'default') =>
    (await client.get({
      group: 'core.oam.dev',
      version: 'v1beta1',
      kind: 'Application',
      namespace,
      name,
    }))!;

  type ReconcileResult = Extract<
    ReconcileOutcome,
    { kind: 'notDeployed' | 'deployed' }
  > & {
    applied?: Pick<
      Extract<ReconcileOutcome, { kind: 'deployed' }>,
      'changes' | 'drifted' | 'writes'
    >;
  };

  async function reconcile(
    name: string,
    namespace = 'default',
    cachedObject?: WorkflowExecutorOptions['cachedObject'],
  ): Promise<ReconcileResult> {
    const key = `${namespace}/${name}`;
    const executor = new WorkflowExecutor({
      clusters: [{ name: 'local', kubeconfig: cluster.kubeconfigPath }],
      clientFor: () => client,
      cachedObject,
    });
    const outcome = await runPipeline(await getApp(name, namespace), {
      home: { name: 'local', client },
      executor,
      projects: [platformProject],
      workflow: workflows.get(key),
      inventories: inventories.get(key),
      sources: async (app, into) => {
        for (const { component, props } of kustomizeComponents(
          app.spec.components,
        )) {
          const dir = sources.get(component.name);
          if (!dir) throw new Error(`no checkout for ${component.name}`);
          const built = await buildManifests(
            resolveInside(dir, props.path ?? '.'),
            { kustomizePath: cluster.binaries.kustomize },
          );
          into.manifests.set(component.name, built.objects);
        }
      },
    });
    if (outcome.kind === 'notDeployed') return outcome;
    // No Application here is deleted: a deletion pass would be a bug.
    if (outcome.kind !== 'deployed')
      throw new Error(`${key} was collected, not deployed`);
    inventories.set(key, outcome.inventories);
    workflows.set(key, outcome.workflow);
    const { changes, drifted, writes } = outcome;
    return { ...outcome, applied: { changes, drifted, writes } };
  }

  /** Reconciles, as the controller's schedule does, until the phase is reached. */
  async function reconcileUntil(
    name: string,
    phase: string,
    timeoutMs = 90_000,
  ): Promise<ReconcileResult> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const result = await reconcile(name);
      if (result.status.status === phase) return result;
      if (Date.now() > deadline) {
        throw new Error(
          `${name} did not reach ${phase}: ${JSON.stringify(result.status)}`,
        );
      }
      await new Promise(r => setTimeout(r, 500));
    }
  }

  const get = (
    kind: string,
    name: string,
    group = '',
    version = 'v1',
    namespace = 'default',
  ) => client.get({ group, version, kind, namespace, name });

  beforeAll(async () => {
    cluster = await startCluster();
    client = KubeClient.fromKubeconfigFile(cluster.kubeconfigPath);
    await installApplicationCrd(client);
    workdir = await fs.mkdtemp(path.join(os.tmpdir(), 'gitops-apply-test-'));
  });

  afterAll(async () => {
    client?.close();
    await cluster?.stop();
    if (workdir) await fs.rm(workdir, { recursive: true, force: true });
  });

  it('runs the seed: git-app applies first-vela-workflow, which becomes running and healthy', async () => {
    const repo = path.join(workdir, 'repo');
    await fs.mkdir(repo, { recursive: true });
    await fs.writeFile(path.join(repo, 'app.yaml'), firstVelaWorkflow());
    sources.set('gitops', repo);
    await applyYaml(gitApp);

    // git-app applies the Application from its source; it is not healthy before that one runs.
    const applied = await reconcile('git-app');
    expect(applied.applied!.changes).toEqual([
      expect.objectContaining({
        ref: expect.objectContaining({
          kind: 'Application',
          name: 'first-vela-workflow',
        }),
        action: 'created',
      }),
    ]);
    expect(applied.status.status).toBe('runningWorkflow');

    const inner = await reconcileUntil('first-vela-workflow', 'running');
    expect(inner.status.services).toEqual([
      {
        name: 'test-server',
        namespace: 'default',
        cluster: 'local',
        healthy: true,
        message: 'Ready:1/1',
        traits: [{ type: 'ingress', healthy: true }],
      },
    ]);

    const deployment = (await get('Deployment', 'test-server', 'apps'))!;
    expect((deployment.status as any).conditions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'Available', status: 'True' }),
      ]),
    );
    expect((deployment.spec as any).template.spec.containers[0].image).toBe(
      '127.0.0.1:5000/gitops:master-abc1234-1700000000',
    );
    const service = (await get('Service', 'test-server'))!;
    expect((service.spec as any).ports).toEqual([
      expect.objectContaining({ port: 8088, targetPort: 8088 }),
    ]);
    const ingress = (await get('Ingress', 'test-server', 'networking.k8s.io'))!;
    expect((ingress.spec as any).rules[0]).toMatchObject({
      host: 'testsvc.example.com',
      http: {
        paths: [
          {
            path: '/',
            backend: {
              service: { name: 'test-server', port: { number: 8088 } },
            },
          },
        ],
      },
    });

    const outer = await reconcileUntil('git-app', 'running');
    expect(outer.status.services).toEqual([
      {
        name: 'gitops',
        namespace: 'default',
        cluster: 'local',
        healthy: true,
        message: '',
        traits: [],
      },
    ]);

    // The status is in the cluster, where kubectl and `gitops ls` read it.
    const stored = await getApp('first-vela-workflow');
    expect((stored.status as any).status).toBe('running');
    expect(
      await cluster.kubectl([
        'get',
        'application',
        'first-vela-workflow',
        '--no-headers',
      ]),
    ).toMatch(
      /^first-vela-workflow\s+test-server\s+webservice\s+running\s+true\s+Ready:1\/1/,
    );
    const { stdout } = await run(
      process.execPath,
      [
        path.join(repoRoot, 'packages/cli/bin/gitops'),
        'ls',
        '--kubeconfig',
        cluster.kubeconfigPath,
        '-n',
        'default',
      ],
      { cwd: repoRoot },
    );
    const rows = stdout
      .trim()
      .split('\n')
      .map(line => line.split(/\s{2,}/));
    expect(rows).toEqual([
      [
        'APP',
        'COMPONENT',
        'TYPE',
        'TRAITS',
        'PHASE',
        'HEALTHY',
        'STATUS',
        'CREATED-TIME',
      ],
      [
        'first-vela-workflow',
        'test-server',
        'webservice',
        'ingress',
        'running',
        'healthy',
        'Ready:1/1',
        expect.stringMatching(/ \+0000 UTC$/),
      ],
      [
        'git-app',
        'gitops',
        'kustomize',
        'running',
        'healthy',
        expect.stringMatching(/ \+0000 UTC$/),
      ],
    ]);
  });

  it('makes no write when nothing changed (resourceVersions stay the same)', async () => {
    await reconcileUntil('first-vela-workflow', 'running');
    const refs = [...inventories.get('default/first-vela-workflow')!.local];
    const versions = async () =>
      Promise.all([
        ...refs.map(
          async ref => (await client.get(ref))!.metadata.resourceVersion,
        ),
        getApp('first-vela-workflow').then(a => a.metadata.resourceVersion),
        getApp('git-app').then(a => a.metadata.resourceVersion),
      ]);
    // Let the Deployment controller finish its own status writes first.
    let before = await versions();
    for (let i = 0; i < 20; i++) {
      await new Promise(r => setTimeout(r, 500));
      const again = await versions();
      if (JSON.stringify(again) === JSON.stringify(before)) break;
      before = again;
    }
    const inner = await reconcile('first-vela-workflow');
    const outer = await reconcile('git-app');
    expect(inner.applied!.writes).toBe(0);
    expect(outer.applied!.writes).toBe(0);
    expect(inner.applied!.changes.map(c => c.action)).toEqual([
      'unchanged',
      'unchanged',
      'unchanged',
    ]);
    expect(await versions()).toEqual(before);
  });

  it('reads the objects a watch cache holds from it, not from the API server', async () => {
    const refs = [...inventories.get('default/first-vela-workflow')!.local];
    const copies = new Map<string, KubeObject>();
    for (const ref of refs)
      copies.set(ref.name + ref.kind, (await client.get(ref))!);
    const asked: string[] = [];
    const reads = jest.spyOn(client, 'get');
    try {
      const result = await reconcile(
        'first-vela-workflow',
        'default',
        (clusterName, ref) => {
          asked.push(`${clusterName}/${ref.kind}/${ref.name}`);
          return copies.get(ref.name + ref.kind);
        },
      );
      expect(result.status.status).toBe('running');
      expect(result.applied!.writes).toBe(0);
      expect(asked.sort()).toEqual(
        refs.map(r => `local/${r.kind}/${r.name}`).sort(),
      );
      const objectReads = reads.mock.calls.filter(([ref]) =>
        refs.some(r => r.kind === ref.kind && r.name === ref.name),
      );
      expect(objectReads).toEqual([]);
    } finally {
      reads.mockRestore();
    }
  });

  it('creates what a current watch cache does not hold without reading it first, and checks what the dry-run finds existing', async () => {
    const settings = (
      app: string,
      configMap: string,
    ) => `apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: ${app}, namespace: default}
spec:
  components:
  - name: settings
    type: k8s-objects
    properties:
      objects:
      - apiVersion: v1
        kind: ConfigMap
        metadata: {name: ${configMap}}
        data: {owner: ${app}}
`;
    // The cache is current and holds none of these objects: it answers null.
    const nothingCached = () => null;
    const reads = jest.spyOn(client, 'get');
    const readsOf = (name: string) =>
      reads.mock.calls.filter(([ref]) => ref.name === name).length;
    try {
      // New: created with a dry-run and an apply, no read.
      await applyYaml(settings('cache-new', 'cache-new-settings'));
      const created = await reconcile('cache-new', 'default', nothingCached);
      expect(created.status.status).toBe('running');
      expect(created.applied!.changes).toEqual([
        expect.objectContaining({ action: 'created' }),
      ]);
      expect(readsOf('cache-new-settings')).toBe(0);
      expect((await get('ConfigMap', 'cache-new-settings'))!.data).toEqual({
        owner: 'cache-new',
      });

      // Made by hand, so the cache (only Applications' objects) never held it:
      // found by the dry-run, read, and taken over as without a cache.
      await applyYaml(
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cache-adopted-settings, namespace: default}\ndata: {owner: kubectl}\n',
      );
      await applyYaml(settings('cache-adopter', 'cache-adopted-settings'));
      const adopted = await reconcile(
        'cache-adopter',
        'default',
        nothingCached,
      );
      expect(adopted.status.status).toBe('running');
      expect(adopted.applied!.changes).toEqual([
        expect.objectContaining({ action: 'configured' }),
      ]);
      expect(readsOf('cache-adopted-settings')).toBe(1);

      // A lagging cache does not hide another Application's object.
      await applyYaml(settings('cache-thief', 'cache-new-settings'));
      const refused = await reconcile('cache-thief', 'default', nothingCached);
      expect(refused.status.status).toBe('workflowFailed');
      expect(
        refused.status.conditions!.find(c => c.type === 'Applied'),
      ).toMatchObject({
        reason: 'Conflict',
        message:
          'ConfigMap default/cache-new-settings belongs to Application default/cache-new; Application default/cache-thief cannot take it over',
      });
      expect((await get('ConfigMap', 'cache-new-settings'))!.data).toEqual({
        owner: 'cache-new',
      });
    } finally {
      reads.mockRestore();
    }
  });

  it('rolls out a scaler change', async () => {
    await applyYaml(
      firstVelaWorkflow(`
    - type: scaler
      properties:
        replicas: 3`),
    );
    const first = await reconcile('first-vela-workflow');
    expect(
      first.applied!.changes.find(c => c.ref.kind === 'Deployment'),
    ).toMatchObject({
      action: 'configured',
      changedFields: expect.arrayContaining(['spec.replicas']),
    });
    const result = await reconcileUntil('first-vela-workflow', 'running');
    expect(result.status.services![0]).toMatchObject({
      healthy: true,
      message: 'Ready:3/3',
    });
    const deployment = (await get('Deployment', 'test-server', 'apps'))!;
    expect(deployment.status).toMatchObject({
      readyReplicas: 3,
      availableReplicas: 3,
      updatedReplicas: 3,
    });
  });

  it('corrects drift and says so', async () => {
    await cluster.kubectl(['scale', 'deployment/test-server', '--replicas=5']);
    const result = await reconcile('first-vela-workflow');
    expect(result.applied!.drifted).toEqual([
      {
        group: 'apps',
        version: 'v1',
        kind: 'Deployment',
        namespace: 'default',
        name: 'test-server',
      },
    ]);
    expect(
      result.status.conditions!.find(c => c.type === 'Applied'),
    ).toMatchObject({
      status: 'True',
      reason: 'DriftCorrected',
      message:
        'Changed outside Git and restored: Deployment default/test-server',
    });
    expect(
      ((await get('Deployment', 'test-server', 'apps'))!.spec as any).replicas,
    ).toBe(3);
  });

  it('prunes what left the Application, and nothing that was never in its inventory', async () => {
    const withExtra = `
  - name: settings
    type: k8s-objects
    properties:
      objects:
      - apiVersion: v1
        kind: ConfigMap
        metadata: {name: test-server-settings}
        data: {LEVEL: debug}`;
    await applyYaml(firstVelaWorkflow('', withExtra));
    await reconcile('first-vela-workflow');
    expect(await get('ConfigMap', 'test-server-settings')).toBeDefined();
    // Carries the Application's labels but was never applied by it.
    await applyYaml(`apiVersion: v1
kind: ConfigMap
metadata:
  name: hand-made
  namespace: default
  labels: {app.oam.dev/name: first-vela-workflow, app.oam.dev/namespace: default}
`);

    await applyYaml(firstVelaWorkflow());
    const result = await reconcile('first-vela-workflow');
    expect(
      result
        .applied!.changes.filter(c => c.action === 'pruned')
        .map(c => c.ref.name),
    ).toEqual(['test-server-settings']);
    expect(await get('ConfigMap', 'test-server-settings')).toBeUndefined();
    expect(await get('ConfigMap', 'hand-made')).toBeDefined();

    // With the store's inventory lost, the copy in status.appliedResources still prunes.
    await applyYaml(firstVelaWorkflow('', withExtra));
    await reconcile('first-vela-workflow');
    expect(await get('ConfigMap', 'test-server-settings')).toBeDefined();
    inventories.delete('default/first-vela-workflow');
    workflows.delete('default/first-vela-workflow');
    await applyYaml(firstVelaWorkflow());
    const fromStatus = await reconcile('first-vela-workflow');
    expect(
      fromStatus
        .applied!.changes.filter(c => c.action === 'pruned')
        .map(c => c.ref.name),
    ).toEqual(['test-server-settings']);
    expect(await get('ConfigMap', 'test-server-settings')).toBeUndefined();
    // The scaler left too: back to one replica.
    await reconcileUntil('first-vela-workflow', 'running');
    expect(
      ((await get('Deployment', 'test-server', 'apps'))!.spec as any).replicas,
    ).toBe(1);
  });

  it('applies nothing from a source with a malformed document, and says which file and why', async () => {
    const repo = path.join(workdir, 'broken');
    await fs.mkdir(path.join(repo, 'nested'), { recursive: true });
    await fs.writeFile(
      path.join(repo, 'a-good.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: broken-good}\n',
    );
    await fs.writeFile(
      path.join(repo, 'nested/bad.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n   labels: oops\n',
    );
    sources.set('broken-source', repo);
    await applyYaml(
      gitApp
        .replace(/git-app/g, 'broken-app')
        .replace('name: gitops', 'name: broken-source'),
    );

    const result = await reconcile('broken-app');
    expect(result.status.status).toBe('rendering');
    const render = result.status.conditions!.find(c => c.type === 'Render')!;
    expect(render).toMatchObject({ status: 'False', reason: 'RenderFailed' });
    expect(render.message).toMatch(/^nested\/bad\.yaml, document 1: /);
    expect(await get('ConfigMap', 'broken-good')).toBeUndefined();
    expect(
      ((await getApp('broken-app')).status as any).conditions[1].message,
    ).toBe(render.message);

    // A document the API server rejects: nothing of the set is written either.
    await fs.rm(path.join(repo, 'nested'), { recursive: true });
    await fs.writeFile(
      path.join(repo, 'b-invalid.yaml'),
      'apiVersion: v1\nkind: Service\nmetadata: {name: broken-svc}\nspec:\n  ports: [{port: 70000}]\n',
    );
    const rejected = await reconcile('broken-app');
    expect(rejected.status.status).toBe('workflowFailed');
    expect(
      rejected.status.conditions!.find(c => c.type === 'Applied'),
    ).toMatchObject({
      status: 'False',
      reason: 'ApplyFailed',
      message: expect.stringMatching(
        /^Service default\/broken-svc was rejected by the API server: .*70000/,
      ),
    });
    expect(await get('ConfigMap', 'broken-good')).toBeUndefined();
  });

  it('refuses to take over an object another Application owns', async () => {
    const claim = (app: string) => `apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: ${app}, namespace: default}
spec:
  components:
  - name: shared
    type: k8s-objects
    properties:
      objects:
      - apiVersion: v1
        kind: ConfigMap
        metadata: {name: shared-settings}
        data: {owner: ${app}}
`;
    await applyYaml(claim('team-a'));
    await applyYaml(claim('team-b'));
    expect((await reconcile('team-a')).status.status).toBe('running');
    const result = await reconcile('team-b');
    expect(result.status.status).toBe('workflowFailed');
    expect(
      result.status.conditions!.find(c => c.type === 'Applied'),
    ).toMatchObject({
      status: 'False',
      reason: 'Conflict',
      message:
        'ConfigMap default/shared-settings belongs to Application default/team-a; Application default/team-b cannot take it over',
    });
    const shared = (await get('ConfigMap', 'shared-settings'))!;
    expect(shared.data).toEqual({ owner: 'team-a' });
    expect(shared.metadata.labels!['app.oam.dev/name']).toBe('team-a');
  });

  it('honours apply-once (drift allowed) and garbage-collect keepLegacyResource (no prune)', async () => {
    const app = (components: string) => `apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: relaxed, namespace: default}
spec:
  policies:
  - {name: once, type: apply-once, properties: {enable: true}}
  - {name: keep, type: garbage-collect, properties: {keepLegacyResource: true}}
  components:${components}
`;
    const worker = `
  - name: relaxed-worker
    type: worker
    properties: {image: 127.0.0.1:5000/worker:1}`;
    const config = `
  - name: relaxed-config
    type: k8s-objects
    properties:
      objects: [{apiVersion: v1, kind: ConfigMap, metadata: {name: relaxed-config}, data: {a: "1"}}]`;
    await applyYaml(app(worker + config));
    await reconcile('relaxed');
    await cluster.kubectl([
      'scale',
      'deployment/relaxed-worker',
      '--replicas=2',
    ]);
    const again = await reconcile('relaxed');
    expect(again.applied!.writes).toBe(0);
    expect(
      ((await get('Deployment', 'relaxed-worker', 'apps'))!.spec as any)
        .replicas,
    ).toBe(2);

    await applyYaml(app(worker));
    const removed = await reconcile('relaxed');
    expect(removed.applied!.changes.map(c => c.action)).toEqual(['unchanged']);
    expect(await get('ConfigMap', 'relaxed-config')).toBeDefined();
  });

  it('lets only the paths apply-once rules list drift, and corrects the rest', async () => {
    const app = (image: string) => `apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: autoscaled, namespace: default}
spec:
  policies:
  - name: hpa-owns-replicas
    type: apply-once
    properties:
      enable: true
      rules:
      - selector: {componentNames: [autoscaled-web], resourceTypes: [Deployment]}
        strategy: {path: [spec.replicas]}
  components:
  - name: autoscaled-web
    type: worker
    properties: {image: ${image}}
`;
    const deployment = async () =>
      (await get('Deployment', 'autoscaled-web', 'apps'))!.spec as any;
    await applyYaml(app('127.0.0.1:5000/web:1'));
    await reconcile('autoscaled');
    // An autoscaler scales up, and someone edits the image by hand.
    await cluster.kubectl([
      'scale',
      'deployment/autoscaled-web',
      '--replicas=4',
    ]);
    await cluster.kubectl([
      'set',
      'image',
      'deployment/autoscaled-web',
      'autoscaled-web=127.0.0.1:5000/web:hotfix',
    ]);
    await reconcile('autoscaled');
    expect((await deployment()).replicas).toBe(4);
    expect((await deployment()).template.spec.containers[0].image).toBe(
      '127.0.0.1:5000/web:1',
    );

    // A change in Git still rolls out, and the replicas stay the autoscaler's.
    await applyYaml(app('127.0.0.1:5000/web:2'));
    await reconcile('autoscaled');
    expect((await deployment()).replicas).toBe(4);
    expect((await deployment()).template.spec.containers[0].image).toBe(
      '127.0.0.1:5000/web:2',
    );
  });

  it('installs Namespaces and CRDs first, waits for the CRD, then applies what lives in them', async () => {
    await applyYaml(`apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: platform, namespace: default}
spec:
  components:
  - name: widgets
    type: k8s-objects
    properties:
      objects:
      - apiVersion: example.com/v1
        kind: Widget
        metadata: {name: first, namespace: widgets}
        spec: {size: 3}
      - apiVersion: v1
        kind: ConfigMap
        metadata: {name: widget-settings, namespace: widgets}
      - apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata: {name: widgets.example.com}
        spec:
          group: example.com
          names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
          scope: Namespaced
          versions:
          - name: v1
            served: true
            storage: true
            schema:
              openAPIV3Schema:
                type: object
                properties:
                  spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
      - apiVersion: v1
        kind: Namespace
        metadata: {name: widgets}
`);
    const result = await reconcile('platform');
    expect(result.failure).toBeUndefined();
    expect(
      result.applied!.changes.map(c => `${c.ref.kind}:${c.action}`),
    ).toEqual([
      'CustomResourceDefinition:created',
      'Namespace:created',
      'Widget:created',
      'ConfigMap:created',
    ]);
    const widget = await client.get({
      group: 'example.com',
      version: 'v1',
      kind: 'Widget',
      namespace: 'widgets',
      name: 'first',
    });
    expect(widget?.spec).toEqual({ size: 3 });
    expect((await get('Namespace', 'widgets'))?.metadata.labels).toMatchObject({
      'app.oam.dev/name': 'platform',
    });
    await reconcileUntil('platform', 'running');
    expect((await reconcile('platform')).applied!.writes).toBe(0);
  });

  it('connects with URL + token + CA, and a wrong token is a clear error without the token in it', async () => {
    const good = KubeClient.fromCluster({
      name: 'direct',
      url: cluster.server,
      token: cluster.token,
      caData: Buffer.from(cluster.caData).toString('base64'),
    });
    const bad = KubeClient.fromCluster({
      name: 'direct',
      url: cluster.server,
      token: 'not-the-token',
      caData: Buffer.from(cluster.caData).toString('base64'),
    });
    try {
      expect(
        (
          await good.get({
            group: '',
            version: 'v1',
            kind: 'Namespace',
            name: 'default',
          })
        )?.metadata.name,
      ).toBe('default');
      const error = await bad
        .get({ group: '', version: 'v1', kind: 'Namespace', name: 'default' })
        .catch(e => e);
      expect(error.name).toBe('AuthenticationError');
      expect(error.message).not.toContain('not-the-token');
    } finally {
      good.close();
      bad.close();
    }
  });

  it('keeps the Application CRD printer columns like KubeVela', async () => {
    const crd = parse(await fs.readFile(crdFile, 'utf8')) as KubeObject;
    const columns = (crd.spec as any).versions[0].additionalPrinterColumns.map(
      (c: any) => c.name,
    );
    expect(columns).toEqual([
      'COMPONENT',
      'TYPE',
      'PHASE',
      'HEALTHY',
      'STATUS',
      'AGE',
    ]);
  });

  it('writes nothing once its fence says stop: a lost shard or a passed deadline', async () => {
    await applyYaml(`apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: fenced, namespace: default}
spec:
  components:
  - name: settings
    type: k8s-objects
    properties:
      objects:
      - apiVersion: v1
        kind: ConfigMap
        metadata: {name: fenced-settings}
        data: {level: info}
`);
    const executor = new WorkflowExecutor({
      clusters: [{ name: 'local', kubeconfig: cluster.kubeconfigPath }],
      clientFor: () => client,
    });
    const lost = {
      signal: new AbortController().signal,
      check: async () => {
        throw new PassStoppedError('this replica no longer holds shard 0');
      },
    };
    const late = new AbortController();
    late.abort(new Error('the pass deadline passed'));
    for (const fence of [
      lost,
      { signal: late.signal, check: async () => {} },
    ]) {
      await expect(
        runPipeline(await getApp('fenced'), {
          home: { name: 'local', client },
          executor,
          projects: [platformProject],
          fence,
        }),
      ).rejects.toThrow(PassStoppedError);
      expect(await get('ConfigMap', 'fenced-settings')).toBeUndefined();
      expect((await getApp('fenced')).status).toBeUndefined();
    }
  });
});
