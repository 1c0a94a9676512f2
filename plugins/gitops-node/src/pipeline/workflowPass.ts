import { isError } from '@backstage/errors';
import { parseApplication } from '../model/parse';
import type { DefinitionRegistry } from '../render/definitions';
import { computeStatus } from '../record/status';
import type { ApplicationStatus, KubeObject } from '../model/types';
import type { KubeClient } from '../kube/client';
import { stableStringify } from '../apply/apply';
import { writeStatus } from '../applications/applications';
import type { WorkflowExecutor } from '../workflow/execute';
import type { WorkflowPhase, WorkflowState } from '../workflow/types';

/** True when an Application needs the workflow engine: steps, or placement/override policies. */
export function usesWorkflow(object: KubeObject): boolean {
  const spec = object.spec as
    | { workflow?: { steps?: unknown[] }; policies?: Array<{ type?: string }> }
    | undefined;
  return (
    Boolean(spec?.workflow?.steps?.length) ||
    (spec?.policies ?? []).some(
      p => p.type === 'topology' || p.type === 'override',
    )
  );
}

export interface WorkflowReconcileResult {
  status: ApplicationStatus;
  /** Persist it for the next pass; absent when the Application did not parse. */
  state?: WorkflowState;
  phase?: WorkflowPhase;
  failure?: { stage: 'parse' | 'render'; message: string };
}

/**
 * One reconcile of an Application with a workflow: parse, one pass of the
 * executor from the persisted state, and the status in KubeVela's shape
 * (conditions from `computeStatus`, the run's workflow, services and
 * resources), written only when it changed.
 */
export async function reconcileWorkflow(
  client: KubeClient,
  object: KubeObject,
  options: {
    executor: WorkflowExecutor;
    state?: WorkflowState;
    cluster: string;
    registry?: DefinitionRegistry;
  },
): Promise<WorkflowReconcileResult> {
  const previous = object.status as ApplicationStatus | undefined;
  const metadata = {
    name: object.metadata.name,
    namespace: object.metadata.namespace ?? 'default',
    generation: object.metadata.generation as number | undefined,
  };
  const write = async (status: ApplicationStatus) => {
    if (stableStringify(status) !== stableStringify(previous ?? {})) {
      await writeStatus(client, { metadata }, status);
    }
  };
  const fail = async (stage: 'parse' | 'render', error: unknown) => {
    const failure = {
      stage,
      message: isError(error) ? error.message : String(error),
    };
    const status = computeStatus({
      app: { metadata },
      failure,
      previous,
      cluster: options.cluster,
    });
    await write(status);
    return { status, failure };
  };

  let app;
  try {
    app = parseApplication(object, { registry: options.registry });
  } catch (error) {
    return fail('parse', error);
  }
  let pass;
  try {
    pass = await options.executor.run(app, options.state);
  } catch (error) {
    // An invalid workflow (unknown step, cycle, bad duration) runs nothing.
    return fail('render', error);
  }
  const status: ApplicationStatus = {
    ...computeStatus({
      app,
      workflowPhase: pass.phase,
      previous,
      cluster: options.cluster,
    }),
    ...pass.status,
  };
  await write(status);
  return { status, state: pass.state, phase: pass.phase as WorkflowPhase };
}
