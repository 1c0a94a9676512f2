import { ResponseError } from '@backstage/errors';

/** True when the backend answered 404 Not Found. */
export function isNotFound(error: Error): boolean {
  return (error as Partial<ResponseError>).response?.status === 404;
}

/**
 * The backend's own sentence for a failed request (e.g. "No clusters are
 * configured: add gitops.clusters to app-config.yaml"), rather than the
 * generic "Request failed with 404 Not Found".
 */
export function backendMessage(error: Error): string {
  return (
    (error as Partial<ResponseError>).body?.error?.message ?? error.message
  );
}
