import { Client } from 'pg';
import { Postgres, startPostgres } from './postgres';

describe('PostgreSQL', () => {
  let pg: Postgres;
  beforeAll(async () => {
    pg = await startPostgres();
  });
  afterAll(async () => {
    await pg?.stop();
  });

  it('answers a query on 127.0.0.1 with the returned credentials', async () => {
    const client = new Client(pg.connection);
    await client.connect();
    try {
      const { rows } = await client.query(
        'SELECT current_database() AS db, 6 * 7 AS answer',
      );
      expect(rows).toEqual([{ db: 'gitops', answer: 42 }]);
    } finally {
      await client.end();
    }
    const wrong = new Client({ ...pg.connection, password: 'wrong' });
    await expect(wrong.connect()).rejects.toThrow(
      /password authentication failed/,
    );
  });
});
