/*
 * Jest global teardown: a test file that failed before its afterAll, or a
 * worker that crashed, may have left servers running. Everything owned by this
 * Jest process or its workers is killed and its temp dir removed, so no
 * process survives the test command. Other runs' servers are left alone.
 */
import type { Postgres } from '../postgres';
import { reapOrphans } from '../process';
import { POSTGRES_HANDLE } from './globalSetup';

export default async function globalTeardown(): Promise<void> {
  await ((globalThis as Record<symbol, unknown>)[POSTGRES_HANDLE] as Postgres | undefined)?.stop();
  const cleaned = reapOrphans({ ownedBy: process.pid });
  if (cleaned.length > 0) {
    process.stderr.write(
      `test/infra: stopped servers a test left running: ${cleaned.join(
        ', ',
      )}\n`,
    );
  }
}
