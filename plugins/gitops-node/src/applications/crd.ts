import { promises as fs } from 'node:fs';
import { resolvePackagePath } from '@backstage/backend-plugin-api';
import { parse } from 'yaml';
import type { KubeObject } from '../model/types';
import { DEFAULT_FIELD_MANAGER, waitForCrd } from '../apply/apply';
import type { KubeClient } from '../kube/client';

/** Where the shipped Application CRD (`applications.core.oam.dev`) lives. */
export function applicationCrdPath(): string {
  return resolvePackagePath(
    '@gitops-workflow/plugin-gitops-node',
    'crds/application.yaml',
  );
}

/**
 * Installs (or updates) the Application CRD and waits until the API server
 * serves it. Not for clusters where KubeVela runs: it owns this CRD there.
 */
export async function installApplicationCrd(
  client: KubeClient,
  options: { fieldManager?: string; timeoutMs?: number } = {},
): Promise<void> {
  const crd = parse(
    await fs.readFile(applicationCrdPath(), 'utf8'),
  ) as KubeObject;
  await client.apply(crd, {
    fieldManager: options.fieldManager ?? DEFAULT_FIELD_MANAGER,
  });
  await waitForCrd(client, crd, options.timeoutMs ?? 60_000);
}
