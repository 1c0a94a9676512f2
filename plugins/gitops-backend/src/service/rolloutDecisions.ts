import type { LoggerService } from '@backstage/backend-plugin-api';
import {
  stableImageOf,
  type WorkflowState,
} from '@gitops-workflow/plugin-gitops-node';
import type { GitopsStore } from '../store/GitopsStore';

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

/**
 * After a pass is recorded: every rollout that pass aborted holds its
 * component at the stable tag, with the abort's message as the reason, so
 * the failed tag is not picked again until a person releases the hold.
 * Placing the same hold twice changes nothing.
 */
export async function holdAbortedRollouts(
  store: GitopsStore,
  key: string,
  workflow: WorkflowState,
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
    await store.placeHold(key, {
      component: rollout.component,
      image: stable.name,
      tag: stable.tag,
      heldBy: ROLLOUT_ACTOR,
      reason: rollout.message,
      automatic: true,
      failedTag: failed.tag,
    });
  }
}
