import { LoggerService } from '@backstage/backend-plugin-api';
import {
  InputError,
  NotFoundError,
  ServiceUnavailableError,
} from '@backstage/errors';
import { KubeObject } from '@gitops-workflow/plugin-gitops-node';
import express from 'express';
import Router from 'express-promise-router';
import { GitopsConfig } from './config';
import { ClusterService } from './service/ClusterService';
import { ReconcileLoop } from './service/ReconcileLoop';
import {
  applicationsForImages,
  applicationsForRepository,
  checkFreshness,
  pushedImages,
  pushedRepository,
  verifyBearer,
  verifyHmac,
} from './service/webhooks';

export interface WebhookRouterOptions {
  webhooks: GitopsConfig['webhooks'];
  matchLabels: Record<string, string>;
  clusters: ClusterService;
  /** Absent when no cluster is configured. */
  loop?: ReconcileLoop;
  logger: LoggerService;
}

/** What a webhook answers: the Applications it asked to sync (`cluster/namespace/name`). */
export interface WebhookResponse {
  applications: string[];
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new InputError('The body is not JSON');
  }
}

/**
 * `POST /webhooks/registry` and `POST /webhooks/git`: open to callers without
 * Backstage credentials (registries and Git hosts have none), so every
 * request proves itself with the shared secret before anything is read.
 * Signatures need the body as sent, so these routes parse it themselves.
 */
export function createWebhookRouter(
  options: WebhookRouterOptions,
): express.Router {
  const { webhooks, matchLabels, clusters, loop, logger } = options;
  const router = Router();
  const raw = express.raw({ type: () => true, limit: '1mb' });

  async function homeApplications(): Promise<{
    cluster: string;
    apps: KubeObject[];
  }> {
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

  async function syncAll(
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
    for (const key of keys) await loop!.requestSync(key, 'webhook');
    logger.info(
      `${what}: ${
        keys.length ? `syncing ${keys.join(', ')}` : 'no Application watches it'
      }`,
    );
    return { applications: keys };
  }

  router.post('/webhooks/registry', raw, async (req, res) => {
    const secret = webhooks.registrySecret;
    if (!secret) {
      throw new NotFoundError(
        'The registry webhook is off: set gitops.webhooks.registrySecret',
      );
    }
    verifyBearer(req.header('authorization'), secret);
    checkFreshness(req.header('x-timestamp'));
    const images = pushedImages(parseJson(req.body));
    let body: WebhookResponse = { applications: [] };
    if (images.length) {
      const { cluster, apps } = await homeApplications();
      body = await syncAll(
        cluster,
        applicationsForImages(apps, images),
        `Registry push of ${images.join(', ')}`,
      );
    }
    res.status(202).json(body);
  });

  router.post('/webhooks/git', raw, async (req, res) => {
    const secret = webhooks.gitSecret;
    if (!secret) {
      throw new NotFoundError(
        'The Git webhook is off: set gitops.webhooks.gitSecret',
      );
    }
    const timestamp = req.header('x-timestamp');
    verifyHmac(
      req.body,
      {
        github: req.header('x-hub-signature-256'),
        generic: req.header('x-signature'),
        timestamp,
      },
      secret,
    );
    checkFreshness(timestamp);
    // GitHub's hello when a hook is created: signed, but nothing was pushed.
    if (req.header('x-github-event') === 'ping') {
      res.status(202).json({ applications: [] });
      return;
    }
    const pushed = pushedRepository(parseJson(req.body));
    const { cluster, apps } = await homeApplications();
    const body = await syncAll(
      cluster,
      applicationsForRepository(apps, pushed),
      `Git push to ${pushed.urls[0]}${
        pushed.branch ? ` (${pushed.branch})` : ''
      }`,
    );
    res.status(202).json(body);
  });

  return router;
}
