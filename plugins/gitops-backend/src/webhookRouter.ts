import { InputError, NotFoundError } from '@backstage/errors';
import express from 'express';
import Router from 'express-promise-router';
import { GitopsConfig } from './config';
import {
  checkFreshness,
  pushedTags,
  verifyBearer,
  verifyHmac,
} from './service/webhooks';
import { WebhookResponse, WebhookSync } from './service/webhookSync';

export type { WebhookResponse } from './service/webhookSync';

export interface WebhookRouterOptions {
  webhooks: GitopsConfig['webhooks'];
  /** The same sync path the events system's push events take. */
  sync: WebhookSync;
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new InputError('The body is not JSON');
  }
}

/** The ids of a registry notification's events; an envelope whose every event was seen is a redelivery. */
function eventIds(body: unknown): string[] {
  const events = (body as { events?: Array<{ id?: unknown }> })?.events;
  return Array.isArray(events)
    ? events.flatMap(e => (typeof e?.id === 'string' ? [e.id] : []))
    : [];
}

/**
 * `POST /webhooks/registry` and `POST /webhooks/git`: open to callers without
 * Backstage credentials (registries and Git hosts have none), so every
 * request proves itself with the shared secret before anything is read.
 * Signatures need the body as sent, so these routes parse it themselves.
 * GitHub and GitLab can also go through Backstage's events system instead
 * (`/api/events/http/github|gitlab`, see `subscribeToPushEvents`); both paths
 * end in the same `WebhookSync`.
 */
export function createWebhookRouter(
  options: WebhookRouterOptions,
): express.Router {
  const { webhooks, sync } = options;
  const router = Router();
  const raw = express.raw({ type: () => true, limit: '1mb' });

  router.post('/webhooks/registry', raw, async (req, res) => {
    const secret = webhooks.registrySecret;
    if (!secret) {
      throw new NotFoundError(
        'The registry webhook is off: set gitops.webhooks.registrySecret',
      );
    }
    verifyBearer(req.header('authorization'), secret);
    checkFreshness(req.header('x-timestamp'));
    const body = parseJson(req.body);
    const ids = eventIds(body);
    const fresh = await Promise.all(
      ids.map(id => sync.firstDelivery('registry', id)),
    );
    if (ids.length > 0 && !fresh.includes(true)) {
      res.status(202).json({ applications: [], duplicate: true });
      return;
    }
    res.status(202).json(await sync.tagsPushed(pushedTags(body)));
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
    // Checked after the signature, so an unsigned request can't burn an id.
    const github = req.header('x-github-delivery');
    const delivery = github
      ? { source: 'github', id: github }
      : { source: 'git', id: req.header('x-delivery-id') };
    if (!(await sync.firstDelivery(delivery.source, delivery.id))) {
      const duplicate: WebhookResponse = { applications: [], duplicate: true };
      res.status(202).json(duplicate);
      return;
    }
    res.status(202).json(await sync.repositoryPushed(parseJson(req.body)));
  });

  return router;
}
