import { resolvePackagePath } from '@backstage/backend-plugin-api';
import { TestDatabases, mockServices } from '@backstage/backend-test-utils';
import { GitopsStore } from './GitopsStore';

const APP = 'local/default/git-app';

describe('GitopsStore', () => {
  // PostgreSQL joins when the environment points at one (test/infra starts a
  // real throw-away server and sets this variable for the test command).
  const databases = TestDatabases.create({
    ids: process.env.BACKSTAGE_TEST_DATABASE_POSTGRES17_CONNECTION_STRING
      ? ['SQLITE_3', 'POSTGRES_17']
      : ['SQLITE_3'],
  });

  async function createStore(databaseId: Parameters<typeof databases.init>[0]) {
    const knex = await databases.init(databaseId);
    return GitopsStore.create(
      mockServices.database({ knex, migrations: { skip: false } }),
    );
  }

  it.each(databases.eachSupportedId())(
    'records image updates newest first, paged, and stamps their rollout once, %p',
    async databaseId => {
      const store = await createStore(databaseId);
      for (const [i, tag] of [
        'master-a-1',
        'master-b-2',
        'master-c-3',
      ].entries()) {
        await store.addImageUpdate(APP, {
          component: 'git-app',
          image: 'registry.local/gitops',
          oldTag: i ? `old-${i}` : undefined,
          newTag: tag,
          policy: 'numerical asc',
          commitSha: `sha${i}`,
          trigger: 'poll',
          detectedAt: new Date(Date.UTC(2026, 10, 23, 10, i)).toISOString(),
          pushedAt: new Date(Date.UTC(2026, 10, 23, 10, i, 5)).toISOString(),
        });
      }

      const page = await store.listImageHistory(APP, { limit: 2, offset: 0 });
      expect(page.totalCount).toBe(3);
      expect(page.items.map(i => i.newTag)).toEqual([
        'master-c-3',
        'master-b-2',
      ]);
      expect(page.items[0]).toMatchObject({
        oldTag: 'old-2',
        commitSha: 'sha2',
        pushedAt: '2026-11-23T10:02:05.000Z',
        appliedAt: undefined,
      });

      // Healthy needs applied first; each milestone is stamped once.
      expect(await store.markRollout(APP, 'healthy')).toBe(0);
      expect(
        await store.markRollout(
          APP,
          'applied',
          new Date('2026-11-23T11:00:00Z'),
        ),
      ).toBe(3);
      expect(await store.markRollout(APP, 'applied')).toBe(0);
      expect(
        await store.markRollout(
          APP,
          'healthy',
          new Date('2026-11-23T11:01:00Z'),
        ),
      ).toBe(3);
      const [latest] = (
        await store.listImageHistory(APP, { limit: 1, offset: 0 })
      ).items;
      expect(latest).toMatchObject({
        appliedAt: '2026-11-23T11:00:00.000Z',
        healthyAt: '2026-11-23T11:01:00.000Z',
      });
    },
  );

  it.each(databases.eachSupportedId())(
    'keeps runs, inventory and the automation switch, and drops history past retention, %p',
    async databaseId => {
      const store = await createStore(databaseId);
      const old = new Date('2026-01-01T00:00:00Z');
      await store.recordReconcile(APP, {
        run: {
          trigger: 'poll',
          startedAt: old,
          finishedAt: old,
          result: 'failed',
          error: 'push rejected',
        },
        imageUpdates: [],
        nextAt: old,
      });
      const inventory = [
        {
          group: 'apps',
          version: 'v1',
          kind: 'Deployment',
          namespace: 'default',
          name: 'web',
          hash: 'h1',
        },
      ];
      const recent = {
        run: {
          trigger: 'manual' as const,
          startedAt: new Date(),
          finishedAt: new Date(),
          result: 'succeeded' as const,
          revision: 'master@sha1:abc',
          objectsChanged: 2,
        },
        imageUpdates: [],
        nextAt: new Date(),
        deployed: {
          workflow: {
            revision: 1,
            hash: 'abc',
            startedAt: new Date().toISOString(),
            steps: [],
            revisions: [],
          },
          inventories: { local: inventory, prod: inventory },
          applied: true,
          healthy: true,
        },
      };
      await store.recordReconcile(APP, recent);

      const runs = await store.listRuns(APP, { limit: 10, offset: 0 });
      expect(runs.items.map(r => r.result)).toEqual(['succeeded', 'failed']);
      expect(runs.items[0]).toMatchObject({
        trigger: 'manual',
        revision: 'master@sha1:abc',
        objectsChanged: 2,
      });

      expect(await store.inventories(APP)).toEqual({
        local: inventory,
        prod: inventory,
      });
      // What a cache of live objects mirrors: each kind once per cluster.
      expect(
        (await store.inventoryKinds()).sort((a, b) =>
          a.cluster.localeCompare(b.cluster),
        ),
      ).toEqual([
        { cluster: 'local', group: 'apps', version: 'v1', kind: 'Deployment' },
        { cluster: 'prod', group: 'apps', version: 'v1', kind: 'Deployment' },
      ]);
      // A cluster the Application left is gone from the store with the next record.
      await store.recordReconcile(APP, {
        ...recent,
        deployed: { ...recent.deployed, inventories: { local: inventory } },
      });
      expect(await store.inventories(APP)).toEqual({ local: inventory });
      expect(await store.inventories('local/default/other')).toBeUndefined();

      expect(await store.isSuspended(APP)).toBe(false);
      await store.setSuspended(APP, true, 'user:default/guest');
      expect(await store.isSuspended(APP)).toBe(true);
      await store.setSuspended(APP, false, 'user:default/guest');
      expect(await store.isSuspended(APP)).toBe(false);

      expect(
        await store.deleteHistoryBefore(new Date('2026-06-01T00:00:00Z')),
      ).toEqual({ runs: 1, images: 0, audit: 0 });
      // The two recent runs stay.
      expect(
        (await store.listRuns(APP, { limit: 10, offset: 0 })).totalCount,
      ).toBe(2);
    },
  );

  it.each(databases.eachSupportedId())(
    'keeps a failure that repeats as one run that counts, and counts failures in a row until one succeeds, %p',
    async databaseId => {
      const store = await createStore(databaseId);
      const failed = (error: string, at: string) => ({
        run: {
          trigger: 'poll' as const,
          startedAt: new Date(at),
          finishedAt: new Date(at),
          result: 'failed' as const,
          error,
        },
        imageUpdates: [],
        nextAt: new Date(at),
      });
      await store.recordReconcile(APP, {
        ...failed('Git server down', '2026-02-01T00:00:00Z'),
        failures: 1,
      });
      await store.recordReconcile(APP, {
        ...failed('Git server down', '2026-02-01T00:00:05Z'),
        failures: 2,
      });
      await store.recordReconcile(APP, {
        ...failed('Git server down', '2026-02-01T00:00:15Z'),
        failures: 3,
      });
      expect((await store.schedules([APP])).get(APP)?.failures).toBe(3);
      await store.recordReconcile(APP, {
        ...failed(
          'path "x" points outside the repository',
          '2026-02-01T00:01:00Z',
        ),
        failures: 4,
      });

      const runs = await store.listRuns(APP, { limit: 10, offset: 0 });
      expect(runs.items).toEqual([
        expect.objectContaining({
          error: 'path "x" points outside the repository',
        }),
        expect.objectContaining({
          error: 'Git server down',
          repeats: 3,
          startedAt: '2026-02-01T00:00:00.000Z',
          finishedAt: '2026-02-01T00:00:15.000Z',
        }),
      ]);
      expect(runs.items[0].repeats).toBeUndefined();

      await store.recordReconcile(APP, {
        run: {
          trigger: 'poll',
          startedAt: new Date(),
          finishedAt: new Date(),
          result: 'succeeded',
        },
        imageUpdates: [],
        nextAt: new Date(),
        failures: 5,
      });
      expect((await store.schedules([APP])).get(APP)?.failures).toBe(0);
    },
  );

  it.each(databases.eachSupportedId())(
    'gives a tick the due schedules only, and the ones it asks for by key, %p',
    async databaseId => {
      const store = await createStore(databaseId);
      const now = new Date('2026-03-01T12:00:00Z');
      const scheduleAt = (app: string, nextAt: string) =>
        store.recordReconcile(app, {
          run: {
            trigger: 'poll',
            startedAt: now,
            finishedAt: now,
            result: 'succeeded',
          },
          imageUpdates: [],
          nextAt: new Date(nextAt),
        });
      await scheduleAt('local/default/past', '2026-03-01T11:59:59Z');
      await scheduleAt('local/default/now', '2026-03-01T12:00:00Z');
      await scheduleAt('local/default/later', '2026-03-01T12:05:00Z');
      await scheduleAt('local/default/asked', '2026-03-01T12:05:00Z');
      await store.requestSync('local/default/asked', 'manual');
      await store.requestSync('local/default/new', 'webhook');

      const due = await store.dueSchedules(now, []);
      expect([...due.keys()].sort()).toEqual([
        'local/default/asked',
        'local/default/new',
        'local/default/now',
        'local/default/past',
      ]);
      expect(due.get('local/default/asked')?.requested).toBe('manual');
      expect(due.get('local/default/new')).toEqual({
        nextAt: undefined,
        requested: 'webhook',
        failures: 0,
      });

      const withLater = await store.dueSchedules(now, [
        'local/default/later',
        'local/default/unknown',
      ]);
      expect(withLater.get('local/default/later')?.nextAt).toEqual(
        new Date('2026-03-01T12:05:00Z'),
      );
      expect(withLater.has('local/default/unknown')).toBe(false);
      expect(withLater.size).toBe(5);
    },
  );

  it.each(databases.eachSupportedId())(
    'lets one replica hold a shard at a time, and another take it once the lease ran out, %p',
    async databaseId => {
      const store = await createStore(databaseId);
      const inAMinute = () => new Date(Date.now() + 60_000);
      expect(await store.claimShard(0, 'replica-a', inAMinute())).toBe(true);
      expect(await store.claimShard(0, 'replica-b', inAMinute())).toBe(false);
      expect(await store.claimShard(1, 'replica-b', inAMinute())).toBe(true);
      expect(await store.holdsShard(0, 'replica-a')).toBe(true);
      expect(await store.holdsShard(0, 'replica-b')).toBe(false);

      // A's lease runs out while its pass still runs: B takes the shard, A no longer holds it.
      expect(
        await store.claimShard(0, 'replica-a', new Date(Date.now() - 1)),
      ).toBe(true);
      expect(await store.claimShard(0, 'replica-b', inAMinute())).toBe(true);
      expect(await store.holdsShard(0, 'replica-a')).toBe(false);

      // A tick that ends lets the shard go at once.
      await store.releaseShard(0, 'replica-b');
      expect(await store.holdsShard(0, 'replica-b')).toBe(false);
      expect(await store.claimShard(0, 'replica-a', inAMinute())).toBe(true);
    },
  );

  it.each(databases.eachSupportedId())(
    'holds a component at a tag, records what it would pick, and lets one pass settle its release, %p',
    async databaseId => {
      const store = await createStore(databaseId);
      const hold = await store.placeHold(APP, {
        component: 'git-app',
        image: 'registry.local/gitops',
        tag: '0.1.5',
        heldBy: 'user:default/jane',
        heldAt: new Date('2026-12-01T10:00:00Z'),
        reason: '0.1.6 leaks memory',
      });
      expect(hold).toMatchObject({ tag: '0.1.5', automatic: false });
      // Another Application's holds are its own.
      expect(await store.listHolds('local/default/other')).toEqual([]);

      await store.recordWouldPick(
        APP,
        'git-app',
        '0.1.6',
        new Date('2026-12-01T10:01:00Z'),
      );
      // The same pick again keeps when it was first seen.
      await store.recordReconcile(APP, {
        run: {
          trigger: 'poll',
          startedAt: new Date(),
          finishedAt: new Date(),
          result: 'succeeded',
        },
        imageUpdates: [],
        nextAt: new Date(),
        wouldPick: [
          {
            component: 'git-app',
            tag: '0.1.6',
            at: new Date('2026-12-01T10:02:00Z'),
          },
        ],
      });
      expect(await store.listHolds(APP)).toEqual([
        {
          component: 'git-app',
          image: 'registry.local/gitops',
          tag: '0.1.5',
          heldBy: 'user:default/jane',
          heldAt: '2026-12-01T10:00:00.000Z',
          reason: '0.1.6 leaks memory',
          automatic: false,
          wouldPick: '0.1.6',
          wouldPickAt: '2026-12-01T10:01:00.000Z',
          digest: undefined,
          failedTag: undefined,
        },
      ]);

      const released = await store.releaseHold(APP, 'git-app', {
        releasedBy: 'user:default/john',
        reason: 'fixed in 0.1.6',
      });
      expect(released?.tag).toBe('0.1.5');
      expect(await store.listHolds(APP)).toEqual([]);
      // Released once: releasing again finds no hold.
      expect(
        await store.releaseHold(APP, 'git-app', {
          releasedBy: 'user:default/john',
        }),
      ).toBeUndefined();
      expect(await store.listReleases(APP)).toEqual([
        expect.objectContaining({
          component: 'git-app',
          releasedBy: 'user:default/john',
          reason: 'fixed in 0.1.6',
        }),
      ]);

      // The pass that let automation resume settles the release.
      await store.recordReconcile(APP, {
        run: {
          trigger: 'poll',
          startedAt: new Date(),
          finishedAt: new Date(),
          result: 'succeeded',
        },
        imageUpdates: [],
        nextAt: new Date(),
        settledReleases: ['git-app'],
      });
      expect(await store.listReleases(APP)).toEqual([]);

      // A new hold replaces a release not yet settled, and a settled release of it does not remove it.
      await store.placeHold(APP, { ...hold, tag: '0.1.4', heldAt: undefined });
      await store.releaseHold(APP, 'git-app', {
        releasedBy: 'user:default/john',
      });
      await store.placeHold(APP, { ...hold, tag: '0.1.3', heldAt: undefined });
      expect(await store.listReleases(APP)).toEqual([]);
      await store.recordReconcile(APP, {
        run: {
          trigger: 'poll',
          startedAt: new Date(),
          finishedAt: new Date(),
          result: 'succeeded',
        },
        imageUpdates: [],
        nextAt: new Date(),
        settledReleases: ['git-app'],
      });
      expect((await store.listHolds(APP)).map(h => h.tag)).toEqual(['0.1.3']);

      // Deleting the Application lets its holds go with it.
      await store.recordReconcile(APP, {
        run: {
          trigger: 'poll',
          startedAt: new Date(),
          finishedAt: new Date(),
          result: 'succeeded',
        },
        imageUpdates: [],
        nextAt: new Date(),
        collected: true,
      });
      expect(await store.listHolds(APP)).toEqual([]);
    },
  );

  it.each(databases.eachSupportedId())(
    'records why the bot committed, marks the update a rollback undoes, and a failed rollout once, %p',
    async databaseId => {
      const store = await createStore(databaseId);
      const update = (
        oldTag: string | undefined,
        newTag: string,
        minute: number,
      ) => ({
        component: 'git-app',
        image: 'registry.local/gitops',
        oldTag,
        newTag,
        trigger: 'poll' as const,
        detectedAt: new Date(Date.UTC(2026, 11, 1, 10, minute)).toISOString(),
        pushedAt: new Date(Date.UTC(2026, 11, 1, 10, minute, 5)).toISOString(),
      });
      const first = await store.addImageUpdate(APP, {
        ...update(undefined, '0.1.5', 0),
        action: 'update',
      });
      const bad = await store.addImageUpdate(APP, {
        ...update('0.1.5', '0.1.6', 1),
        action: 'update',
        digest: 'sha256:abc',
      });
      expect(
        await store.markRolloutFailed(
          bad,
          'ProgressDeadlineExceeded',
          new Date('2026-12-01T10:03:00Z'),
        ),
      ).toBe(true);
      expect(await store.markRolloutFailed(bad, 'later finding')).toBe(false);
      await store.recordReconcile(APP, {
        run: {
          trigger: 'manual',
          startedAt: new Date(),
          finishedAt: new Date(),
          result: 'succeeded',
        },
        imageUpdates: [
          {
            ...update('0.1.6', '0.1.5', 4),
            action: 'rollback',
            requestedBy: 'user:default/jane',
            reason: '0.1.6 leaks memory',
          },
        ],
        nextAt: new Date(),
      });

      const { items } = await store.listImageHistory(APP, {
        limit: 10,
        offset: 0,
      });
      expect(items.map(i => [i.newTag, i.action])).toEqual([
        ['0.1.5', 'rollback'],
        ['0.1.6', 'update'],
        ['0.1.5', 'update'],
      ]);
      expect(items[0]).toMatchObject({
        requestedBy: 'user:default/jane',
        reason: '0.1.6 leaks memory',
        rolledBackAt: undefined,
      });
      expect(items[1]).toMatchObject({
        id: bad,
        digest: 'sha256:abc',
        failedAt: '2026-12-01T10:03:00.000Z',
        failure: 'ProgressDeadlineExceeded',
        rolledBackAt: '2026-12-01T10:04:05.000Z',
      });
      expect(items[2]).toMatchObject({ id: first, rolledBackAt: undefined });

      // What ran before, for a rollback: with the digest the bot wrote.
      expect(await store.ranImageTag(APP, 'git-app', '0.1.6')).toEqual({
        digest: 'sha256:abc',
      });
      expect(await store.ranImageTag(APP, 'git-app', '0.1.5')).toEqual({});
      expect(await store.ranImageTag(APP, 'git-app', '0.1.9')).toBeUndefined();
      expect(await store.ranImageTag(APP, 'other', '0.1.6')).toBeUndefined();
    },
  );

  it.each(databases.eachSupportedId())(
    "gives each component's newest update, and stamps no rollout milestone on one that failed or was rolled back, %p",
    async databaseId => {
      const store = await createStore(databaseId);
      const add = (component: string, oldTag: string, newTag: string) =>
        store.addImageUpdate(APP, {
          component,
          image: `registry.local/${component}`,
          oldTag,
          newTag,
          trigger: 'poll',
          detectedAt: new Date().toISOString(),
          action: 'update',
        });
      await add('web', '0.1.4', '0.1.5');
      const failed = await add('web', '0.1.5', '0.1.6');
      const worker = await add('worker', '1.0.0', '1.0.1');
      await store.addImageUpdate('local/default/other', {
        component: 'web',
        image: 'registry.local/web',
        newTag: '9.9.9',
        trigger: 'poll',
        detectedAt: new Date().toISOString(),
      });
      const latest = await store.latestImageUpdates(APP, ['web', 'worker']);
      expect([...latest.values()].map(u => [u.component, u.id])).toEqual(
        expect.arrayContaining([
          ['web', failed],
          ['worker', worker],
        ]),
      );
      expect(latest.size).toBe(2);
      expect((await store.latestImageUpdates(APP, ['api'])).size).toBe(0);

      const undone = await add('api', '2.0.0', '2.0.1');
      await store.markRollout(APP, 'applied');
      await store.markRolledBack(undone);
      await store.markRolloutFailed(
        failed,
        'not healthy 5m after it was applied',
      );
      await store.markRollout(APP, 'healthy');
      const { items } = await store.listImageHistory(APP, {
        limit: 10,
        offset: 0,
      });
      expect(items.find(i => i.id === failed)?.healthyAt).toBeUndefined();
      expect(items.find(i => i.id === undone)?.healthyAt).toBeUndefined();
      expect(items.find(i => i.id === worker)?.healthyAt).toEqual(
        expect.any(String),
      );
    },
  );

  it.each(databases.eachSupportedId())(
    'tells who listens which Application changed, once the write is committed, %p',
    async databaseId => {
      const store = await createStore(databaseId);
      const seen: Array<Promise<{ key: string; runs: number }>> = [];
      const stop = store.onChange(key =>
        // What a listener reads at once already holds the write.
        seen.push(
          store
            .listRuns(key, { limit: 1, offset: 0 })
            .then(page => ({ key, runs: page.totalCount })),
        ),
      );
      await store.recordReconcile(APP, {
        run: {
          trigger: 'poll',
          startedAt: new Date(),
          finishedAt: new Date(),
          result: 'succeeded',
        },
        imageUpdates: [],
        nextAt: new Date(),
      });
      await store.setSuspended('local/default/other', true, 'user:default/a');
      expect(await Promise.all(seen)).toEqual([
        { key: APP, runs: 1 },
        { key: 'local/default/other', runs: 0 },
      ]);
      stop();
      await store.setSuspended(APP, true, 'user:default/a');
      expect(seen).toHaveLength(2);
    },
  );

  it.each(databases.eachSupportedId())(
    'keeps an audit trail per Application, newest first and paged, %p',
    async databaseId => {
      const store = await createStore(databaseId);
      const entry = await store.appendAudit(APP, {
        action: 'imageRollback',
        actor: 'user:default/jane',
        at: new Date('2026-12-01T10:00:00Z'),
        reason: '0.1.6 leaks memory',
        component: 'git-app',
        summary: 'rolled git-app back to 0.1.5',
      });
      expect(entry.id).toEqual(expect.any(Number));
      await store.appendAudit(APP, {
        action: 'imageRelease',
        actor: 'user:default/john',
        at: new Date('2026-12-01T11:00:00Z'),
        component: 'git-app',
        summary: 'released the hold of git-app at 0.1.5',
      });
      await store.appendAudit('local/default/other', {
        action: 'sync',
        actor: 'user:default/jane',
        summary: 'asked for a sync',
      });

      const page = await store.listAudit(APP, { limit: 1, offset: 0 });
      expect(page.totalCount).toBe(2);
      expect(page.items).toEqual([
        {
          id: expect.any(Number),
          action: 'imageRelease',
          actor: 'user:default/john',
          at: '2026-12-01T11:00:00.000Z',
          reason: undefined,
          component: 'git-app',
          summary: 'released the hold of git-app at 0.1.5',
        },
      ]);
      const second = await store.listAudit(APP, { limit: 1, offset: 1 });
      expect(second.items).toEqual([entry]);

      expect(
        await store.deleteHistoryBefore(new Date('2026-12-01T10:30:00Z')),
      ).toEqual({ runs: 0, images: 0, audit: 1 });
    },
  );

  it.each(databases.eachSupportedId())(
    'undoes the rollback migration and applies it again, %p',
    async databaseId => {
      const knex = await databases.init(databaseId);
      const directory = resolvePackagePath(
        '@gitops-workflow/plugin-gitops-backend',
        'migrations',
      );
      await knex.migrate.latest({ directory });
      // Down to just before it, later migrations first.
      while (
        Number(await knex.migrate.currentVersion({ directory })) >=
        20261211000000
      ) {
        await knex.migrate.down({ directory });
      }
      expect(await knex.schema.hasTable('gitops_image_holds')).toBe(false);
      expect(await knex.schema.hasTable('gitops_audit')).toBe(false);
      expect(
        await knex.schema.hasColumn('gitops_image_history', 'rolled_back_at'),
      ).toBe(false);
      // What the migration before it added stays.
      expect(
        await knex.schema.hasColumn('gitops_image_history', 'app_deleted_at'),
      ).toBe(true);
      await knex.migrate.latest({ directory });
      expect(
        await knex.schema.hasColumn('gitops_image_history', 'requested_by'),
      ).toBe(true);
    },
  );
});
