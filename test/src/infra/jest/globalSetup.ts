/*
 * Jest global setup for the integration suites: clean up servers left by a
 * previous run that died, and make sure the Kubernetes binaries exist, so a
 * cold build (minutes, with progress on stderr) is not charged to one test's
 * timeout. Each test file starts the servers it needs and stops them in
 * afterAll.
 */
import { buildK8sBinaries } from '../binaries';
import { reapOrphans } from '../process';

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
}
