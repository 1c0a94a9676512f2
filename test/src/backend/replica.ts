/*
 * One backend replica as its own process, for the multi-replica test: the
 * gitops plugin on Backstage's default services, configured by the
 * `--config` files on the command line. A failed startup ends the process,
 * so the test says why at once instead of waiting for readiness.
 */
import { createBackend } from '@backstage/backend-defaults';

const backend = createBackend();
backend.add(import('@gitops-workflow/plugin-gitops-backend'));
backend.start().catch(error => {
  console.error(error);
  process.exit(1);
});
