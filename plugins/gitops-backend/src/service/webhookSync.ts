import { CacheService, LoggerService } from '@backstage/backend-plugin-api';
import { ServiceUnavailableError } from '@backstage/errors';
import { KubeObject } from '@gitops-workflow/plugin-gitops-node';
import { EventsService } from '@backstage/plugin-events-node';
import { ClusterService } from './ClusterService';
import { ReconcileLoop } from './ReconcileLoop';
import type { GitopsStore } from '../store/GitopsStore';
import {
  applicationsForImages,
  applicationsForRepository,
  pushedRepository,
  TagPush,
} from './webhooks';

/** What a webhook answers: the Applications it asked to sync (`cluster/namespace/name`). */
export interface WebhookResponse {
  applications: string[];
  /** Set when the delivery was seen before and nothing was done. */
  duplicate?: boolean;
}

/**
 * How long a delivery id is remembered. Git hosts redeliver within hours;
 * a replay later than this only asks for a sync, which is idempotent.
 */
export const DELIVERY_TTL_MS = 24 * 3600_000;

/**
 * Turns a push (of images or to a repository) into sync requests for the
 * Applications that watch it: the one path every webhook takes, whether it
 * came through our own routes or Backstage's events system. Deliveries are
 * remembered by id in the cache service (shared by replicas when the
 * backend's cache is), so a redelivered or replayed one does nothing.
 */
export class WebhookSync {
  constructor(
    private readonly options: {
      matchLabels: Record<string, string>;
      clusters: ClusterService;
      /** Absent when no cluster is configured. */
      loop?: ReconcileLoop;
      cache: CacheService;
      logger: LoggerService;
      /** Keeps when each tag was pushed: the start of its rollout's lead time. */
      store: Pick<GitopsStore, 'recordTagPushes'>;
    },
  ) {}

  /**
   * True the first time a delivery id is offered, false after: the caller
   * then ignores it. Two copies arriving at the very same moment may both
   * pass; each only asks for a sync.
   */
  async firstDelivery(source: string, id: string | undefined) {
    if (!id) return true;
    const key = `webhook-delivery:${source}:${id}`;
    if (await this.options.cache.get(key)) {
      this.options.logger.info(
        `Ignoring ${source} delivery ${id}: it was received before`,
      );
      return false;
    }
    await this.options.cache.set(key, true, { ttl: DELIVERY_TTL_MS });
    return true;
  }

  /**
   * Keeps the push times of `pushes`, and asks for a sync of the
   * Applications whose image automation watches one of their images.
   */
  async tagsPushed(pushes: TagPush[]): Promise<WebhookResponse> {
    if (pushes.length === 0) return { applications: [] };
    await this.options.store.recordTagPushes(pushes);
    const images = [...new Set(pushes.map(p => p.image))];
    const { cluster, apps } = await this.homeApplications();
    return this.syncAll(
      cluster,
      applicationsForImages(apps, images),
      `Registry push of ${images.join(', ')}`,
    );
  }

  /** Sync requests for the Applications synced from the repository (and branch) a push event names. */
  async repositoryPushed(event: unknown): Promise<WebhookResponse> {
    const pushed = pushedRepository(event);
    const { cluster, apps } = await this.homeApplications();
    return this.syncAll(
      cluster,
      applicationsForRepository(apps, pushed),
      `Git push to ${pushed.urls[0]}${
        pushed.branch ? ` (${pushed.branch})` : ''
      }`,
    );
  }

  private async homeApplications(): Promise<{
    cluster: string;
    apps: KubeObject[];
  }> {
    const { clusters, loop, matchLabels } = this.options;
    const home = clusters.home;
    if (!home || !loop) {
      throw new ServiceUnavailableError(
        'No clusters are configured: add gitops.clusters to app-config.yaml',
      );
    }
    const { items, errors } = await clusters.listApplications(matchLabels);
    const failed = errors.find(e => e.cluster === home.name);
    if (failed)
      throw new ServiceUnavailableError(
        `Could not list Applications: ${failed.error}`,
      );
    return {
      cluster: home.name,
      apps: items.filter(i => i.cluster === home.name).map(i => i.object),
    };
  }

  private async syncAll(
    cluster: string,
    apps: KubeObject[],
    what: string,
  ): Promise<WebhookResponse> {
    const keys = apps.map(app =>
      ReconcileLoop.keyOf(
        cluster,
        app.metadata.namespace ?? 'default',
        app.metadata.name,
      ),
    );
    for (const key of keys)
      await this.options.loop!.requestSync(key, 'webhook');
    this.options.logger.info(
      `${what}: ${
        keys.length ? `syncing ${keys.join(', ')}` : 'no Application watches it'
      }`,
    );
    return { applications: keys };
  }
}

/**
 * Push events that Backstage's events backend received and checked: its
 * GitHub module verifies `X-Hub-Signature-256` and publishes `github.push`,
 * its GitLab module checks `X-Gitlab-Token` and publishes `gitlab.push`.
 */
export const WEBHOOK_TOPICS = ['github.push', 'gitlab.push'];

/** The delivery id each Git host puts in its headers (the events backend passes them as metadata). */
export function deliveryOf(
  topic: string,
  metadata: Record<string, string | string[] | undefined> | undefined,
): { source: string; id?: string } {
  const header = (name: string) => {
    const value = metadata?.[name];
    return Array.isArray(value) ? value[0] : value;
  };
  return topic.startsWith('gitlab.')
    ? { source: 'gitlab', id: header('x-gitlab-event-uuid') }
    : { source: 'github', id: header('x-github-delivery') };
}

/** Subscribes to Git push events from the events system; each is synced once per delivery id. */
export async function subscribeToPushEvents(options: {
  events: EventsService;
  sync: WebhookSync;
  logger: LoggerService;
}): Promise<void> {
  const { events, sync, logger } = options;
  await events.subscribe({
    // One id for every replica: the event bus hands each event to one of them.
    id: 'gitops-webhooks',
    topics: WEBHOOK_TOPICS,
    async onEvent({ topic, eventPayload, metadata }) {
      const delivery = deliveryOf(topic, metadata);
      try {
        if (!(await sync.firstDelivery(delivery.source, delivery.id))) return;
        await sync.repositoryPushed(eventPayload);
      } catch (error) {
        // The sender got its 202 long ago: the log is the only place to say it.
        logger.warn(
          `Could not handle ${topic} delivery ${delivery.id ?? '(no id)'}: ${
            (error as Error).message
          }`,
        );
      }
    },
  });
}
