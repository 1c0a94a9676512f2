import { ServiceUnavailableError } from '@backstage/errors';
import {
  ApplicationRef,
  DiffPreview,
  ObjectDiff,
  ObjectDiffAction,
} from '@gitops-workflow/plugin-gitops-common';
import {
  apiVersionOf,
  type ObjectChange,
  objectDiff,
  type PipelinePreview,
} from '@gitops-workflow/plugin-gitops-node';
import type { ApplicationReconciler } from './ApplicationReconciler';
import type { ApplicationService } from './ApplicationService';

export interface DiffPreviewServiceOptions {
  applications: Pick<ApplicationService, 'reconciled'>;
  /** Absent when no cluster is configured. */
  reconciler?: Pick<ApplicationReconciler, 'preview'>;
  /** The deadline of one whole preview: Git, build and every dry-run. */
  timeoutMs: number;
}

const ACTIONS: Record<ObjectChange['action'], ObjectDiffAction> = {
  created: 'created',
  configured: 'changed',
  unchanged: 'unchanged',
  pruned: 'pruned',
};

/** The HTTP shape of a pipeline preview: one entry per object, changes with their YAML diffs. */
export function diffPreviewOf(
  preview: PipelinePreview,
  generatedAt: Date,
): DiffPreview {
  const counts: DiffPreview['counts'] = {
    created: 0,
    changed: 0,
    unchanged: 0,
    pruned: 0,
  };
  const objects = preview.clusters.flatMap(({ cluster, result }) =>
    result.changes.map(change => {
      const { ref } = change;
      const entry: ObjectDiff = {
        cluster,
        apiVersion: apiVersionOf(ref),
        kind: ref.kind,
        name: ref.name,
        action: ACTIONS[change.action],
      };
      if (ref.namespace) entry.namespace = ref.namespace;
      if (change.objects)
        entry.diff = objectDiff(change.objects.before, change.objects.after);
      if (change.changedFields) entry.changedFields = change.changedFields;
      counts[entry.action]++;
      return entry;
    }),
  );
  const body: DiffPreview = {
    generatedAt: generatedAt.toISOString(),
    revisions: preview.sources.revisions,
    objects,
    counts,
  };
  if (preview.sources.warnings.length) body.warnings = preview.sources.warnings;
  return body;
}

/**
 * What the next sync of an Application would change, on demand: Git's HEAD
 * built read-only and every object dry-run with server-side apply against
 * the live one, within one deadline. Nothing is written to a cluster or Git.
 */
export class DiffPreviewService {
  constructor(private readonly options: DiffPreviewServiceOptions) {}

  async preview(ref: ApplicationRef): Promise<DiffPreview> {
    const { applications, reconciler, timeoutMs } = this.options;
    const { key, object } = await applications.reconciled(ref);
    if (!reconciler) {
      throw new ServiceUnavailableError(
        'No clusters are configured: add gitops.clusters to app-config.yaml',
      );
    }
    const signal = AbortSignal.timeout(timeoutMs);
    const work = reconciler.preview(object, key, signal);
    // A wait no request sees (a clone held by a running sync, a build) still ends at the deadline.
    const deadline = new Promise<never>((_, reject) =>
      signal.addEventListener('abort', () =>
        reject(
          new ServiceUnavailableError(
            `The preview of ${ref.namespace}/${
              ref.name
            } did not finish within ${
              timeoutMs / 1000
            } s (gitops.timeouts.previewSeconds) and was stopped; a sync of it may hold its Git clone: try again in a moment`,
          ),
        ),
      ),
    );
    work.catch(() => undefined); // lost the race: its own error is not this request's
    return diffPreviewOf(await Promise.race([work, deadline]), new Date());
  }
}
