import { LoggerService, SchedulerService } from '@backstage/backend-plugin-api';
import { GitopsStore } from '../store/GitopsStore';

export const HOUSEKEEPING_TASK_ID = 'gitops-history-retention';

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Deletes reconcile runs, image history and audit entries older than the retention, once a
 * day (and at start-up). Global scope: one replica does it per day.
 */
export async function scheduleHousekeeping(options: {
  scheduler: SchedulerService;
  store: GitopsStore;
  logger: LoggerService;
  retentionDays: number;
}): Promise<void> {
  const { scheduler, store, logger, retentionDays } = options;
  await scheduler.scheduleTask({
    id: HOUSEKEEPING_TASK_ID,
    frequency: { hours: 24 },
    timeout: { minutes: 10 },
    scope: 'global',
    fn: async () => {
      const cutoff = new Date(Date.now() - retentionDays * DAY_MS);
      const { runs, images, audit } = await store.deleteHistoryBefore(cutoff);
      logger.info(
        `History older than ${retentionDays} days deleted: ${runs} reconcile runs, ${images} image updates, ${audit} audit entries`,
      );
    },
  });
}
