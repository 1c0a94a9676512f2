import { NotFoundError } from '@backstage/errors';
import type { ApplicationStatus, KubeObject } from '../application/types';
import { objectKey, refOf } from '../application/objects';
import { APPLICATION_API_VERSION } from '../application/parse';
import type { KubeClient } from './client';
import { DEFAULT_FIELD_MANAGER } from './apply';

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

/** Applications in one namespace, or in all when `namespace` is undefined. */
export function listApplications(
  client: KubeClient,
  namespace?: string,
): Promise<KubeObject[]> {
  return client.list(APPLICATION_REF, { namespace });
}

/** The current state of objects (e.g. a rendered set, for health), by `objectKey`; missing ones are absent. */
export async function fetchLive(
  client: KubeClient,
  objects: KubeObject[],
): Promise<Map<string, KubeObject>> {
  const live = new Map<string, KubeObject>();
  await Promise.all(
    objects.map(async object => {
      // A kind the cluster no longer serves (its CRD was removed) means the object is gone too.
      const current = await client.get(refOf(object)).catch(error => {
        if (error instanceof NotFoundError) return undefined;
        throw error;
      });
      if (current) live.set(objectKey(object), current);
    }),
  );
  return live;
}
