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

/** The finalizers an Application carries. */
export function finalizersOf(app: KubeObject): string[] {
  return (app.metadata.finalizers as string[] | undefined) ?? [];
}

/** True once someone deleted the Application (it waits for its finalizers). */
export function isDeleting(app: KubeObject): boolean {
  return Boolean(app.metadata.deletionTimestamp);
}

/**
 * Sets an Application's finalizers with a JSON merge patch that carries its
 * `resourceVersion`: a change since it was read is a ConflictError (read
 * again, next pass) instead of someone else's finalizer lost, and a gone
 * Application is a NotFoundError, never re-created as an apply would.
 * Returns the Application as it is now.
 */
async function patchFinalizers(
  client: KubeClient,
  app: KubeObject,
  finalizers: string[],
  fieldManager: string,
): Promise<KubeObject> {
  const { body } = await client.request<KubeObject>(
    'PATCH',
    await client.path({
      ...APPLICATION_GVK,
      namespace: app.metadata.namespace,
      name: app.metadata.name,
    }),
    {
      query: { fieldManager },
      contentType: 'application/merge-patch+json',
      body: {
        metadata: {
          resourceVersion: app.metadata.resourceVersion,
          finalizers,
        },
      },
    },
  );
  return body;
}

/** Adds `finalizer` unless the Application has it; returns the Application as it is now. */
export async function addFinalizer(
  client: KubeClient,
  app: KubeObject,
  finalizer: string,
  fieldManager = DEFAULT_FIELD_MANAGER,
): Promise<KubeObject> {
  const current = finalizersOf(app);
  if (current.includes(finalizer)) return app;
  return patchFinalizers(client, app, [...current, finalizer], fieldManager);
}

/** Removes these finalizers, leaving everyone else's; a no-op when it has none of them. */
export async function removeFinalizers(
  client: KubeClient,
  app: KubeObject,
  finalizers: string[],
  fieldManager = DEFAULT_FIELD_MANAGER,
): Promise<KubeObject> {
  const current = finalizersOf(app);
  if (!current.some(f => finalizers.includes(f))) return app;
  return patchFinalizers(
    client,
    app,
    current.filter(f => !finalizers.includes(f)),
    fieldManager,
  );
}
