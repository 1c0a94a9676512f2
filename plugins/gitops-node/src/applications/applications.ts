import { DEFAULT_FIELD_MANAGER } from '../apply/apply';
import type { KubeClient } from '../kube/client';
import type { KubeObject } from '../kube/objects';
import {
  APPLICATION_API_VERSION,
  APPLICATION_GVK,
  type ApplicationStatus,
} from '../model/types';

/**
 * Writes an Application's status through the status subresource with
 * server-side apply, so fields a previous status had and this one lacks go away
 * and nobody else's status fields are touched.
 */
export async function writeApplicationStatus(
  client: KubeClient,
  app: { metadata: { name: string; namespace: string } },
  status: ApplicationStatus,
  fieldManager = DEFAULT_FIELD_MANAGER,
): Promise<KubeObject> {
  return client.apply(
    {
      apiVersion: APPLICATION_API_VERSION,
      kind: APPLICATION_GVK.kind,
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
  return client.watch(APPLICATION_GVK, options, onEvent);
}

/** Applications in one namespace, or in all when `namespace` is undefined. */
export function listApplications(
  client: KubeClient,
  namespace?: string,
): Promise<KubeObject[]> {
  return client.list(APPLICATION_GVK, { namespace });
}

/** One Application, or undefined when it does not exist. */
export function getApplication(
  client: KubeClient,
  namespace: string,
  name: string,
): Promise<KubeObject | undefined> {
  return client.get({ ...APPLICATION_GVK, namespace, name });
}
