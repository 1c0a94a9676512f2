import { Entity } from '@backstage/catalog-model';
import { useApi } from '@backstage/core-plugin-api';
import {
  GITOPS_APPLICATION_ANNOTATION,
  parseApplicationRef,
} from '@gitops-workflow/plugin-gitops-common';
import { gitopsApiRef } from '../../api';
import { usePolling } from './usePolling';

/** True when the entity names an Application in its annotations. */
export function isGitopsAvailable(entity: Entity): boolean {
  return Boolean(entity.metadata.annotations?.[GITOPS_APPLICATION_ANNOTATION]);
}

/** The Application reference in an entity's annotation, or why it is unusable. */
export function applicationRefOf(entity: Entity) {
  const value =
    entity.metadata.annotations?.[GITOPS_APPLICATION_ANNOTATION] ?? '';
  const parsed = parseApplicationRef(value);
  return {
    value,
    ref: 'ref' in parsed ? parsed.ref : undefined,
    annotationError: 'error' in parsed ? parsed.error : undefined,
  };
}

/** Loads the Application an entity is annotated with, and keeps it fresh. */
export function useApplication(entity: Entity) {
  const api = useApi(gitopsApiRef);
  const { value, ref, annotationError } = applicationRefOf(entity);
  const state = usePolling(async () => {
    if (!ref) throw new Error(annotationError);
    return api.getApplication(ref);
  }, [api, value]);
  return { ...state, ref, annotationError };
}
