/*
 * One backend replica as its own process, for the multi-replica test: the
 * gitops plugin on Backstage's default services, configured by the
 * `--config` files on the command line.
 */
import { createBackend } from '@backstage/backend-defaults';

const backend = createBackend();
backend.add(import('@gitops-workflow/plugin-gitops-backend'));
backend.start();
