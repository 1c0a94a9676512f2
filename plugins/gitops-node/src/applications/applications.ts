import type { ApplicationStatus, KubeObject } from '../model/types';
import { APPLICATION_API_VERSION } from '../model/parse';
import type { KubeClient } from '../kube/client';
import { DEFAULT_FIELD_MANAGER } from '../apply/apply';

const APPLICATION_REF = {
  group: 'core.oam.dev',
  version: 'v1beta1',
  kind: 'Application',
};

/**
 * Writes an Application's status through the status subresource with
 * server-side apply, so fields a previous status had and this one lacks go away
 * and nobody else's status fields are touched.
 */
export async function writeStatus(
  client: KubeClient,
  app: { metadata: { name: string; namespace: string } },
  status: ApplicationStatus,
  fieldManager = DEFAULT_FIELD_MANAGER,
): Promise<KubeObject> {
  return client.apply(
    {
      apiVersion: APPLICATION_API_VERSION,
      kind: 'Application',
      metadata: { name: app.metadata.name, namespace: app.metadata.namespace },
      status,
    },
    { fieldManager, subresource: 'status' },
  );
}

/** Streams changes to Applications in all namespaces; see `KubeClient.watch`. */
export function watchApplications(
  client: KubeClient,
  options: { resourceVersion?: string; signal?: AbortSignal },
  onEvent: (type: string, app: KubeObject) => void,
): Promise<string | undefined> {
  return client.watch(APPLICATION_REF, options, onEvent);
}

/** Applications in one namespace, or in all when `namespace` is undefined. */
export function listApplications(
  client: KubeClient,
  namespace?: string,
): Promise<KubeObject[]> {
  return client.list(APPLICATION_REF, { namespace });
}
