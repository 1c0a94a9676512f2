import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  AuthService,
  coreServices,
  createBackendModule,
  createServiceFactory,
} from '@backstage/backend-plugin-api';
import { databaseServiceFactory } from '@backstage/backend-defaults/database';
import { schedulerServiceFactory } from '@backstage/backend-defaults/scheduler';
import {
  mockCredentials,
  mockServices,
  startTestBackend,
} from '@backstage/backend-test-utils';
import catalogPlugin from '@backstage/plugin-catalog-backend';
import {
  catalogConditions,
  createCatalogConditionalDecision,
} from '@backstage/plugin-catalog-backend/alpha';
import permissionPlugin from '@backstage/plugin-permission-backend';
import {
  AuthorizeResult,
  isResourcePermission,
  PolicyDecision,
} from '@backstage/plugin-permission-common';
import {
  PermissionPolicy,
  PolicyQuery,
  PolicyQueryUser,
} from '@backstage/plugin-permission-node';
import { policyExtensionPoint } from '@backstage/plugin-permission-node/alpha';
import gitopsPlugin from '@gitops-workflow/plugin-gitops-backend';
import {
  gitopsReadPermission,
  gitopsUpdatePermissions,
} from '@gitops-workflow/plugin-gitops-common';
import request from 'supertest';
import { Cluster, startCluster } from '../infra';
import { installCrd, waitUntil, webserviceApp } from './support';

/*
 * The gitops permissions as permissions on the Application's catalog entity,
 * through the real permission backend, the real catalog (which evaluates
 * isEntityOwner for the policy's conditional decisions), a real cluster and
 * SQLite on disk. Alice owns `owned-service`, Dave owns `dave-service`, Bob
 * owns nothing; `lonely` has no entity.
 */

const MANAGED = { 'gitops.backstage.io/managed': 'true' };
const ALICE = 'user:default/alice';
const BOB = 'user:default/bob';
const CAROL = 'user:default/carol';
const DAVE = 'user:default/dave';
const UPDATES = new Set(gitopsUpdatePermissions.map(p => p.name));

/**
 * The demo backend's rule (owners of the entity may change its Application,
 * everyone may read), plus two users the catalog or the policy restricts:
 * Carol may read only the entities she owns (none), Dave may read only the
 * Applications of the entities he owns.
 */
class OwnersPolicy implements PermissionPolicy {
  async handle(
    query: PolicyQuery,
    user?: PolicyQueryUser,
  ): Promise<PolicyDecision> {
    const { permission } = query;
    if (!isResourcePermission(permission, 'catalog-entity')) {
      return { result: AuthorizeResult.ALLOW };
    }
    const owners = createCatalogConditionalDecision(
      permission,
      catalogConditions.isEntityOwner({
        claims: user?.info.ownershipEntityRefs ?? [],
      }),
    );
    const who = user?.info.userEntityRef;
    if (UPDATES.has(permission.name)) return owners;
    if (who === CAROL && permission.name === 'catalog.entity.read') {
      return owners;
    }
    if (who === DAVE && permission.name === gitopsReadPermission.name) {
      return owners;
    }
    return { result: AuthorizeResult.ALLOW };
  }
}

const policyModule = createBackendModule({
  pluginId: 'permission',
  moduleId: 'owners-policy',
  register(reg) {
    reg.registerInit({
      deps: { policy: policyExtensionPoint },
      async init({ policy }) {
        policy.setPolicy(new OwnersPolicy());
      },
    });
  },
});

/**
 * The test backend's auth service, except that a plugin calling another on
 * a user's behalf sends a user token naming itself as the actor, as the real
 * auth service does. The permission backend refuses a user's request for a
 * resource permission without a resourceRef unless a plugin makes it.
 */
const authWithActor = createServiceFactory({
  service: coreServices.auth,
  deps: { plugin: coreServices.pluginMetadata },
  factory({ plugin }): AuthService {
    const base = mockServices.auth({ pluginId: plugin.getId() });
    return {
      authenticate: (token, options) => base.authenticate(token, options),
      getNoneCredentials: () => base.getNoneCredentials(),
      getOwnServiceCredentials: () => base.getOwnServiceCredentials(),
      isPrincipal: base.isPrincipal.bind(base) as AuthService['isPrincipal'],
      getLimitedUserToken: credentials => base.getLimitedUserToken(credentials),
      listPublicServiceKeys: () => base.listPublicServiceKeys(),
      async getPluginRequestToken(options) {
        const principal = options.onBehalfOf.principal as {
          type: string;
          userEntityRef?: string;
        };
        if (principal.type === 'user' && principal.userEntityRef) {
          return {
            token: mockCredentials.user.token(principal.userEntityRef, {
              actor: { subject: `plugin:${plugin.getId()}` },
            }),
          };
        }
        return base.getPluginRequestToken(options);
      },
    };
  },
});

function component(name: string, application: string, owner: string) {
  return `apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: ${name}
  annotations:
    gitops-workflow.io/application: ${application}
spec:
  type: service
  lifecycle: production
  owner: ${owner}
`;
}

describe('gitops permissions on the Application catalog entity', () => {
  let cluster: Cluster;
  let dir: string;
  let backend: Awaited<ReturnType<typeof startTestBackend>>;

  const as = (user: string, method: 'get' | 'post', url: string) =>
    request(backend.server)
      [method](`/api/gitops${url}`)
      .set('Authorization', mockCredentials.user.header(user));
  const suspended = async () =>
    (await as(ALICE, 'get', '/applications/default/owned')).body.sync.suspended;
  const manualRuns = async () =>
    (
      await as(ALICE, 'get', '/applications/default/owned/runs?limit=500')
    ).body.items.filter((r: any) => r.trigger === 'manual').length;

  beforeAll(async () => {
    cluster = await startCluster();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitops-entity-perms-'));
    await installCrd(cluster);
    for (const name of ['owned', 'daves', 'lonely']) {
      await cluster.kubectl(['apply', '-f', '-'], {
        input: JSON.stringify(webserviceApp(name, MANAGED)),
      });
    }
    fs.writeFileSync(
      path.join(dir, 'catalog-info.yaml'),
      [
        component('owned-service', 'default/owned', ALICE),
        component('dave-service', 'local/default/daves', DAVE),
      ].join('---\n'),
    );
    backend = await startTestBackend({
      features: [
        gitopsPlugin,
        catalogPlugin,
        permissionPlugin,
        policyModule,
        authWithActor,
        schedulerServiceFactory,
        databaseServiceFactory,
        mockServices.rootConfig.factory({
          data: {
            backend: {
              database: {
                client: 'better-sqlite3',
                connection: { directory: path.join(dir, 'db') },
              },
            },
            permission: { enabled: true },
            catalog: {
              locations: [
                { type: 'file', target: path.join(dir, 'catalog-info.yaml') },
              ],
              rules: [{ allow: ['Component', 'Location'] }],
            },
            gitops: {
              clusters: [{ name: 'local', kubeconfig: cluster.kubeconfigPath }],
              selector: { matchLabels: MANAGED },
              cacheDir: path.join(dir, 'clones'),
              tickSeconds: 1,
            },
          },
        }),
      ],
    });
    await waitUntil(
      'both entities linked and owned running',
      async () => {
        const res = await as(ALICE, 'get', '/applications');
        const items: any[] = res.body.items ?? [];
        const owned = items.find(a => a.name === 'owned');
        return owned?.phase === 'running' &&
          owned.entityRef &&
          items.find(a => a.name === 'daves')?.entityRef
          ? true
          : undefined;
      },
      async () => cluster.kubectl(['get', 'applications', '-o', 'yaml']),
      90_000,
    );
  }, 180_000);

  afterAll(async () => {
    await backend?.stop();
    await cluster?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('lets the owner of the entity suspend, resume and sync', async () => {
    const manualBefore = await manualRuns();
    const suspend = await as(
      ALICE,
      'post',
      '/applications/default/owned/suspend',
    );
    expect(suspend.status).toBe(200);
    expect(await suspended()).toBe(true);
    expect(
      (await as(ALICE, 'post', '/applications/default/owned/resume')).status,
    ).toBe(200);
    expect(await suspended()).toBe(false);
    expect(
      (await as(ALICE, 'post', '/applications/default/owned/sync')).status,
    ).toBe(202);
    await waitUntil('the manual run', async () =>
      (await manualRuns()) > manualBefore ? true : undefined,
    );
    // Past the permission check, the workflow says why there is nothing to do.
    const rollback = await as(
      ALICE,
      'post',
      '/applications/default/owned/rollback',
    );
    expect(rollback.status).not.toBe(403);
    expect([404, 409]).toContain(rollback.status);
    const resume = await as(
      ALICE,
      'post',
      '/applications/default/owned/workflow/resume',
    );
    expect([404, 409]).toContain(resume.status);
    const promote = await as(
      ALICE,
      'post',
      '/applications/default/owned/rollouts/owned-server/promote',
    );
    expect([404, 409]).toContain(promote.status);
  });

  it.each([
    'sync',
    'suspend',
    'resume',
    'rollback',
    'rollback/release',
    'workflow/resume',
    'rollouts/owned-server/promote',
    'rollouts/owned-server/abort',
  ])(
    'refuses %s with 403 to a user who does not own the entity, naming the permission and the entity',
    async action => {
      const res = await as(
        BOB,
        'post',
        `/applications/default/owned/${action}`,
      );
      expect(res.status).toBe(403);
      expect(res.body.error.name).toBe('NotAllowedError');
      expect(res.body.error.message).toMatch(
        /^Missing permission gitops\.(application|workflow|rollout)\.\w+ on component:default\/owned-service$/,
      );
    },
  );

  it('changes nothing when someone who does not own the entity suspends or syncs', async () => {
    const manualBefore = await manualRuns();
    expect(
      (await as(BOB, 'post', '/applications/default/owned/suspend')).status,
    ).toBe(403);
    expect(
      (await as(BOB, 'post', '/applications/default/owned/sync')).status,
    ).toBe(403);
    await new Promise(r => setTimeout(r, 2000));
    expect(await suspended()).toBe(false);
    expect(await manualRuns()).toBe(manualBefore);
    // Owning one entity gives nothing on another's Application.
    expect(
      (await as(ALICE, 'post', '/applications/default/daves/sync')).status,
    ).toBe(403);
    expect(
      (await as(DAVE, 'post', '/applications/default/daves/suspend')).status,
    ).toBe(200);
    expect(
      (await as(DAVE, 'post', '/applications/default/daves/resume')).status,
    ).toBe(200);
  });

  it('lets everyone read, as the policy says', async () => {
    for (const user of [ALICE, BOB]) {
      expect(
        (await as(user, 'get', '/applications/default/owned')).status,
      ).toBe(200);
      expect(
        (await as(user, 'get', '/applications/default/owned/runs')).status,
      ).toBe(200);
    }
  });

  it('refuses a conditional permission for an Application no entity is linked to', async () => {
    // Only an unconditional ALLOW would do: there is no entity to own.
    const res = await as(ALICE, 'post', '/applications/default/lonely/sync');
    expect(res.status).toBe(403);
    expect(res.body.error.message).toBe(
      'Missing permission gitops.application.sync for default/lonely: no catalog entity is linked to it, so only a policy that allows it for every entity lets you',
    );
    // Reading it is allowed for everyone, linked or not.
    expect((await as(BOB, 'get', '/applications/default/lonely')).status).toBe(
      200,
    );
  });

  it('reads the catalog on behalf of the user for the list: no entity refs they may not read', async () => {
    const alice = await as(ALICE, 'get', '/applications');
    expect(
      Object.fromEntries(
        alice.body.items.map((a: any) => [a.name, a.entityRef ?? null]),
      ),
    ).toEqual({
      daves: 'component:default/dave-service',
      lonely: null,
      owned: 'component:default/owned-service',
    });
    // Carol may read no entity in the catalog: she sees the Applications, not the links.
    const carol = await as(CAROL, 'get', '/applications');
    expect(carol.status).toBe(200);
    expect(carol.body.items.map((a: any) => a.name)).toEqual([
      'daves',
      'lonely',
      'owned',
    ]);
    expect(carol.body.items.filter((a: any) => a.entityRef)).toEqual([]);
  });

  it('lists only the Applications a conditional read allows', async () => {
    const list = await as(DAVE, 'get', '/applications');
    expect(list.status).toBe(200);
    expect(list.body.items.map((a: any) => [a.name, a.entityRef])).toEqual([
      ['daves', 'component:default/dave-service'],
    ]);
    expect((await as(DAVE, 'get', '/applications/default/daves')).status).toBe(
      200,
    );
    const other = await as(DAVE, 'get', '/applications/default/owned');
    expect(other.status).toBe(403);
    expect(other.body.error.message).toBe(
      'Missing permission gitops.application.read on component:default/owned-service',
    );
    // He may read some Applications, so he may see the clusters they run on.
    expect((await as(DAVE, 'get', '/clusters')).status).toBe(200);
  });
});
