import { Entity } from '@backstage/catalog-model';
import { ResponseError } from '@backstage/errors';
import {
  EntityProvider,
  entityRouteRef,
} from '@backstage/plugin-catalog-react';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import { permissionApiRef } from '@backstage/plugin-permission-react';
import { waitFor, within } from '@testing-library/react';
import { SWRConfig } from 'swr';
import {
  MockPermissionApi,
  renderInTestApp,
  TestApiProvider,
} from '@backstage/test-utils';
import {
  ApplicationDetails,
  DiffPreview,
  AuditEntry,
  CloudResourceStatus,
  doraFigures,
  ImageHistoryEntry,
  ImageHold,
  ReconcileRun,
  ResourceTree,
  RolloutStatus,
  SyncConfiguration,
  TimelineResponse,
} from '@gitops-workflow/plugin-gitops-common';
import { GitopsApi, gitopsApiRef } from '../../../api';
import { EntityGitopsContent } from '../EntityGitopsContent';

/* Fixtures and a render helper for the GitOps tab's component tests. */

export const SHA = '3f1c2a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a';

export const entity = (annotations: Record<string, string> = {}): Entity => ({
  apiVersion: 'backstage.io/v1alpha1',
  kind: 'Component',
  metadata: { name: 'first-vela-workflow', annotations },
  spec: {},
});
export const annotated = entity({
  'gitops-workflow.io/application': 'default/first-vela-workflow',
});

export const app: ApplicationDetails = {
  cluster: 'local',
  namespace: 'default',
  name: 'first-vela-workflow',
  createdAt: '2026-11-23T10:00:00Z',
  components: [
    {
      name: 'test-server',
      type: 'webservice',
      traits: ['ingress'],
      images: ['registry.local/test-server:1.0.1'],
    },
    {
      name: 'deploy',
      type: 'kustomize',
      traits: [],
      imagesUnknown:
        'None of its objects runs containers (ConfigMap default/settings)',
    },
  ],
  phase: 'running',
  services: [
    {
      name: 'test-server',
      namespace: 'default',
      healthy: true,
      message: 'Ready:1/1',
    },
    { name: 'deploy', namespace: 'default', healthy: true },
  ],
  conditions: [],
  resources: {
    'test-server': [
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        namespace: 'default',
        name: 'test-server',
        health: 'Current',
      },
      {
        apiVersion: 'v1',
        kind: 'Service',
        namespace: 'default',
        name: 'test-server',
        health: 'InProgress',
      },
    ],
  },
  sync: {
    revision: `main@sha1:${SHA}`,
    lastSyncAt: '2026-11-23T10:05:00Z',
    lastSyncResult: 'succeeded',
    nextSyncAt: '2026-11-23T10:06:00Z',
    suspended: false,
  },
};

/**
 * test-server's canary at its second step of three, half the traffic on
 * 1.0.2: the last success-rate check failed, one more failure is allowed.
 */
export const canaryRollout: RolloutStatus = {
  component: 'test-server',
  cluster: 'local',
  strategy: 'canary',
  phase: 'progressing',
  stableImage: 'registry.local/test-server:1.0.1',
  canaryImage: 'registry.local/test-server:1.0.2',
  currentStep: 1,
  totalSteps: 3,
  canaryWeight: 50,
  analysis: [
    {
      name: 'request-duration',
      value: '412 ms',
      threshold: '≤ 500 ms',
      passed: true,
      at: '2026-11-23T10:08:00Z',
    },
    {
      name: 'request-success-rate',
      value: '95.0%',
      threshold: '≥ 99%',
      passed: false,
      at: '2026-11-23T10:08:00Z',
    },
    {
      name: 'smoke-test',
      passed: false,
      at: '2026-11-23T10:08:01Z',
      message: 'The webhook http://127.0.0.1:9/check did not answer in 10 s',
    },
  ],
  message: 'failed checks 1 of 2: success rate 95.0% < 99%',
  startedAt: '2026-11-23T10:07:00Z',
  updatedAt: '2026-11-23T10:08:01Z',
};

/** A database OpenTofu planned and waits to create until someone approves. */
export const cloudResource: CloudResourceStatus = {
  component: 'orders-db',
  state: 'waitingForApproval',
  plan: { add: 2, change: 1, destroy: 0, at: '2026-11-23T10:09:00Z' },
  outputs: [
    { name: 'host', sensitive: false, value: '127.0.0.1' },
    // A backend must never send a sensitive value; the tab hides one even if it did.
    { name: 'password', sensitive: true, value: 's3cr3t-never-shown' },
  ],
  connectionSecret: 'orders-db-conn',
  drift: {
    checkedAt: '2026-11-23T10:05:00Z',
    drifted: true,
    message: 'terraform_data.database: the database orders is gone',
  },
  message: 'Plan: 2 to add, 1 to change, 0 to destroy. Waiting for approval.',
  lastAppliedAt: '2026-11-23T09:00:00Z',
};

export const history: ImageHistoryEntry[] = [
  {
    id: 2,
    component: 'test-server',
    image: 'registry.local/test-server',
    oldTag: '1.0.0',
    newTag: '1.0.1',
    policy: 'semver',
    commitSha: SHA,
    trigger: 'webhook',
    detectedAt: '2026-11-23T10:04:00Z',
    pushedAt: '2026-11-23T10:04:01Z',
    appliedAt: '2026-11-23T10:04:05Z',
    healthyAt: '2026-11-23T10:04:13Z',
  },
];

/** The hold a rollback of test-server to 1.0.0 places. */
export const hold: ImageHold = {
  component: 'test-server',
  image: 'registry.local/test-server',
  tag: '1.0.0',
  heldBy: 'user:default/jane',
  heldAt: '2026-11-23T10:06:00Z',
  reason: 'login broken in 1.0.1',
  automatic: false,
  wouldPick: '1.0.1',
  wouldPickAt: '2026-11-23T10:07:00Z',
};

export const audit: AuditEntry[] = [
  {
    id: 3,
    action: 'imageRollback',
    actor: 'user:default/jane',
    at: '2026-11-23T10:06:00Z',
    reason: 'login broken in 1.0.1',
    component: 'test-server',
    summary: 'rolled test-server back to 1.0.0',
  },
  {
    id: 2,
    action: 'sync',
    actor: 'user:default/jane',
    at: '2026-11-23T10:05:00Z',
    summary: 'started a sync',
  },
];

export const runs: ReconcileRun[] = [
  {
    id: 14,
    trigger: 'manual',
    startedAt: '2026-11-23T10:05:00Z',
    finishedAt: '2026-11-23T10:05:02Z',
    revision: `main@sha1:${SHA}`,
    result: 'succeeded',
    objectsChanged: 3,
  },
  {
    id: 13,
    trigger: 'poll',
    startedAt: '2026-11-23T10:04:00Z',
    finishedAt: '2026-11-23T10:04:01Z',
    result: 'failed',
    error:
      'Git authentication failed for http://127.0.0.1:4000/deploy.git: check the Secret git-credentials',
  },
];

export const config: SyncConfiguration = {
  components: [
    {
      name: 'deploy',
      git: {
        url: 'https://github.com/example/deploy.git',
        branch: 'main',
        path: 'overlays/prod',
        pullInterval: '1m',
        prune: true,
        secretRef: 'git-credentials',
      },
      image: {
        image: 'registry.local/test-server',
        interval: '30s',
        pattern: '^1\\.',
        policy: 'semver >=1.0.0',
        secretRef: 'registry-credentials',
      },
    },
  ],
  commitAuthor: { name: 'kubevelabot', email: 'bot@example.com' },
};

/** A quiet week: the tab's other tests see an empty timeline (TimelineCard.test.tsx tells a full one). */
const quietWeek = {
  from: '2026-11-16T10:00:00.000Z',
  to: '2026-11-23T10:00:00.000Z',
};
export const emptyTimeline: TimelineResponse = {
  ...quietWeek,
  events: [],
  dora: doraFigures([], quietWeek),
};

/** The tree of {@link app}: a Deployment rolling out to its second ReplicaSet. */
export const tree: ResourceTree = {
  cluster: 'local',
  namespace: 'default',
  name: 'first-vela-workflow',
  phase: 'running',
  health: 'InProgress',
  message: 'test-server: Ready:1/2',
  components: [
    {
      name: 'test-server',
      type: 'webservice',
      health: 'InProgress',
      message: 'Ready:1/2',
      objects: [
        {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          namespace: 'default',
          name: 'test-server',
          cluster: 'local',
          health: 'InProgress',
          message: 'Ready:1/2',
          omittedChildren: 4,
          children: [
            {
              apiVersion: 'apps/v1',
              kind: 'ReplicaSet',
              namespace: 'default',
              name: 'test-server-7c9f8d6b5',
              health: 'InProgress',
              message: 'Ready:1/2',
              children: [
                {
                  apiVersion: 'v1',
                  kind: 'Pod',
                  namespace: 'default',
                  name: 'test-server-7c9f8d6b5-x2k4q',
                  health: 'Current',
                  message: 'Pod is Ready',
                  children: [],
                },
                {
                  apiVersion: 'v1',
                  kind: 'Pod',
                  namespace: 'default',
                  name: 'test-server-7c9f8d6b5-m8z1p',
                  health: 'Failed',
                  message: 'Container test-server is in CrashLoopBackOff',
                  children: [],
                },
              ],
            },
          ],
        },
        {
          apiVersion: 'v1',
          kind: 'Service',
          namespace: 'default',
          name: 'test-server',
          cluster: 'local',
          health: 'Current',
          message: 'Service is ready',
          children: [],
        },
      ],
    },
    {
      name: 'deploy',
      type: 'kustomize',
      health: 'Current',
      objects: [],
    },
  ],
};

/** A preview where Git raised the replicas, adds a ConfigMap and dropped another. */
export const diffPreview: DiffPreview = {
  generatedAt: '2026-11-23T10:07:00Z',
  revisions: { deploy: `main@sha1:${SHA}` },
  objects: [
    {
      cluster: 'local',
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      namespace: 'default',
      name: 'web',
      action: 'changed',
      changedFields: ['spec.replicas'],
      diff: '--- live\n+++ after sync\n@@ -10,7 +10,7 @@\n   name: web\n   namespace: default\n spec:\n-  replicas: 1\n+  replicas: 3\n   selector:\n',
    },
    {
      cluster: 'local',
      apiVersion: 'v1',
      kind: 'ConfigMap',
      namespace: 'default',
      name: 'web-settings',
      action: 'created',
      diff: '--- live\n+++ after sync\n@@ -0,0 +1,4 @@\n+apiVersion: v1\n+data:\n+  level: debug\n+kind: ConfigMap\n',
    },
    {
      cluster: 'local',
      apiVersion: 'v1',
      kind: 'ConfigMap',
      namespace: 'default',
      name: 'old-settings',
      action: 'pruned',
    },
    ...['web', 'web-db'].map(name => ({
      cluster: 'local',
      apiVersion: 'v1',
      kind: 'Service',
      namespace: 'default',
      name,
      action: 'unchanged' as const,
    })),
  ],
  counts: { created: 1, changed: 1, unchanged: 2, pruned: 1 },
};

// Only our own backend's HTTP API is stubbed here, as the handbook allows.
export function stubApi(overrides: Partial<GitopsApi> = {}): GitopsApi & {
  [K in keyof GitopsApi]: jest.Mock;
} {
  const base: GitopsApi = {
    getClusters: async () => ({
      items: [
        {
          name: 'local',
          labels: {},
          server: 'https://127.0.0.1:6443',
          reachable: true,
          version: 'v1.34.1',
        },
      ],
    }),
    listApplications: async () => ({ items: [] }),
    getApplication: async () => app,
    getImageHistory: async () => ({ items: history, totalCount: 1 }),
    getRuns: async () => ({ items: runs, totalCount: 14 }),
    getSyncConfig: async () => config,
    sync: async () => undefined,
    setSuspended: async () => undefined,
    resumeWorkflow: async () => undefined,
    getResourceTree: async () => tree,
    previewDiff: async () => diffPreview,
    rollbackImage: async (_ref, component, { to, reason }) => ({
      hold: { ...hold, component, tag: to, reason },
    }),
    releaseImageHold: async () => ({ hold }),
    releaseWorkflowRevision: async () => undefined,
    promoteRollout: async (_ref, component) => ({
      rollout: { ...canaryRollout, component, phase: 'healthy' },
    }),
    abortRollout: async (_ref, component) => ({
      rollout: { ...canaryRollout, component, phase: 'aborted' },
    }),
    approveCloudPlan: async (_ref, component) => ({
      resource: { ...cloudResource, component, state: 'applying' },
    }),
    getAudit: async () => ({ items: audit, totalCount: audit.length }),
    getTimeline: async () => emptyTimeline,
    ...overrides,
  };
  return Object.fromEntries(
    Object.entries(base).map(([k, fn]) => [k, jest.fn(fn)]),
  ) as any;
}

export async function render(
  e: Entity,
  gitopsApi: GitopsApi,
  allow: (name: string, resourceRef?: string) => boolean = () => true,
) {
  const permissionApi = new MockPermissionApi(request =>
    allow(request.permission.name, request.resourceRef)
      ? AuthorizeResult.ALLOW
      : AuthorizeResult.DENY,
  );
  return renderInTestApp(
    // usePermission keeps answers in SWR's cache, which is global by default:
    // a test would otherwise see the previous test's answer for the same
    // permission and entity (SWR does not ask again within 2 s).
    <SWRConfig value={{ provider: () => new Map() }}>
      <TestApiProvider
        apis={[
          [gitopsApiRef, gitopsApi],
          [permissionApiRef, permissionApi],
        ]}
      >
        <EntityProvider entity={e}>
          <EntityGitopsContent />
        </EntityProvider>
      </TestApiProvider>
    </SWRConfig>,
    // Links to other entities (the Application that manages this one) need the catalog's route.
    { mountedRoutes: { '/catalog/:namespace/:kind/:name': entityRouteRef } },
  );
}

export async function responseError(status: number, message: string) {
  return ResponseError.fromResponse(
    new Response(
      JSON.stringify({
        error: { name: 'Error', message },
        request: { method: 'GET', url: '/applications/default/x' },
        response: { statusCode: status },
      }),
      { status, headers: { 'Content-Type': 'application/json' } },
    ),
  );
}

/** A button once the permission check has let it be pressed. */
export function enabled(name: string, scope: HTMLElement = document.body) {
  return waitFor(() => {
    const button = within(scope).getByRole('button', { name });
    expect(button).toBeEnabled();
    return button;
  });
}

/** The first relative time on the page (or in `scope`) showing `iso`. */
export function timeAt(iso: string, scope: Element = document.body) {
  const time = scope.querySelector<HTMLElement>(`time[datetime="${iso}"]`);
  if (!time) throw new Error(`No time ${iso} is shown`);
  return time;
}
