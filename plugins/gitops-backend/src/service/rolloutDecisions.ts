import type { LoggerService } from '@backstage/backend-plugin-api';
import {
  APPLICATION_GVK,
  kustomizeComponents,
  LABEL_APP_NAME,
  LABEL_APP_NAMESPACE,
  LABEL_COMPONENT,
  rollbackPolicyOf,
  stableImageOf,
  type ApplicationComponent,
  type KubeClient,
  type KubeObject,
  type WorkflowState,
} from '@gitops-workflow/plugin-gitops-node';
import type { GitopsStore } from '../store/GitopsStore';
import { ReconcileLoop } from './ReconcileLoop';

/** Who places the holds of aborted rollouts. */
export const ROLLOUT_ACTOR = 'gitops:rollout';

/** `registry/app` and `1.2.3` of `registry/app:1.2.3`; no tag for a digest-only or untagged image. */
function splitImage(image: string): { name: string; tag?: string } {
  const name = image.split('@')[0];
  const colon = name.lastIndexOf(':');
  return colon > name.lastIndexOf('/')
    ? { name: name.slice(0, colon), tag: name.slice(colon + 1) }
    : { name };
}

/** Where the aborting Application lives, and how to read the one that applied it from Git. */
export interface AbortContext {
  app: KubeObject;
  home: { name: string; client: KubeClient };
}

/**
 * The image automation that committed the aborted tag, when the Application
 * was applied from Git by another one (its labels name that Application and
 * its kustomize component) whose component automates this image and has
 * automatic rollback switched on (`imageRepository.rollback.onFailure`).
 */
async function automationOf(
  context: AbortContext,
  image: string,
): Promise<{ key: string; component: string } | undefined> {
  const labels = context.app.metadata.labels ?? {};
  const name = labels[LABEL_APP_NAME];
  const namespace = labels[LABEL_APP_NAMESPACE];
  const component = labels[LABEL_COMPONENT];
  if (!name || !namespace || !component) return undefined;
  const parent = await context.home.client.get({
    ...APPLICATION_GVK,
    namespace,
    name,
  });
  const components = ((parent?.spec as { components?: unknown[] })
    ?.components ?? []) as ApplicationComponent[];
  const found = kustomizeComponents(components).find(
    c =>
      c.component.name === component &&
      c.props.imageRepository?.image === image,
  );
  if (!found || !rollbackPolicyOf(found.props)?.onFailure) return undefined;
  return {
    key: ReconcileLoop.keyOf(context.home.name, namespace, name),
    component,
  };
}

/**
 * After a pass is recorded: every rollout that pass aborted holds its
 * component at the stable tag, with the abort's message as the reason. When
 * the tag came from another Application's image automation that rolls
 * failures back, that automation is held at the stable tag too: its next
 * pass (asked for now) commits the stable tag back to Git, and it does not
 * pick the failed tag again until a person releases the hold. Placing the
 * same hold twice changes nothing.
 */
export async function holdAbortedRollouts(
  store: GitopsStore,
  key: string,
  workflow: WorkflowState,
  context: AbortContext,
  log: LoggerService,
): Promise<void> {
  for (const rollout of workflow.rollouts ?? []) {
    if (!rollout.abortedAt) continue;
    log.warn(
      `Rollout of ${rollout.component} on ${rollout.cluster} ${rollout.message}`,
    );
    const stable = splitImage(stableImageOf(rollout) ?? '');
    const failed = splitImage(rollout.abortedImage ?? '');
    // A new configuration with the same image has no tag to hold.
    if (!stable.tag || !failed.tag || failed.tag === stable.tag) continue;
    const hold = {
      image: stable.name,
      tag: stable.tag,
      heldBy: ROLLOUT_ACTOR,
      reason: rollout.message,
      automatic: true,
      failedTag: failed.tag,
    };
    await store.placeHold(key, { ...hold, component: rollout.component });
    if (failed.name !== stable.name) continue;
    const automation = await automationOf(context, stable.name);
    if (!automation) continue;
    await store.placeHold(automation.key, {
      ...hold,
      component: automation.component,
    });
    log.warn(
      `Holding the image automation of ${automation.key} (${automation.component}) at ${stable.tag}: it commits it back to Git`,
    );
    await store.requestSync(automation.key, 'poll');
  }
}
