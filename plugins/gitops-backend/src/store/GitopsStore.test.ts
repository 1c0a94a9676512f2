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
      ).toEqual({ runs: 1, images: 0 });
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
        ...failed('path "x" points outside the repository', '2026-02-01T00:01:00Z'),
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
      expect(await store.claimShard(0, 'replica-a', new Date(Date.now() - 1))).toBe(true);
      expect(await store.claimShard(0, 'replica-b', inAMinute())).toBe(true);
      expect(await store.holdsShard(0, 'replica-a')).toBe(false);

      // A tick that ends lets the shard go at once.
      await store.releaseShard(0, 'replica-b');
      expect(await store.holdsShard(0, 'replica-b')).toBe(false);
      expect(await store.claimShard(0, 'replica-a', inAMinute())).toBe(true);
    },
  );
});
