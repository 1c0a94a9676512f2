import { TestDatabases, mockServices } from '@backstage/backend-test-utils';
import { GitopsStore, ReconcileRecord } from './GitopsStore';

const PARENT = 'local/default/git-app';
const CHILD = 'local/default/first-vela-workflow';
const at = (second: number) => new Date(Date.UTC(2026, 11, 1, 10, 0, second));

/** A pass of git-app that deployed: applied, and healthy or not. */
function deployedPass(
  finishedAt: Date,
  deployed: { healthy: boolean; healthySince?: Record<string, string> },
  imageUpdates: ReconcileRecord['imageUpdates'] = [],
): ReconcileRecord {
  return {
    run: {
      trigger: 'poll',
      startedAt: finishedAt,
      finishedAt,
      result: 'succeeded',
      revision: 'master@sha1:3f1c2a9aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
    },
    imageUpdates,
    deployed: {
      workflow: {
        revision: 1,
        hash: 'h',
        startedAt: finishedAt.toISOString(),
        steps: [],
        revisions: [],
      },
      inventories: {},
      applied: true,
      ...deployed,
    },
    nextAt: new Date(finishedAt.getTime() + 5000),
  };
}

/** The bot's commit of a marker inside first-vela-workflow's manifest, component test-server. */
const commitIntoChild = (tag: string, pushedAt: Date) => ({
  component: 'gitops',
  image: 'registry.local/gitops',
  oldTag: 'master-a-1',
  newTag: tag,
  policy: 'numerical asc',
  commitSha: 'b0b0b0b',
  trigger: 'poll' as const,
  detectedAt: new Date(pushedAt.getTime() - 500).toISOString(),
  pushedAt: pushedAt.toISOString(),
  target: {
    cluster: 'local',
    namespace: 'default',
    name: 'first-vela-workflow',
    component: 'test-server',
  },
});

describe('image history of the Application a marker belongs to', () => {
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
    "lists a commit into a child's manifest on both pages, each in its own words, %p",
    async databaseId => {
      const store = await createStore(databaseId);
      await store.recordReconcile(
        PARENT,
        deployedPass(at(2), { healthy: false }, [
          commitIntoChild('master-b-2', at(1)),
        ]),
      );
      await store.addImageUpdate(PARENT, {
        ...commitIntoChild('master-c-3', at(3)),
        target: undefined,
      });

      const parent = await store.listImageHistory(PARENT, {
        limit: 10,
        offset: 0,
      });
      expect(parent.items.map(i => [i.newTag, i.component])).toEqual([
        ['master-c-3', 'gitops'],
        ['master-b-2', 'gitops'],
      ]);
      expect(parent.items[1].target).toEqual({
        cluster: 'local',
        namespace: 'default',
        name: 'first-vela-workflow',
        component: 'test-server',
      });
      expect(parent.items[1].committedBy).toBeUndefined();

      // The child's page: only what was committed into its manifest, under its component.
      const child = await store.listImageHistory(CHILD, {
        limit: 10,
        offset: 0,
      });
      expect(child.totalCount).toBe(1);
      expect(child.items[0]).toMatchObject({
        newTag: 'master-b-2',
        component: 'test-server',
        commitSha: 'b0b0b0b',
        appliedAt: at(2).toISOString(),
        committedBy: {
          cluster: 'local',
          namespace: 'default',
          name: 'git-app',
          component: 'gitops',
        },
      });
      expect(
        await store.listImageHistory('local/default/other', {
          limit: 10,
          offset: 0,
        }),
      ).toEqual({ totalCount: 0, items: [] });
    },
  );

  it.each(databases.eachSupportedId())(
    'stamps healthy when the objects became ready, not when a later pass saw it, %p',
    async databaseId => {
      const store = await createStore(databaseId);
      /** git-app commits `tag` (pushed, then applied by its pass), and a later pass finds the child ready since `since`. */
      const rollout = async (
        tag: string,
        seconds: {
          pushed: number;
          applied: number;
          seen: number;
          since: number;
        },
      ) => {
        await store.recordReconcile(
          PARENT,
          deployedPass(at(seconds.applied), { healthy: false }, [
            commitIntoChild(tag, at(seconds.pushed)),
          ]),
        );
        await store.recordReconcile(
          PARENT,
          deployedPass(at(seconds.seen), {
            healthy: true,
            healthySince: { gitops: at(seconds.since).toISOString() },
          }),
        );
        const [row] = (
          await store.listImageHistory(CHILD, { limit: 1, offset: 0 })
        ).items;
        expect(row.newTag).toBe(tag);
        return row.healthyAt;
      };
      // git-app's pass sees it 20 s after the push; the child's Ready
      // condition says its Deployment finished rolling out at 9 s.
      expect(
        await rollout('master-b-2', {
          pushed: 1,
          applied: 2,
          seen: 21,
          since: 9,
        }),
      ).toBe(at(9).toISOString());
      // A readiness older than the push is an earlier rollout's: the pass's time stands.
      expect(
        await rollout('master-c-3', {
          pushed: 30,
          applied: 32,
          seen: 40,
          since: 9,
        }),
      ).toBe(at(40).toISOString());
      // Ready (in whole seconds) before the applying pass was done: healthy when it was.
      expect(
        await rollout('master-d-4', {
          pushed: 50,
          applied: 53,
          seen: 58,
          since: 52,
        }),
      ).toBe(at(53).toISOString());
    },
  );
});
