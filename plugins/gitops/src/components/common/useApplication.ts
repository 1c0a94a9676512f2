import { Entity } from '@backstage/catalog-model';
import { useApi } from '@backstage/core-plugin-api';
import {
  GITOPS_APPLICATION_ANNOTATION,
  parseApplicationRef,
} from '@gitops-workflow/plugin-gitops-common';
import useAsyncRetry from 'react-use/esm/useAsyncRetry';
import { gitopsApiRef } from '../../api';

/** True when the entity names an Application in its annotations. */
export function isGitopsAvailable(entity: Entity): boolean {
  return Boolean(entity.metadata.annotations?.[GITOPS_APPLICATION_ANNOTATION]);
}

/** Loads the Application an entity is annotated with. */
export function useApplication(entity: Entity) {
  const api = useApi(gitopsApiRef);
  const value = entity.metadata.annotations?.[GITOPS_APPLICATION_ANNOTATION] ?? '';
  const parsed = parseApplicationRef(value);
  const state = useAsyncRetry(async () => {
    if ('error' in parsed) throw new Error(parsed.error);
    return api.getApplication(parsed.ref);
  }, [api, value]);
  return {
    ...state,
    ref: 'ref' in parsed ? parsed.ref : undefined,
    annotationError: 'error' in parsed ? parsed.error : undefined,
  };
}
