/*
 * Jest global setup for the integration suites: clean up servers left by a
 * previous run that died, and make sure the Kubernetes binaries exist, so a
 * cold build (minutes, with progress on stderr) is not charged to one test's
 * timeout. Each test file starts the servers it needs and stops them in
 * afterAll.
 */
import { buildK8sBinaries } from '../binaries';
import { nodeBinaries, realNodeUnsupported } from '../node';
import { startPostgres } from '../postgres';
import { reapOrphans } from '../process';

/** Where the teardown finds the PostgreSQL server this setup started. */
export const POSTGRES_HANDLE = Symbol.for('gitops.test.postgres');

export default async function globalSetup(): Promise<void> {
  const cleaned = reapOrphans();
  if (cleaned.length > 0) {
    process.stderr.write(
      `test/infra: cleaned up after a dead run: ${cleaned.join(', ')}\n`,
    );
  }
  if (!process.env.KUBEBUILDER_ASSETS && !process.env.GITOPS_KUBE_APISERVER) {
    try {
      buildK8sBinaries();
    } catch (e) {
      // Suites without a cluster still run; startCluster repeats this error.
      process.stderr.write(`test/infra: ${(e as Error).message}\n`);
    }
  }
  // Likewise the real node's binaries, where a real node can run at all.
  if (!realNodeUnsupported()) {
    try {
      nodeBinaries();
    } catch (e) {
      process.stderr.write(`test/infra: ${(e as Error).message}\n`);
    }
  }
  // Store tests (TestDatabases) run against SQLite and, through this
  // variable, a real throw-away PostgreSQL; workers inherit it.
  const postgresVar = 'BACKSTAGE_TEST_DATABASE_POSTGRES17_CONNECTION_STRING';
  if (!process.env[postgresVar]) {
    try {
      const postgres = await startPostgres();
      (globalThis as Record<symbol, unknown>)[POSTGRES_HANDLE] = postgres;
      process.env[postgresVar] = postgres.url;
    } catch (e) {
      process.stderr.write(
        `test/infra: store tests run on SQLite only: ${(e as Error).message}\n`,
      );
    }
  }
}
