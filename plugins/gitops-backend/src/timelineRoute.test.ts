import {
  mockCredentials,
  mockServices,
  startTestBackend,
  TestDatabases,
} from '@backstage/backend-test-utils';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import { TimelineResponse } from '@gitops-workflow/plugin-gitops-common';
import request from 'supertest';
import { gitopsPlugin } from './plugin';
import { GitopsStore } from './store/GitopsStore';

const REGISTRY_SECRET = 'registry-secret-0123456789';
const APP = 'local/default/web';
const PUSHED = '2026-12-01T16:00:00.250Z';

// A loopback port nothing listens on: the backend's own records are all the timeline reads.
const config = {
  gitops: {
    clusters: [
      { name: 'local', url: 'https://127.0.0.1:9', token: 'cluster-token' },
    ],
    webhooks: { registrySecret: REGISTRY_SECRET },
  },
};

describe('GET /applications/:namespace/:name/timeline', () => {
  const databases = TestDatabases.create({ ids: ['SQLITE_3'] });

  async function start(
    permissions:
      | AuthorizeResult.ALLOW
      | AuthorizeResult.DENY = AuthorizeResult.ALLOW,
  ) {
    const knex = await databases.init('SQLITE_3');
    const { server } = await startTestBackend({
      features: [
        gitopsPlugin,
        mockServices.rootConfig.factory({ data: config }),
        mockServices.database.factory({ knex }),
        mockServices.permissions.factory({ result: permissions }),
      ],
    });
    // The plugin migrated this database; the test writes what passes would.
    const store = new GitopsStore(knex);
    return { server, store };
  }

  it("measures lead time from the registry's push notification to healthy", async () => {
    const { server, store } = await start();
    // The registry tells of the push; nothing listens at the cluster, so the sync it asks for is refused.
    const notified = await request(server)
      .post('/api/gitops/webhooks/registry')
      .set({
        'content-type': 'application/json',
        authorization: `Bearer ${REGISTRY_SECRET}`,
      })
      .send({
        events: [
          {
            id: 'event-1',
            action: 'push',
            timestamp: PUSHED,
            target: { repository: 'team/web', tag: '1.4.0' },
            request: { host: '127.0.0.1:5000' },
          },
        ],
      });
    expect(notified.status).toBe(503);
    await store.addImageUpdate(APP, {
      component: 'web',
      image: '127.0.0.1:5000/team/web',
      oldTag: '1.3.9',
      newTag: '1.4.0',
      policy: 'semver ^1',
      commitSha: 'd'.repeat(40),
      trigger: 'webhook',
      detectedAt: '2026-12-01T16:00:01.500Z',
      pushedAt: '2026-12-01T16:00:02.000Z',
      action: 'update',
    });
    await store.markRollout(APP, 'applied', new Date('2026-12-01T16:00:03Z'));
    await store.markRollout(APP, 'healthy', new Date('2026-12-01T16:00:09Z'));

    const res = await request(server)
      .get('/api/gitops/applications/default/web/timeline')
      .query({ from: '2026-12-01T00:00:00Z', to: '2026-12-02T00:00:00Z' })
      .set('Authorization', mockCredentials.user.header());

    expect(res.status).toBe(200);
    const body: TimelineResponse = res.body;
    expect(body.events.map(e => [e.at, e.kind])).toEqual([
      [PUSHED, 'tagPushed'],
      ['2026-12-01T16:00:01.500Z', 'picked'],
      ['2026-12-01T16:00:02.000Z', 'committed'],
      ['2026-12-01T16:00:03.000Z', 'applied'],
      ['2026-12-01T16:00:09.000Z', 'healthy'],
    ]);
    expect(body.dora).toMatchObject({
      rollouts: 1,
      deployments: 1,
      deploymentsPerDay: 1,
      leadTime: { samples: 1, fromTagPush: 1, medianMs: 8750, p90Ms: 8750 },
      changeFailureRate: 0,
    });
  });

  it('says what is wrong with a window', async () => {
    const { server } = await start();
    const res = await request(server)
      .get('/api/gitops/applications/default/web/timeline')
      .query({ from: '2026-12-02T00:00:00Z', to: '2026-12-01T00:00:00Z' })
      .set('Authorization', mockCredentials.user.header());
    expect(res.status).toBe(400);
    expect(res.body.error.message).toBe('from must be before to');
  });

  it('refuses a user without the read permission', async () => {
    const { server } = await start(AuthorizeResult.DENY);
    const res = await request(server)
      .get('/api/gitops/applications/default/web/timeline')
      .set('Authorization', mockCredentials.user.header());
    expect(res.status).toBe(403);
    expect(res.body.error.message).toContain('gitops.application.read');
  });
});
