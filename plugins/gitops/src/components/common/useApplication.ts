import { Entity } from '@backstage/catalog-model';
import { useApi } from '@backstage/core-plugin-api';
import {
  applicationAnnotationOf,
  parseApplicationRef,
} from '@gitops-workflow/plugin-gitops-common';
import { gitopsApiRef } from '../../api';
import { usePolling } from './usePolling';

/** True when the entity names an Application in its annotations (the current or the deprecated one). */
export function isGitopsAvailable(entity: Entity): boolean {
  return Boolean(applicationAnnotationOf(entity.metadata.annotations));
}

/** The Application reference in an entity's annotation, or why it is unusable. */
export function applicationRefOf(entity: Entity) {
  const found = applicationAnnotationOf(entity.metadata.annotations);
  const value = found?.value ?? '';
  const parsed = parseApplicationRef(value, found?.annotation);
  return {
    value,
    ref: 'ref' in parsed ? parsed.ref : undefined,
    annotationError: 'error' in parsed ? parsed.error : undefined,
  };
}

/**
 * Loads the Application an entity is annotated with, and again whenever the
 * backend says it changed (polling while it cannot say).
 */
export function useApplication(entity: Entity) {
  const api = useApi(gitopsApiRef);
  const { value, ref, annotationError } = applicationRefOf(entity);
  const state = usePolling(
    async () => {
      if (!ref) throw new Error(annotationError);
      return api.getApplication(ref);
    },
    [api, value],
    { refreshOn: ref },
  );
  return { ...state, ref, annotationError };
}
