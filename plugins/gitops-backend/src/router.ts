import {
  HttpAuthService,
  PermissionsService,
} from '@backstage/backend-plugin-api';
import { InputError, NotAllowedError } from '@backstage/errors';
import {
  AuthorizeResult,
  BasicPermission,
} from '@backstage/plugin-permission-common';
import {
  ApplicationDetails,
  ApplicationListResponse,
  ApplicationRef,
  ClusterListResponse,
  SyncConfiguration,
  gitopsReadPermission,
  gitopsSuspendPermission,
  gitopsSyncPermission,
  gitopsWorkflowResumePermission,
  gitopsRollbackPermission,
  parseApplicationRef,
} from '@gitops-workflow/plugin-gitops-common';
import express, { Request } from 'express';
import Router from 'express-promise-router';
import { ApplicationService } from './service/ApplicationService';
import { ClusterService } from './service/ClusterService';

export interface RouterOptions {
  httpAuth: HttpAuthService;
  permissions: PermissionsService;
  clusters: ClusterService;
  applications: ApplicationService;
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

export async function createRouter(
  options: RouterOptions,
): Promise<express.Router> {
  const { httpAuth, permissions, clusters, applications } = options;
  const router = Router();
  router.use(express.json());

  async function authorize(req: Request, permission: BasicPermission) {
    const credentials = await httpAuth.credentials(req);
    const [decision] = await permissions.authorize([{ permission }], {
      credentials,
    });
    if (decision.result !== AuthorizeResult.ALLOW) {
      throw new NotAllowedError(`Missing permission ${permission.name}`);
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

  router.get('/clusters', async (req, res) => {
    await authorize(req, gitopsReadPermission);
    const body: ClusterListResponse = { items: await clusters.listClusters() };
    res.json(body);
  });

  router.get('/applications', async (req, res) => {
    await authorize(req, gitopsReadPermission);
    const body: ApplicationListResponse = await applications.list();
    res.json(body);
  });

  router.get('/applications/:namespace/:name', async (req, res) => {
    await authorize(req, gitopsReadPermission);
    const body: ApplicationDetails = await applications.get(refOf(req));
    res.json(body);
  });

  router.get('/applications/:namespace/:name/sync-config', async (req, res) => {
    await authorize(req, gitopsReadPermission);
    const body: SyncConfiguration = await applications.syncConfig(refOf(req));
    res.json(body);
  });

  router.get(
    '/applications/:namespace/:name/image-history',
    async (req, res) => {
      await authorize(req, gitopsReadPermission);
      res.json(await applications.imageHistory(refOf(req), pageOf(req)));
    },
  );

  router.get('/applications/:namespace/:name/runs', async (req, res) => {
    await authorize(req, gitopsReadPermission);
    res.json(await applications.runs(refOf(req), pageOf(req)));
  });

  router.post('/applications/:namespace/:name/sync', async (req, res) => {
    await authorize(req, gitopsSyncPermission);
    const ref = refOf(req);
    await applications.requestSync(ref, 'manual');
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
        const credentials = await authorize(req, gitopsSuspendPermission);
        const who =
          (credentials.principal as { userEntityRef?: string }).userEntityRef ??
          'a service';
        await applications.setSuspended(refOf(req), suspended, who);
        res.json({ suspended });
      },
    );
  }

  router.post(
    '/applications/:namespace/:name/workflow/resume',
    async (req, res) => {
      await authorize(req, gitopsWorkflowResumePermission);
      const step = req.body?.step;
      if (step !== undefined && typeof step !== 'string') {
        throw new InputError('step must be the name of a suspended step');
      }
      res.json(await applications.resumeWorkflow(refOf(req), step));
    },
  );

  router.post('/applications/:namespace/:name/rollback', async (req, res) => {
    await authorize(req, gitopsRollbackPermission);
    const revision = req.body?.revision;
    if (
      revision !== undefined &&
      (!Number.isInteger(revision) || revision < 1)
    ) {
      throw new InputError('revision must be a revision number, e.g. 2');
    }
    res.json(await applications.rollback(refOf(req), revision));
  });

  return router;
}
