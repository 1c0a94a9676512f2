import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  coreServices,
  createServiceFactory,
  type PermissionsService,
} from '@backstage/backend-plugin-api';
import { mockCredentials } from '@backstage/backend-test-utils';
import {
  AuthorizeResult,
  type Permission,
} from '@backstage/plugin-permission-common';
import {
  gitopsRollbackPermission,
  type AuditEntry,
  type ImageHistoryEntry,
} from '@gitops-workflow/plugin-gitops-common';
import request from 'supertest';
import { pushImage } from '../infra';
import {
  BRANCH,
  firstVelaWorkflowFile,
  gitAppApplication,
  IMAGE_REPO,
  REPO,
} from '../demo/stack';
import { gitopsCli, useDeliveryStack, waitUntil } from './support';

/*
 * Rollback that stays rolled back, on the real servers: the seed's git-app
 * (its image automation writing first-vela-workflow's image in Git) goes
 * 0.1.5 → 0.1.6; Jane rolls it back to 0.1.5 through the API. One bot
 * commit names her, the Deployment runs 0.1.5 again and keeps it through
 * more polls and a registry webhook for 0.1.6, which the hold only
 * records; John releases it with the CLI and 0.1.6 comes back. The audit
 * trail says who did what and why.
 */

const JANE = 'user:default/jane';
const JOHN = 'user:default/john';
/** May read and sync, not roll back. */
const GUEST = 'user:default/guest';
const REGISTRY_SECRET = 'registry-notification-secret-17';
const COMPONENT = 'gitops';

/** Everything is allowed, except rolling back and releasing for the guest. */
function decide(
  permission: Permission,
  credentials: { principal: unknown },
): AuthorizeResult.ALLOW | AuthorizeResult.DENY {
  const user = (credentials.principal as { userEntityRef?: string })
    .userEntityRef;
  return user === GUEST && permission.name === gitopsRollbackPermission.name
    ? AuthorizeResult.DENY
    : AuthorizeResult.ALLOW;
}

const permissions = createServiceFactory({
  service: coreServices.permissions,
  deps: {},
  factory(): PermissionsService {
    return {
      async authorize(requests, options) {
        return requests.map(r => ({
          result: decide(r.permission, options.credentials),
        }));
      },
      async authorizeConditional(requests, options) {
        return requests.map(r => ({
          result: decide(r.permission, options.credentials),
        }));
      },
    };
  },
});

describe('rolling an image back holds it until a person releases it', () => {
  const stack = useDeliveryStack({
    sourceSecrets: { git: 'my-secret', registry: 'imagesecret' },
    backend: {
      gitops: { webhooks: { registrySecret: REGISTRY_SECRET } },
      features: [permissions],
      registryWebhookSecret: REGISTRY_SECRET,
    },
  });
  let image: string;

  const api = (
    method: 'get' | 'post',
    url: string,
    user?: string,
    body?: object,
  ) =>
    request(stack.backend.server)
      [method](`/api/gitops/applications/default/git-app${url}`)
      .set('Authorization', mockCredentials.user.header(user))
      .send(body);
  /** The real CLI: as `user` through this backend, or straight to the cluster. */
  const gitops = (args: string[], user?: string) =>
    gitopsCli(args, user ? stack.backend : undefined, user);
  const history = async (): Promise<ImageHistoryEntry[]> =>
    (await api('get', '/image-history')).body.items ?? [];
  const audit = async (): Promise<AuditEntry[]> =>
    (await api('get', '/audit?limit=100')).body.items ?? [];
  const deployment = async () =>
    JSON.parse(
      await stack.cluster.kubectl([
        'get',
        'deployment',
        'test-server',
        '-o',
        'json',
      ]),
    );
  /** The Deployment runs `tag`: its template has it and the rollout is done. */
  const runs = async (tag: string) => {
    const d = await deployment();
    return d.spec.template.spec.containers[0].image === `${image}:${tag}` &&
      d.status?.observedGeneration === d.metadata.generation &&
      d.status?.updatedReplicas === 1 &&
      d.status?.availableReplicas === 1
      ? true
      : undefined;
  };
  const gitLog = () => stack.git.log(REPO, BRANCH);
  const state = async () =>
    `${JSON.stringify(await history(), null, 1)}\n${JSON.stringify(
      (await api('get', '/runs')).body,
    )}\n${await stack.cluster.kubectl([
      'get',
      'applications,deployments',
      '-o',
      'yaml',
    ])}`;

  beforeAll(async () => {
    image = `${stack.registry.host}/${IMAGE_REPO}`;

    // The seed's git-app, on semver tags.
    await pushImage(stack.registry, IMAGE_REPO, '0.1.5');
    const fixture = fs.mkdtempSync(path.join(os.tmpdir(), 'rollback-fixture-'));
    fs.writeFileSync(
      path.join(fixture, 'app.yaml'),
      firstVelaWorkflowFile(`${image}:0.1.5`),
    );
    await stack.git.createRepo(REPO, { fixtureDir: fixture, branch: BRANCH });
    fs.rmSync(fixture, { recursive: true });
    const app = gitAppApplication(stack.git.repoUrl(REPO), image);
    const repo = app.spec.components[0].properties.imageRepository as Record<
      string,
      unknown
    >;
    delete repo.filterTags;
    repo.policy = { semver: { range: '>=0.1.0' } };
    await stack.cluster.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify(app),
    });
    await waitUntil(
      'first-vela-workflow to run 0.1.5',
      () => runs('0.1.5'),
      state,
      120_000,
    );
  }, 300_000);

  it('refuses a rollback without the permission, to a tag that never ran, and of a component without automation, leaving Git alone', async () => {
    const commits = (await gitLog()).length;

    const forbidden = await api(
      'post',
      `/images/${COMPONENT}/rollback`,
      GUEST,
      {
        to: '0.1.5',
      },
    );
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error.message).toContain(
      'gitops.application.rollback',
    );

    const unknownTag = await api(
      'post',
      `/images/${COMPONENT}/rollback`,
      JANE,
      { to: '9.9.9' },
    );
    expect(unknownTag.status).toBe(400);
    expect(unknownTag.body.error.message).toBe(
      `${image}:9.9.9 never ran in ${COMPONENT} (see its image history) and the registry does not list it`,
    );

    // A tag is written into YAML in Git: nothing but a registry's tag syntax.
    const notATag = await api('post', `/images/${COMPONENT}/rollback`, JANE, {
      to: '0.1.5\nkind: Secret',
    });
    expect(notATag.status).toBe(400);
    expect(notATag.body.error.message).toMatch(/^to must be the image tag/);

    const unknownComponent = await api('post', '/images/web/rollback', JANE, {
      to: '0.1.5',
    });
    expect(unknownComponent.status).toBe(400);
    expect(unknownComponent.body.error.message).toBe(
      'default/git-app has no kustomize component web; its components are gitops',
    );

    // Nothing held, nothing audited, and a sync later Git still has only its own commits.
    expect((await api('get', '')).body.sync.holds).toEqual([]);
    expect((await audit()).map(e => e.action)).not.toContain('imageRollback');
    const before = (await api('get', '/runs')).body.totalCount;
    expect((await api('post', '/sync', JANE)).status).toBe(202);
    await waitUntil(
      'the sync to run',
      async () =>
        (await api('get', '/runs')).body.totalCount > before ? true : undefined,
      state,
    );
    expect(await gitLog()).toHaveLength(commits);
  }, 120_000);

  it('commits 0.1.5 back for Jane, keeps it through polls and a webhook for 0.1.6, and brings 0.1.6 back when John releases it', async () => {
    // 0.1.6 is pushed: the registry's notification has the bot commit it at once.
    await pushImage(stack.registry, IMAGE_REPO, '0.1.6');
    await waitUntil('0.1.6 to roll out', () => runs('0.1.6'), state, 90_000);
    const beforeRollback = await gitLog();

    const rollback = await api('post', `/images/${COMPONENT}/rollback`, JANE, {
      to: '0.1.5',
      reason: '0.1.6 leaks memory',
    });
    expect(rollback.status).toBe(200);
    expect(rollback.body.hold).toMatchObject({
      component: COMPONENT,
      image,
      tag: '0.1.5',
      heldBy: JANE,
      reason: '0.1.6 leaks memory',
      automatic: false,
    });

    await waitUntil('0.1.5 to run again', () => runs('0.1.5'), state, 90_000);
    const afterRollback = await gitLog();
    expect(afterRollback).toHaveLength(beforeRollback.length + 1);
    expect(afterRollback[0]).toMatchObject({ authorName: 'kubevelabot' });
    expect(afterRollback[0].message).toBe(
      `Update image automatically.\nImage: ${image}:0.1.5\n\nRequested-by: ${JANE}`,
    );
    expect(await stack.git.readFile(REPO, 'app.yaml', BRANCH)).toBe(
      firstVelaWorkflowFile(`${image}:0.1.5`),
    );
    const [rolledBackTo, rolledBack] = await history();
    expect(rolledBackTo).toMatchObject({
      component: COMPONENT,
      oldTag: '0.1.6',
      newTag: '0.1.5',
      action: 'rollback',
      requestedBy: JANE,
      reason: '0.1.6 leaks memory',
      commitSha: afterRollback[0].sha,
    });
    expect(rolledBack).toMatchObject({ newTag: '0.1.6', action: 'update' });
    expect(Date.parse(rolledBack.rolledBackAt!)).not.toBeNaN();

    // Three more passes, each listing the registry afresh, then a webhook for 0.1.6.
    for (let pass = 0; pass < 3; pass++) {
      const before = (await api('get', '/runs')).body.totalCount;
      expect((await api('post', '/sync')).status).toBe(202);
      await waitUntil(
        `pass ${pass + 1} after the rollback`,
        async () =>
          (await api('get', '/runs')).body.totalCount > before
            ? true
            : undefined,
        state,
      );
    }
    const webhookAt = Date.now();
    await pushImage(stack.registry, IMAGE_REPO, '0.1.6', {
      fileContent: 'gitops:0.1.6 rebuilt\n',
    });
    await waitUntil(
      'the pass the registry webhook asked for',
      async () =>
        (
          await api('get', '/runs')
        ).body.items.some(
          (r: { trigger: string; startedAt: string }) =>
            r.trigger === 'webhook' && Date.parse(r.startedAt) >= webhookAt,
        )
          ? true
          : undefined,
      state,
    );
    expect(await gitLog()).toHaveLength(afterRollback.length);
    expect(await runs('0.1.5')).toBe(true);
    const { sync } = (await api('get', '')).body;
    expect(sync.holds).toEqual([
      expect.objectContaining({
        component: COMPONENT,
        tag: '0.1.5',
        heldBy: JANE,
        wouldPick: '0.1.6',
      }),
    ]);
    expect(
      (await api('get', '/sync-config')).body.components[0].image.hold,
    ).toMatchObject({ tag: '0.1.5', wouldPick: '0.1.6' });
    // kubectl and `gitops status` see the hold in the Application's status.
    const status = await waitUntil(
      'the status to show what the policy would pick',
      async () => {
        const text = await gitops([
          'status',
          'git-app',
          '-n',
          'default',
          '--kubeconfig',
          stack.cluster.kubeconfigPath,
        ]);
        return text.includes('Would pick: 0.1.6') ? text : undefined;
      },
      state,
    );
    expect(status).toContain(
      `Image holds:\n\n  - Component: ${COMPONENT}\n    Held at: ${image}:0.1.5\n    By: ${JANE} at `,
    );
    expect(status).toContain('    Reason: 0.1.6 leaks memory\n');

    // John releases it with the CLI: automation picks 0.1.6 again, naming him.
    expect(
      await gitops(
        [
          'release',
          'git-app',
          '--component',
          COMPONENT,
          '--reason',
          'fixed in the 0.1.6 rebuild',
        ],
        JOHN,
      ),
    ).toBe(
      `Released ${COMPONENT} of default/git-app from ${image}:0.1.5 (held by ${JANE}: 0.1.6 leaks memory); automation picks the newest tag at once\n`,
    );
    await waitUntil('0.1.6 to run again', () => runs('0.1.6'), state, 90_000);
    const afterRelease = await gitLog();
    expect(afterRelease).toHaveLength(afterRollback.length + 1);
    expect(afterRelease[0].message).toMatch(
      new RegExp(`\\n\\nRequested-by: ${JOHN}$`),
    );
    expect((await history())[0]).toMatchObject({
      oldTag: '0.1.5',
      newTag: '0.1.6',
      action: 'release',
      requestedBy: JOHN,
      reason: 'fixed in the 0.1.6 rebuild',
    });
    expect((await api('get', '')).body.sync.holds).toEqual([]);

    // The audit trail: who rolled back and released, when and why.
    const trail = await audit();
    expect(trail.find(e => e.action === 'imageRollback')).toMatchObject({
      actor: JANE,
      component: COMPONENT,
      reason: '0.1.6 leaks memory',
      summary: `rolled ${COMPONENT} back to 0.1.5 and held it there`,
    });
    expect(trail.find(e => e.action === 'imageRelease')).toMatchObject({
      actor: JOHN,
      component: COMPONENT,
      reason: 'fixed in the 0.1.6 rebuild',
      summary: `released the hold of ${COMPONENT} at 0.1.5`,
    });
    expect(
      trail.filter(e => e.action === 'sync').length,
    ).toBeGreaterThanOrEqual(4);
    const table = await gitops(['audit', 'git-app'], JANE);
    expect(table).toMatch(
      new RegExp(`${JOHN} +imageRelease +${COMPONENT} +released the hold`),
    );
    expect(table).toMatch(
      new RegExp(
        `${JANE} +imageRollback +${COMPONENT} +rolled .* +0\\.1\\.6 leaks memory`,
      ),
    );
  }, 600_000);
});
