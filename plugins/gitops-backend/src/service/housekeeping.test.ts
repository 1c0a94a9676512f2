import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { databaseServiceFactory } from '@backstage/backend-defaults/database';
import { mockServices, startTestBackend } from '@backstage/backend-test-utils';
import knexFactory from 'knex';
import { gitopsPlugin } from '../plugin';
import { GitopsStore } from '../store/GitopsStore';

const APP = 'local/default/web';
const DAY_MS = 24 * 60 * 60 * 1000;

describe('history retention', () => {
  let dir: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitops-retention-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  // The plugin's own SQLite file, as the backend's database service names it.
  const openDatabase = () =>
    knexFactory({
      client: 'better-sqlite3',
      connection: { filename: path.join(dir, 'gitops.sqlite') },
      useNullAsDefault: true,
    });

  it('deletes runs and image history past gitops.history.retentionDays when the backend starts, and keeps the rest', async () => {
    const seed = openDatabase();
    const store = await GitopsStore.create(
      mockServices.database({ knex: seed, migrations: { skip: false } }),
    );
    const ago = (days: number) => new Date(Date.now() - days * DAY_MS);
    for (const days of [45, 31, 1]) {
      await store.recordReconcile(APP, {
        run: {
          trigger: 'poll',
          startedAt: ago(days),
          finishedAt: ago(days),
          result: 'succeeded',
        },
        imageUpdates: [],
        nextAt: new Date(),
      });
    }
    for (const days of [40, 2]) {
      await store.addImageUpdate(APP, {
        component: 'web',
        image: 'registry.local/web',
        newTag: `build-${days}`,
        trigger: 'poll',
        detectedAt: ago(days).toISOString(),
      });
    }
    await seed.destroy();

    const backend = await startTestBackend({
      features: [
        gitopsPlugin,
        databaseServiceFactory,
        // The test scheduler runs each task once at start-up, as the daily task's first run.
        mockServices.scheduler.factory(),
        mockServices.rootConfig.factory({
          data: {
            backend: {
              database: {
                client: 'better-sqlite3',
                connection: { directory: dir },
              },
            },
            gitops: { history: { retentionDays: 30 } },
          },
        }),
      ],
    });
    const db = openDatabase();
    try {
      const deadline = Date.now() + 10_000;
      let left: Array<{ started_at: unknown }> = [];
      while (Date.now() < deadline) {
        left = await db('gitops_reconcile_runs').select('started_at');
        if (left.length === 1) break;
        await new Promise(r => setTimeout(r, 100));
      }
      expect(left).toHaveLength(1);
      expect(
        (await db('gitops_image_history').select('new_tag')).map(
          r => r.new_tag,
        ),
      ).toEqual(['build-2']);
    } finally {
      await db.destroy();
      await backend.stop();
    }
  });
});
