import type { ImageHistoryEntry } from '@gitops-workflow/plugin-gitops-common';
import { describeObject, groupOf, type KubeObject } from '../kube/objects';
import type { RollbackPolicy } from '../model/kustomize';
import { assessHealth } from './health';

/** What the bot's newest commit for a component reached so far (a row of its image history). */
export type RolloutUpdate = Pick<
  ImageHistoryEntry,
  'image' | 'action' | 'appliedAt' | 'healthyAt' | 'failedAt' | 'rolledBackAt'
>;

export type RolloutVerdict = { failed: false } | { failed: true; why: string };

/** The kinds whose pods run a component's image, and whose rollout can fail. */
const WORKLOAD_KINDS: ReadonlySet<string> = new Set([
  'apps/Deployment',
  'apps/StatefulSet',
  'apps/DaemonSet',
]);

/** Whether objects of this kind run pods whose rollout `assessRollout` judges. */
export function isRolloutWorkload(ref: { group: string; kind: string }) {
  return WORKLOAD_KINDS.has(`${ref.group}/${ref.kind}`);
}

/** Whether a workload's pod template has a container of `image` (any tag or digest). */
function runsImage(workload: KubeObject, image: string): boolean {
  const pod = (
    workload.spec as
      | {
          template?: {
            spec?: Record<string, Array<{ image?: unknown }> | undefined>;
          };
        }
      | undefined
  )?.template?.spec;
  return [...(pod?.containers ?? []), ...(pod?.initContainers ?? [])].some(
    c =>
      typeof c.image === 'string' &&
      (c.image.startsWith(`${image}:`) || c.image.startsWith(`${image}@`)),
  );
}

const NOT_JUDGED: RolloutVerdict = { failed: false };

/**
 * Whether a component's newest image update failed to roll out, so that its
 * automatic rollback should commit the previous tag back. Pure: the caller
 * reads the live workloads and the history row.
 *
 * It failed when a workload running the image is kstatus `Failed` (a
 * Deployment past its `progressDeadlineSeconds`, a crash-looping pod), or
 * when one is still `InProgress` `policy.after` after the update was
 * applied. Never judged: a component without the policy, an update not
 * applied yet, one that was healthy once (later trouble is not this
 * rollout's), one already judged failed or rolled back, and a rollback's
 * own commit (judging it would roll back to the tag that failed).
 * A workload missing or unreadable is not the image's failure.
 */
export function assessRollout(input: {
  update: RolloutUpdate | undefined;
  /** The component's live workloads (any kind; only those running the image are judged). */
  workloads: ReadonlyArray<KubeObject>;
  policy: RollbackPolicy | undefined;
  now: Date;
}): RolloutVerdict {
  const { update, policy, now } = input;
  if (!policy?.onFailure || !update?.appliedAt) return NOT_JUDGED;
  if (update.healthyAt || update.failedAt || update.rolledBackAt)
    return NOT_JUDGED;
  if (update.action === 'rollback' || update.action === 'automaticRollback')
    return NOT_JUDGED;
  const judged = input.workloads
    .filter(
      w =>
        isRolloutWorkload({ group: groupOf(w.apiVersion), kind: w.kind }) &&
        runsImage(w, update.image),
    )
    .map(w => ({ name: describeObject(w), health: assessHealth(w) }));

  const failed = judged.find(w => w.health.status === 'Failed');
  if (failed) {
    return {
      failed: true,
      why: `${failed.name} failed (${failed.health.reason ?? 'Failed'}): ${
        failed.health.message
      }`,
    };
  }
  const appliedFor = now.getTime() - new Date(update.appliedAt).getTime();
  const waiting = judged.find(w => w.health.status === 'InProgress');
  if (waiting && appliedFor >= policy.afterMs) {
    return {
      failed: true,
      why: `not healthy ${policy.after} after it was applied: ${waiting.name}: ${waiting.health.message}`,
    };
  }
  return NOT_JUDGED;
}
