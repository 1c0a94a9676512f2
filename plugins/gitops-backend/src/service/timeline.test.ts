import { TestDatabases, mockServices } from '@backstage/backend-test-utils';
import type { WorkflowState } from '@gitops-workflow/plugin-gitops-node';
import { GitopsStore } from '../store/GitopsStore';
import { parseWindow, timelineEvents, TimelineService } from './timeline';

const APP = 'local/default/first-vela-workflow';
const IMAGE = '127.0.0.1:5000/test-server';
const SHA_RELEASE = 'a'.repeat(40);
const SHA_BAD = 'b'.repeat(40);
const SHA_BACK = 'c'.repeat(40);
const T0 = Date.parse('2026-12-01T16:00:00Z');
const at = (seconds: number) => new Date(T0 + seconds * 1000);
const iso = (seconds: number) => at(seconds).toISOString();

const workflow: WorkflowState = {
  revision: 1,
  hash: 'h1',
  startedAt: iso(1),
  finishedAt: iso(3),
  steps: [
    {
      name: 'deploy-prod',
      type: 'deploy',
      phase: 'succeeded',
      startedAt: iso(2.5),
      finishedAt: iso(3),
    },
  ],
  revisions: [],
};

/*
 * One release as the reconciler records it (the registry's push, the bot's
 * commit in one pass, healthy in the next), a person's sync and a failing
 * pass, then a bad release found failed and rolled back automatically.
 */
async function recordHistory(store: GitopsStore) {
  await store.recordTagPushes([
    { image: IMAGE, tag: '0.1.6', pushedAt: at(0) },
  ]);
  await store.recordReconcile(APP, {
    run: {
      trigger: 'webhook',
      startedAt: at(1),
      finishedAt: at(3),
      result: 'succeeded',
      revision: `master@sha1:${SHA_RELEASE}`,
      objectsChanged: 1,
    },
    imageUpdates: [
      {
        component: 'test-server',
        image: IMAGE,
        oldTag: '0.1.5',
        newTag: '0.1.6',
        policy: 'semver >=0.1.0',
        commitSha: SHA_RELEASE,
        trigger: 'webhook',
        detectedAt: iso(1.2),
        pushedAt: iso(2),
        action: 'update',
      },
    ],
    deployed: { workflow, inventories: {}, applied: true, healthy: false },
    nextAt: at(60),
  });
  // Healthy at the next pass, which changed nothing: no sync event of its own.
  await store.recordReconcile(APP, {
    run: {
      trigger: 'poll',
      startedAt: at(5),
      finishedAt: at(8.9),
      result: 'succeeded',
      revision: `master@sha1:${SHA_RELEASE}`,
      objectsChanged: 0,
    },
    imageUpdates: [],
    deployed: { workflow, inventories: {}, applied: true, healthy: true },
    nextAt: at(60),
  });
  await store.appendAudit(APP, {
    action: 'sync',
    actor: 'user:default/alice',
    summary: 'asked for a sync',
    at: at(99),
  });
  await store.recordReconcile(APP, {
    run: {
      trigger: 'manual',
      startedAt: at(100),
      finishedAt: at(101),
      result: 'failed',
      error: 'Git authentication failed: check the Secret git-credentials',
    },
    imageUpdates: [],
    nextAt: at(160),
  });

  const bad = await store.addImageUpdate(APP, {
    component: 'test-server',
    image: IMAGE,
    oldTag: '0.1.6',
    newTag: '0.1.7',
    policy: 'semver >=0.1.0',
    commitSha: SHA_BAD,
    trigger: 'poll',
    detectedAt: iso(200),
    pushedAt: iso(201),
    action: 'update',
  });
  await store.markRollout(APP, 'applied', at(203));
  await store.markRolloutFailed(
    bad,
    'Deployment test-server: ProgressDeadlineExceeded',
    at(300),
  );
  await store.appendAudit(APP, {
    action: 'automaticRollback',
    actor: 'gitops:automatic-rollback',
    component: 'test-server',
    summary: 'rolled test-server back to 0.1.6 and held it there',
    at: at(301),
  });
  await store.addImageUpdate(APP, {
    component: 'test-server',
    image: IMAGE,
    oldTag: '0.1.7',
    newTag: '0.1.6',
    commitSha: SHA_BACK,
    trigger: 'poll',
    detectedAt: iso(301),
    pushedAt: iso(302),
    action: 'automaticRollback',
    reason: '0.1.7 failed: ProgressDeadlineExceeded',
  });
  await store.markRollout(APP, 'applied', at(304));
  // The pass that finds the rollback healthy stamps the failed row too.
  await store.markRollout(APP, 'healthy', at(310));
}

describe('TimelineService', () => {
  const databases = TestDatabases.create({
    ids: process.env.BACKSTAGE_TEST_DATABASE_POSTGRES17_CONNECTION_STRING
      ? ['SQLITE_3', 'POSTGRES_17']
      : ['SQLITE_3'],
  });

  async function createService(
    databaseId: Parameters<typeof databases.init>[0],
  ) {
    const knex = await databases.init(databaseId);
    const store = await GitopsStore.create(
      mockServices.database({ knex, migrations: { skip: false } }),
    );
    await recordHistory(store);
    return new TimelineService({ store });
  }

  it.each(databases.eachSupportedId())(
    'tells a release, a failure and its automatic rollback in order, with its DORA figures, %p',
    async databaseId => {
      const service = await createService(databaseId);
      const timeline = await service.timeline(APP, {
        from: at(-3600),
        to: at(3600),
      });

      expect(
        timeline.events.map(e => [
          (Date.parse(e.at) - T0) / 1000,
          e.kind,
          e.component ?? '-',
          e.sentence,
        ]),
      ).toEqual([
        [
          0,
          'tagPushed',
          'test-server',
          `${IMAGE}:0.1.6 was pushed to the registry`,
        ],
        [1, 'workflowStep', '-', 'Workflow of revision 1 started'],
        [
          1.2,
          'picked',
          'test-server',
          'semver >=0.1.0 picked 0.1.6 (was 0.1.5)',
        ],
        [
          2,
          'committed',
          'test-server',
          'The bot pushed commit aaaaaaa: test-server 0.1.5 → 0.1.6',
        ],
        [2.5, 'workflowStep', '-', 'Step deploy-prod (deploy) started'],
        [3, 'workflowStep', '-', 'Step deploy-prod succeeded'],
        [3, 'workflowStep', '-', 'Workflow of revision 1 finished'],
        [
          3,
          'synced',
          '-',
          `Sync (webhook) changed 1 object at master@sha1:${SHA_RELEASE}`,
        ],
        [3, 'applied', 'test-server', `${IMAGE}:0.1.6 was applied`],
        [
          8.9,
          'healthy',
          'test-server',
          'test-server is healthy on 0.1.6, 8.9 s after the tag was pushed',
        ],
        [99, 'action', '-', 'alice asked for a sync'],
        [
          100,
          'syncFailed',
          '-',
          'Sync (manual) failed: Git authentication failed: check the Secret git-credentials',
        ],
        [
          200,
          'picked',
          'test-server',
          'semver >=0.1.0 picked 0.1.7 (was 0.1.6)',
        ],
        [
          201,
          'committed',
          'test-server',
          'The bot pushed commit bbbbbbb: test-server 0.1.6 → 0.1.7',
        ],
        [203, 'applied', 'test-server', `${IMAGE}:0.1.7 was applied`],
        [
          300,
          'failed',
          'test-server',
          `${IMAGE}:0.1.7 failed: Deployment test-server: ProgressDeadlineExceeded`,
        ],
        [
          301,
          'picked',
          'test-server',
          'test-server was rolled back to 0.1.6 automatically (was 0.1.7): 0.1.7 failed: ProgressDeadlineExceeded',
        ],
        [
          301,
          'hold',
          'test-server',
          'The automatic rollback rolled test-server back to 0.1.6 and held it there',
        ],
        [
          302,
          'committed',
          'test-server',
          'The bot pushed commit ccccccc: test-server 0.1.7 → 0.1.6',
        ],
        [302, 'rolledBack', 'test-server', '0.1.7 was rolled back'],
        [304, 'applied', 'test-server', `${IMAGE}:0.1.6 was applied`],
        [
          310,
          'healthy',
          'test-server',
          'test-server is healthy on 0.1.6, 9 s after the rollback was committed',
        ],
      ]);
      // Each event links what it is about.
      expect(timeline.events[3].links).toEqual({
        commit: SHA_RELEASE,
        image: `${IMAGE}:0.1.6`,
        imageUpdate: expect.any(Number),
      });
      expect(timeline.events.find(e => e.kind === 'syncFailed')?.links).toEqual(
        { run: expect.any(Number) },
      );
      expect(timeline.events.find(e => e.kind === 'action')?.actor).toBe(
        'user:default/alice',
      );

      expect(timeline.dora).toEqual({
        from: iso(-3600),
        to: iso(3600),
        rollouts: 2,
        deployments: 1,
        deploymentsPerDay: 12,
        leadTime: {
          samples: 1,
          fromTagPush: 1,
          medianMs: 8900,
          p90Ms: 8900,
        },
        finished: 2,
        failures: 1,
        changeFailureRate: 0.5,
        timeToRestore: { restored: 1, unrestored: 0, medianMs: 10_000 },
      });
      expect(timeline.truncated).toBeUndefined();
    },
  );

  it.each(databases.eachSupportedId())(
    'tells a window as it stood at its end, %p',
    async databaseId => {
      const service = await createService(databaseId);
      const timeline = await service.timeline(APP, {
        from: at(150),
        to: at(250),
      });
      expect(timeline.events.map(e => [e.kind, e.links.imageUpdate])).toEqual([
        ['picked', expect.any(Number)],
        ['committed', expect.any(Number)],
        ['applied', expect.any(Number)],
      ]);
      // 0.1.7 was still rolling out at the window's end.
      expect(timeline.dora).toMatchObject({
        rollouts: 1,
        deployments: 0,
        finished: 0,
        failures: 0,
        leadTime: { samples: 0, fromTagPush: 0 },
      });
      expect(timeline.dora.changeFailureRate).toBeUndefined();

      const later = await service.timeline(APP, {
        from: at(3600),
        to: at(7200),
      });
      expect(later.events).toEqual([]);
      expect(later.dora).toMatchObject({ rollouts: 0, deploymentsPerDay: 0 });
    },
  );

  it('keeps the newest records of a window that holds more than one answer carries', async () => {
    const knex = await databases.init('SQLITE_3');
    const store = await GitopsStore.create(
      mockServices.database({ knex, migrations: { skip: false } }),
    );
    for (let i = 0; i < 3; i++) {
      await store.appendAudit(APP, {
        action: 'suspend',
        actor: 'user:default/alice',
        summary: `suspended automation (${i})`,
        at: at(i),
      });
    }
    const records = await store.timelineRecords(
      APP,
      { from: at(-10), to: at(10) },
      2,
    );
    expect(records.truncated).toBe(true);
    expect(records.audit.map(a => a.summary)).toEqual([
      'suspended automation (1)',
      'suspended automation (2)',
    ]);
  });
});

describe('timelineEvents', () => {
  const row = {
    id: 7,
    image: IMAGE,
    oldTag: '0.1.5',
    newTag: '0.1.6',
    policy: 'semver >=0.1.0',
    trigger: 'webhook' as const,
    detectedAt: iso(1),
  };
  const picked = (r: Parameters<typeof timelineEvents>[0]['images'][number]) =>
    timelineEvents(
      { images: [r], runs: [], audit: [] },
      { from: at(0), to: at(10) },
    )[0].sentence;

  it("names the other Application a marker in its manifest belongs to, on each one's timeline", () => {
    const ref = { cluster: 'local', namespace: 'default' };
    // git-app's automation wrote first-vela-workflow's test-server image.
    expect(
      picked({
        ...row,
        component: 'gitops',
        target: {
          ...ref,
          name: 'first-vela-workflow',
          component: 'test-server',
        },
      }),
    ).toBe(
      'semver >=0.1.0 picked 0.1.6 (was 0.1.5) for default/first-vela-workflow (test-server)',
    );
    expect(
      picked({
        ...row,
        component: 'test-server',
        committedBy: { ...ref, name: 'git-app', component: 'gitops' },
      }),
    ).toBe(
      'semver >=0.1.0 picked 0.1.6 (was 0.1.5) in the image automation of default/git-app (gitops)',
    );
  });
});

describe('parseWindow', () => {
  const now = new Date('2026-12-01T17:00:00Z');

  it('defaults to the seven days before now', () => {
    expect(parseWindow({}, now)).toEqual({
      from: new Date('2026-11-24T17:00:00Z'),
      to: now,
    });
    expect(parseWindow({ from: '2026-12-01T16:00:00Z', to: '' }, now)).toEqual({
      from: new Date('2026-12-01T16:00:00Z'),
      to: now,
    });
  });

  it.each([
    [{ from: 'yesterday' }, 'from must be an ISO 8601 time'],
    [{ to: ['a', 'b'] }, 'to must be an ISO 8601 time'],
    [{ from: '2026-12-01T17:00:00Z' }, 'from must be before to'],
    [
      { from: '2026-01-01T00:00:00Z' },
      'is longer than 90 days: ask for a shorter one',
    ],
  ])('refuses %j with a sentence', (query, message) => {
    expect(() => parseWindow(query, now)).toThrow(message);
  });
});
