import {
  HttpAuthService,
  PermissionsService,
} from '@backstage/backend-plugin-api';
import { InputError, NotAllowedError } from '@backstage/errors';
import { AuthorizeResult, BasicPermission } from '@backstage/plugin-permission-common';
import {
  ApplicationDetails,
  ClusterListResponse,
  gitopsReadPermission,
  parseApplicationRef,
} from '@gitops-workflow/plugin-gitops-common';
import express, { Request } from 'express';
import Router from 'express-promise-router';
import { ClusterService } from './service/ClusterService';

export interface RouterOptions {
  httpAuth: HttpAuthService;
  permissions: PermissionsService;
  clusters: ClusterService;
}

export async function createRouter(
  options: RouterOptions,
): Promise<express.Router> {
  const { httpAuth, permissions, clusters } = options;
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
  }

  router.get('/clusters', async (req, res) => {
    await authorize(req, gitopsReadPermission);
    const body: ClusterListResponse = { items: await clusters.listClusters() };
    res.json(body);
  });

  router.get('/applications/:namespace/:name', async (req, res) => {
    await authorize(req, gitopsReadPermission);
    const cluster = req.query.cluster;
    const parsed = parseApplicationRef(
      [cluster, req.params.namespace, req.params.name]
        .filter(v => typeof v === 'string' && v)
        .join('/'),
    );
    if ('error' in parsed) throw new InputError(parsed.error);
    const body: ApplicationDetails = await clusters.getApplication(parsed.ref);
    res.json(body);
  });

  return router;
}
