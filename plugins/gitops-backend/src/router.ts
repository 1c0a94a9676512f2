import {
  BackstageCredentials,
  HttpAuthService,
  PermissionsService,
} from '@backstage/backend-plugin-api';
import { InputError, NotAllowedError, stringifyError } from '@backstage/errors';
import {
  AuthorizeResult,
  ResourcePermission,
} from '@backstage/plugin-permission-common';
import {
  ApplicationDetails,
  ApplicationListResponse,
  ApplicationRef,
  AuditEntry,
  CloudApproveResponse,
  ClusterListResponse,
  DiffPreview,
  ImageHoldResponse,
  RolloutDecisionResponse,
  Page,
  ResourceTree,
  SyncConfiguration,
  TimelineResponse,
  gitopsReadPermission,
  gitopsCloudApprovePermission,
  gitopsSuspendPermission,
  gitopsSyncPermission,
  gitopsWorkflowResumePermission,
  gitopsRollbackPermission,
  gitopsRolloutPermission,
  parseApplicationRef,
  stringifyApplicationRef,
} from '@gitops-workflow/plugin-gitops-common';
import express, { Request } from 'express';
import Router from 'express-promise-router';
import { ApplicationService, Requester } from './service/ApplicationService';
import { ApplicationEvents } from './service/ApplicationEvents';
import { ClusterService } from './service/ClusterService';
import { DiffPreviewService } from './service/diffPreview';
import { ResourceTreeService } from './service/resourceTree';
import { parseWindow, TimelineService } from './service/timeline';

export interface RouterOptions {
  httpAuth: HttpAuthService;
  permissions: PermissionsService;
  clusters: ClusterService;
  applications: ApplicationService;
  resourceTree: ResourceTreeService;
  diffPreview: DiffPreviewService;
  timeline: TimelineService;
  /** Live updates of open pages. */
  events: ApplicationEvents;
}

function pageOf(req: Request): { limit: number; offset: number } {
  const limit = Number(req.query.limit ?? 20);
  const offset = Number(req.query.offset ?? 0);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
    throw new InputError('limit must be an integer from 1 to 500');
  }
  if (!Number.isInteger(offset) || offset < 0) {
    throw new InputError('offset must be a non-negative integer');
  }
  return { limit, offset };
}

/** An OCI distribution tag. */
const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** The user's entity ref, or a service's subject: who the audit trail names. */
function actorOf(credentials: BackstageCredentials): string {
  const principal = credentials.principal as {
    userEntityRef?: string;
    subject?: string;
  };
  return principal.userEntityRef ?? principal.subject ?? 'unknown';
}

/** Who asked, and the optional `reason` of the request's body. */
function requesterOf(
  req: Request,
  credentials: BackstageCredentials,
): Requester {
  const reason = req.body?.reason;
  if (reason !== undefined && typeof reason !== 'string') {
    throw new InputError('reason must be text, e.g. "0.1.6 leaks memory"');
  }
  if (reason && reason.length > 1000) {
    throw new InputError('reason must be at most 1000 characters');
  }
  return { actor: actorOf(credentials), reason: reason?.trim() || undefined };
}

export async function createRouter(
  options: RouterOptions,
): Promise<express.Router> {
  const { httpAuth, permissions, clusters, applications, timeline } = options;
  const router = Router();
  router.use(express.json());

  /**
   * Authorizes `permission` for the user of the request on the catalog
   * entity the Application `ref` is linked to, so a policy can decide with
   * the catalog's rules (e.g. owners of the entity may sync). For an
   * Application no entity is linked to (or whose entity the catalog cannot
   * tell right now) it asks without a resourceRef, and only an unconditional
   * ALLOW passes: a conditional decision has no entity to hold for.
   */
  async function authorize(
    req: Request,
    permission: ResourcePermission,
    ref: ApplicationRef,
  ) {
    const credentials = await httpAuth.credentials(req);
    let entityRef: string | undefined;
    let unlinked = 'no catalog entity is linked to it';
    try {
      entityRef = await applications.linkedEntityRef(ref);
    } catch (error) {
      unlinked = `its catalog entity could not be looked up (${stringifyError(
        error,
      )})`;
    }
    if (entityRef) {
      const [decision] = await permissions.authorize(
        [{ permission, resourceRef: entityRef }],
        { credentials },
      );
      if (decision.result !== AuthorizeResult.ALLOW) {
        throw new NotAllowedError(
          `Missing permission ${permission.name} on ${entityRef}`,
        );
      }
      return credentials;
    }
    const [decision] = await permissions.authorizeConditional(
      [{ permission }],
      { credentials },
    );
    if (decision.result !== AuthorizeResult.ALLOW) {
      const app = stringifyApplicationRef(ref);
      throw new NotAllowedError(
        `Missing permission ${permission.name} for ${app}: ${unlinked}, so only a policy that allows it for every entity lets you`,
      );
    }
    return credentials;
  }

  function refOf(req: Request): ApplicationRef {
    const cluster = req.query.cluster;
    const parsed = parseApplicationRef(
      [cluster, req.params.namespace, req.params.name]
        .filter(v => typeof v === 'string' && v)
        .join('/'),
    );
    if ('error' in parsed) throw new InputError(parsed.error);
    return parsed.ref;
  }

  /**
   * The read decision for routes about no one Application: DENY refuses;
   * ALLOW or CONDITIONAL (the user may read some Applications) let them on.
   */
  async function readDecision(req: Request) {
    const credentials = await httpAuth.credentials(req);
    const [decision] = await permissions.authorizeConditional(
      [{ permission: gitopsReadPermission }],
      { credentials },
    );
    if (decision.result === AuthorizeResult.DENY) {
      throw new NotAllowedError(
        `Missing permission ${gitopsReadPermission.name}`,
      );
    }
    return { credentials, decision };
  }

  router.get('/clusters', async (req, res) => {
    await readDecision(req);
    const body: ClusterListResponse = { items: await clusters.listClusters() };
    res.json(body);
  });

  router.get('/applications', async (req, res) => {
    const { credentials, decision } = await readDecision(req);
    const body: ApplicationListResponse = await applications.list(credentials);
    if (decision.result === AuthorizeResult.CONDITIONAL) {
      // Only the Applications whose entity (as this user reads the catalog)
      // the policy lets them read; one without an entity needs an ALLOW.
      const linked = body.items.filter(item => item.entityRef);
      const decisions = linked.length
        ? await permissions.authorize(
            linked.map(item => ({
              permission: gitopsReadPermission,
              resourceRef: item.entityRef!,
            })),
            { credentials },
          )
        : [];
      const readable = new Set(
        linked.filter((_, i) => decisions[i].result === AuthorizeResult.ALLOW),
      );
      body.items = body.items.filter(item => readable.has(item));
    }
    res.json(body);
  });

  router.get('/applications/:namespace/:name', async (req, res) => {
    const ref = refOf(req);
    const credentials = await authorize(req, gitopsReadPermission, ref);
    const body: ApplicationDetails = await applications.get(ref, credentials);
    res.json(body);
  });

  router.get('/applications/:namespace/:name/sync-config', async (req, res) => {
    const ref = refOf(req);
    await authorize(req, gitopsReadPermission, ref);
    const body: SyncConfiguration = await applications.syncConfig(ref);
    res.json(body);
  });

  router.get(
    '/applications/:namespace/:name/image-history',
    async (req, res) => {
      const ref = refOf(req);
      await authorize(req, gitopsReadPermission, ref);
      res.json(await applications.imageHistory(ref, pageOf(req)));
    },
  );

  // Server-sent events: `changed` whenever what the Application's page shows changed.
  router.get('/applications/:namespace/:name/events', async (req, res) => {
    const ref = refOf(req);
    await authorize(req, gitopsReadPermission, ref);
    options.events.stream(applications.keyOf(ref), req, res);
  });

  router.get('/applications/:namespace/:name/runs', async (req, res) => {
    const ref = refOf(req);
    await authorize(req, gitopsReadPermission, ref);
    res.json(await applications.runs(ref, pageOf(req)));
  });

  router.get('/applications/:namespace/:name/tree', async (req, res) => {
    const ref = refOf(req);
    await authorize(req, gitopsReadPermission, ref);
    const body: ResourceTree = await options.resourceTree.tree(ref);
    res.json(body);
  });

  // A server-side dry-run goes through the API server's admission as a
  // write does: it takes the sync permission, not read.
  router.post('/applications/:namespace/:name/diff', async (req, res) => {
    const ref = refOf(req);
    await authorize(req, gitopsSyncPermission, ref);
    const body: DiffPreview = await options.diffPreview.preview(ref);
    res.json(body);
  });

  router.get('/applications/:namespace/:name/audit', async (req, res) => {
    const ref = refOf(req);
    await authorize(req, gitopsReadPermission, ref);
    const body: Page<AuditEntry> = await applications.auditTrail(
      ref,
      pageOf(req),
    );
    res.json(body);
  });

  router.get('/applications/:namespace/:name/timeline', async (req, res) => {
    const ref = refOf(req);
    await authorize(req, gitopsReadPermission, ref);
    const body: TimelineResponse = await timeline.timeline(
      applications.keyOf(ref),
      parseWindow(req.query, new Date()),
    );
    res.json(body);
  });

  router.post('/applications/:namespace/:name/sync', async (req, res) => {
    const ref = refOf(req);
    const credentials = await authorize(req, gitopsSyncPermission, ref);
    await applications.requestSync(
      ref,
      'manual',
      requesterOf(req, credentials),
    );
    res
      .status(202)
      .json({ message: `Sync of ${ref.namespace}/${ref.name} started` });
  });

  for (const [action, suspended] of [
    ['suspend', true],
    ['resume', false],
  ] as const) {
    router.post(
      `/applications/:namespace/:name/${action}`,
      async (req, res) => {
        const ref = refOf(req);
        const credentials = await authorize(req, gitopsSuspendPermission, ref);
        await applications.setSuspended(
          ref,
          suspended,
          requesterOf(req, credentials),
        );
        res.json({ suspended });
      },
    );
  }

  router.post(
    '/applications/:namespace/:name/workflow/resume',
    async (req, res) => {
      const ref = refOf(req);
      const credentials = await authorize(
        req,
        gitopsWorkflowResumePermission,
        ref,
      );
      const step = req.body?.step;
      if (step !== undefined && typeof step !== 'string') {
        throw new InputError('step must be the name of a suspended step');
      }
      res.json(
        await applications.resumeWorkflow(
          ref,
          step,
          requesterOf(req, credentials),
        ),
      );
    },
  );

  router.post('/applications/:namespace/:name/rollback', async (req, res) => {
    const ref = refOf(req);
    const credentials = await authorize(req, gitopsRollbackPermission, ref);
    const revision = req.body?.revision;
    if (
      revision !== undefined &&
      (!Number.isInteger(revision) || revision < 1)
    ) {
      throw new InputError('revision must be a revision number, e.g. 2');
    }
    res.json(
      await applications.rollback(ref, revision, requesterOf(req, credentials)),
    );
  });

  router.post(
    '/applications/:namespace/:name/rollback/release',
    async (req, res) => {
      const ref = refOf(req);
      const credentials = await authorize(req, gitopsRollbackPermission, ref);
      res.json(
        await applications.releaseRollback(ref, requesterOf(req, credentials)),
      );
    },
  );

  router.post(
    '/applications/:namespace/:name/images/:component/rollback',
    async (req, res) => {
      const ref = refOf(req);
      const credentials = await authorize(req, gitopsRollbackPermission, ref);
      const to = req.body?.to;
      // The tag is written into YAML in Git: only what a registry accepts as a tag.
      if (typeof to !== 'string' || !IMAGE_TAG.test(to)) {
        throw new InputError(
          'to must be the image tag to roll back to (letters, digits, _ . -; at most 128), e.g. {"to": "0.1.5"}',
        );
      }
      const body: ImageHoldResponse = await applications.rollbackImage(
        ref,
        req.params.component,
        { to },
        requesterOf(req, credentials),
      );
      res.json(body);
    },
  );

  router.post(
    '/applications/:namespace/:name/images/:component/release',
    async (req, res) => {
      const ref = refOf(req);
      const credentials = await authorize(req, gitopsRollbackPermission, ref);
      const body: ImageHoldResponse = await applications.releaseImage(
        ref,
        req.params.component,
        requesterOf(req, credentials),
      );
      res.json(body);
    },
  );

  for (const action of ['promote', 'abort'] as const) {
    router.post(
      `/applications/:namespace/:name/rollouts/:component/${action}`,
      async (req, res) => {
        const ref = refOf(req);
        const credentials = await authorize(req, gitopsRolloutPermission, ref);
        const cluster = req.body?.cluster;
        if (cluster !== undefined && typeof cluster !== 'string') {
          throw new InputError(
            'cluster must be the name of a configured cluster',
          );
        }
        const body: RolloutDecisionResponse = await applications.decideRollout(
          ref,
          req.params.component,
          action,
          cluster,
          requesterOf(req, credentials),
        );
        res.json(body);
      },
    );
  }

  router.post(
    '/applications/:namespace/:name/cloud/:component/approve',
    async (req, res) => {
      const ref = refOf(req);
      const credentials = await authorize(
        req,
        gitopsCloudApprovePermission,
        ref,
      );
      const body: CloudApproveResponse = await applications.approveCloudPlan(
        ref,
        req.params.component,
        requesterOf(req, credentials),
      );
      res.json(body);
    },
  );

  return router;
}
