import { ConflictError, ServiceUnavailableError } from '@backstage/errors';
import type { ApplyResult } from '../apply/apply';
import { isDeleting } from '../applications/applications';
import type { KubeObject } from '../kube/objects';
import { kustomizeComponents } from '../model/kustomize';
import { projectFor } from '../model/project';
import type { ApplicationStatus } from '../model/types';
import { parseApplication } from '../render/parse';
import { emptyPreparedSources, type PreparedSources } from '../sources/prepare';
import { applicationToRun, inventoriesFromStatus } from '../workflow/execute';
import type { PipelineContext } from './reconcile';

/**
 * What a preview needs of a pass's context. `sources` should build Git's
 * HEAD read-only (`SourceContext.readOnly`): a preview commits nothing.
 */
export type PreviewContext = Pick<
  PipelineContext,
  | 'home'
  | 'executor'
  | 'definitions'
  | 'sources'
  | 'projects'
  | 'workflow'
  | 'inventories'
>;

/** What the next pass of an Application would change, per cluster it deploys to. */
export interface PipelinePreview {
  /** What the sources stage built: revisions, warnings (never an image update). */
  sources: PreparedSources;
  /** The server-side dry-run of each cluster's objects: changes, and the objects before and after. */
  clusters: Array<{ cluster: string; result: ApplyResult }>;
}

/**
 * The stages of a pass up to apply, with apply as a server-side dry-run:
 * parse → sources → render (per workflow step and target) → dry-run apply
 * and prune. Nothing is written to the cluster, to Git or to the
 * Application's status; a stage that fails throws its own error.
 */
export async function previewPipeline(
  object: KubeObject,
  context: PreviewContext,
): Promise<PipelinePreview> {
  const { home } = context;
  if (isDeleting(object)) {
    throw new ConflictError(
      `Application ${object.metadata.namespace}/${object.metadata.name} is being deleted: its next pass deletes what it deployed`,
    );
  }
  const app = parseApplication(object, { definitions: context.definitions });
  const project = projectFor(app, context.projects ?? [], home.name);
  const sources = emptyPreparedSources();
  // While a rollback is pinned, the next pass builds its revision at the commits it ran.
  const { app: deployed, pinnedRevisions } = applicationToRun(
    app,
    context.workflow,
  );
  if (kustomizeComponents(deployed.spec.components).length > 0) {
    if (!context.sources)
      throw new ServiceUnavailableError(
        'No Git source is configured for kustomize components',
      );
    await context.sources(deployed, sources, project, pinnedRevisions);
  }
  const clusters = await context.executor.preview(app, context.workflow, {
    sources: sources.manifests,
    inventories:
      context.inventories ??
      inventoriesFromStatus(
        object.status as ApplicationStatus | undefined,
        home.name,
      ),
    project,
  });
  return { sources, clusters };
}
