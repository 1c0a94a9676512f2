import { LoggerService } from '@backstage/backend-plugin-api';
import type { ImageHistoryEntry } from '@gitops-workflow/plugin-gitops-common';
import {
  assessRollout,
  isRolloutWorkload,
  kustomizeComponents,
  rollbackPolicyOf,
  type Application,
  type KubeClient,
  type KubeObject,
} from '@gitops-workflow/plugin-gitops-node';
import type { GitopsStore } from '../store/GitopsStore';

/** Who places the automatic rollback's holds and audit entries. */
export const AUTOMATIC_ROLLBACK_ACTOR = 'gitops:automatic-rollback';

export interface AutomaticRollbackOptions {
  store: GitopsStore;
  /** A client for a configured cluster by name (undefined for one this backend does not know). */
  clientFor: (cluster: string) => KubeClient | undefined;
}

/**
 * Rolls back a failed rollout, for the kustomize components that switch it
 * on (`imageRepository.rollback.onFailure`). After a pass is recorded, it
 * judges each such component's newest image update (`assessRollout`) on
 * its live workloads; a failed one is marked failed, its component is held
 * at the tag before it, and a pass is asked for, which commits that tag
 * back. The hold keeps the failed tag from being picked again until a
 * person releases it, and a row is judged once, so it never loops.
 */
export class AutomaticRollback {
  constructor(private readonly options: AutomaticRollbackOptions) {}

  async afterPass(
    app: Application,
    key: string,
    log: LoggerService,
    now = new Date(),
  ): Promise<void> {
    const guarded = kustomizeComponents(app.spec.components).flatMap(
      ({ component, props }) => {
        const policy = rollbackPolicyOf(props);
        return policy ? [{ component: component.name, policy }] : [];
      },
    );
    // A component without the policy is never touched, not even read.
    if (guarded.length === 0) return;
    const { store } = this.options;
    const [holds, updates] = await Promise.all([
      store.listHolds(key),
      store.latestImageUpdates(
        key,
        guarded.map(g => g.component),
      ),
    ]);
    for (const { component, policy } of guarded) {
      const update = updates.get(component);
      // A held component is a person's (or an earlier rollback's) decision.
      if (!update || holds.some(h => h.component === component)) continue;
      const verdict = assessRollout({
        update,
        workloads: await this.workloadsOf(key, component),
        policy,
        now,
      });
      if (verdict.failed) await this.rollBack(key, update, verdict.why, log);
    }
  }

  /** The component's live workloads on every cluster its inventory names. */
  private async workloadsOf(
    key: string,
    component: string,
  ): Promise<KubeObject[]> {
    const inventories = (await this.options.store.inventories(key)) ?? {};
    const live: KubeObject[] = [];
    for (const [cluster, entries] of Object.entries(inventories)) {
      const client = this.options.clientFor(cluster);
      if (!client) continue;
      for (const entry of entries) {
        if (entry.component !== component || !isRolloutWorkload(entry))
          continue;
        const object = await client.get(entry);
        if (object) live.push(object);
      }
    }
    return live;
  }

  private async rollBack(
    key: string,
    update: ImageHistoryEntry,
    why: string,
    log: LoggerService,
  ): Promise<void> {
    const { store } = this.options;
    const { component, image, oldTag, newTag } = update;
    if (!oldTag) {
      await store.markRolloutFailed(update.id, why);
      log.warn(
        `${image}:${newTag} failed to roll out (${why}); component ${component} ran no tag before it, so there is nothing to roll back to`,
      );
      return;
    }
    // The hold first: should the backend stop right after it, the next
    // pass still rolls back (and the held component is not judged again).
    await store.placeHold(key, {
      component,
      image,
      tag: oldTag,
      digest: (await store.ranImageTag(key, component, oldTag))?.digest,
      heldBy: AUTOMATIC_ROLLBACK_ACTOR,
      reason: why,
      automatic: true,
      failedTag: newTag,
    });
    // The first finding stands: another replica that judged it too stops here.
    if (!(await store.markRolloutFailed(update.id, why))) return;
    await store.appendAudit(key, {
      action: 'automaticRollback',
      actor: AUTOMATIC_ROLLBACK_ACTOR,
      component,
      reason: why,
      summary: `rolled ${component} back from ${newTag} to ${oldTag} automatically`,
    });
    log.warn(
      `Rolling ${component} back from ${image}:${newTag} to ${oldTag}: ${why}`,
    );
    // Inside this shard's tick, the request is served at its next tick.
    await store.requestSync(key, 'poll');
  }
}
