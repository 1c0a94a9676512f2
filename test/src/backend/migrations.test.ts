import knexFactory, { Knex } from 'knex';
// The store is internal to the backend; startup runs exactly this call.
// eslint-disable-next-line @backstage/no-forbidden-package-imports
import { GitopsStore } from '@gitops-workflow/plugin-gitops-backend/src/store/GitopsStore';
import { Postgres, startPostgres } from '../infra/postgres';

/*
 * Replicas rolled out together meet a fresh database at the same moment:
 * each must start, whichever migrates first.
 */
describe('replicas migrating one fresh PostgreSQL database at once', () => {
  let postgres: Postgres;
  const clients: Knex[] = [];
  beforeAll(async () => {
    postgres = await startPostgres();
  });
  afterAll(async () => {
    await Promise.all(clients.map(c => c.destroy()));
    await postgres?.stop();
  });

  it('all start, on one schema', async () => {
    const replicas = Array.from({ length: 4 }, () => {
      const client = knexFactory({
        client: 'pg',
        connection: postgres.connection,
      });
      clients.push(client);
      return GitopsStore.create({ getClient: async () => client });
    });
    const results = await Promise.allSettled(replicas);
    expect(results.filter(r => r.status === 'rejected')).toEqual([]);

    const [first] = clients;
    const migrations = await first('knex_migrations').select('name');
    const names = migrations.map(m => m.name);
    expect(names.length).toBeGreaterThan(0);
    expect(new Set(names).size).toBe(names.length);
  });
});
