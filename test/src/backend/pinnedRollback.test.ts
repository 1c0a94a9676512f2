import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mockCredentials } from '@backstage/backend-test-utils';
import request from 'supertest';
import { pushImage } from '../infra';
import {
  gitopsCli,
  kustomizeApp,
  markedDeployment,
  SOURCE_SECRETS,
  useDeliveryStack,
  waitUntil,
} from './support';

/*
 * A workflow revision rolled back to stays deployed until a person releases
 * it, through the backend on a real cluster, Git server and registry: the
 * Application's spec changes, a person pushes to Git and a new image is
 * pushed, and the pinned revision (its spec, and the Git commit it ran) is
 * what stays applied, with no bot commit; released, the current spec, Git's
 * head and the newest image deploy.
 */

describe('a rolled-back workflow revision, pinned until released', () => {
  const stack = useDeliveryStack({
    clusterName: 'local',
    sourceSecrets: SOURCE_SECRETS,
  });

  const image = () => `${stack.registry.host}/pinned/web`;
  const settings = (color: string) => `apiVersion: v1
kind: ConfigMap
metadata:
  name: shop-settings
  namespace: default
data:
  color: ${color}
`;
  /** The Application: Git's Deployment and settings, and a note its spec carries. */
  const shop = (note: string) => {
    const app = kustomizeApp('shop', stack.git.repoUrl('shop'), image());
    return {
      ...app,
      spec: {
        components: [
          ...app.spec.components,
          {
            name: 'notes',
            type: 'k8s-objects',
            properties: {
              objects: [
                {
                  apiVersion: 'v1',
                  kind: 'ConfigMap',
                  metadata: { name: 'shop-notes' },
                  data: { note },
                },
              ],
            },
          },
        ],
      },
    };
  };
  const applyApp = (note: string) =>
    stack.cluster.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify(shop(note)),
    });
  const api = (method: 'get' | 'post', url: string, body?: object) =>
    request(stack.backend.server)
      [method](`/api/gitops/applications/default/shop${url}`)
      .set('Authorization', mockCredentials.user.header())
      .send(body);
  const configMap = async (name: string) =>
    JSON.parse(
      await stack.cluster.kubectl(['get', 'configmap', name, '-o', 'json']),
    ).data;
  /** What runs: the spec's note, Git's color and the image. */
  const deployed = async () => ({
    note: (await configMap('shop-notes')).note,
    color: (await configMap('shop-settings')).color,
    image: JSON.parse(
      await stack.cluster.kubectl(['get', 'deployment', 'web', '-o', 'json']),
    ).spec.template.spec.containers[0].image,
  });
  const whatHappened = async () =>
    `${JSON.stringify(
      await deployed().catch(e => String(e)),
    )}\n${JSON.stringify(
      (await api('get', '/runs')).body,
    )}\n${await stack.cluster.kubectl([
      'get',
      'application',
      'shop',
      '-o',
      'yaml',
    ])}`;
  const until = async (expected: object, what: string) =>
    waitUntil(
      what,
      async () => {
        const now = await deployed();
        return JSON.stringify(now) === JSON.stringify(expected)
          ? now
          : undefined;
      },
      whatHappened,
      120_000,
    );
  /** Asks for `count` passes and waits until each has been recorded. */
  const passes = async (count: number) => {
    for (let i = 0; i < count; i++) {
      const asked = Date.now();
      await api('post', '/sync').expect(202);
      await waitUntil(
        `pass ${i + 1} of ${count}`,
        async () => {
          const { sync } = (await api('get', '')).body;
          return Date.parse(sync?.lastSyncAt ?? '') > asked ? true : undefined;
        },
        whatHappened,
      );
    }
  };

  it('keeps the rolled-back revision, at the Git commit it ran, through spec changes, pushes and new images; releasing deploys the current spec and Git head', async () => {
    await pushImage(stack.registry, 'pinned/web', 'build-1');
    const fixture = fs.mkdtempSync(path.join(os.tmpdir(), 'pinned-repo-'));
    fs.writeFileSync(
      path.join(fixture, 'deployment.yaml'),
      markedDeployment(`${image()}:build-1`),
    );
    fs.writeFileSync(path.join(fixture, 'settings.yaml'), settings('blue'));
    await stack.git.createRepo('shop', { fixtureDir: fixture, branch: 'main' });
    fs.rmSync(fixture, { recursive: true });
    await stack.startBackend({ gitops: { shards: 1 } });

    // Revision 1 runs at Git's first commit; revision 2 then runs a person's push.
    await applyApp('v1');
    const build1 = `${image()}:build-1`;
    await until({ note: 'v1', color: 'blue', image: build1 }, 'revision 1');
    await applyApp('v2');
    await until({ note: 'v2', color: 'blue', image: build1 }, 'revision 2');
    await stack.git.pushAsHuman('shop', {
      files: { 'settings.yaml': settings('green') },
      message: 'Green',
    });
    await passes(1);
    await until({ note: 'v2', color: 'green', image: build1 }, 'green');

    expect(
      await gitopsCli(
        ['rollback', 'shop', '--revision', '1', '--reason', 'v2 is wrong'],
        stack.backend,
      ),
    ).toBe(
      'Rolling default/shop back to revision 1; it stays until `gitops release shop`\n',
    );
    const pinned = { note: 'v1', color: 'blue', image: build1 };
    await until(pinned, 'revision 1 as it ran, at the first commit');
    const { sync } = (await api('get', '')).body;
    expect(sync.pinnedRevision).toMatchObject({
      revision: 1,
      by: 'user:default/mock',
      reason: 'v2 is wrong',
    });

    // A new spec, a person's push and a new image: nothing of it deploys, and the bot commits nothing.
    await applyApp('v3');
    await stack.git.pushAsHuman('shop', {
      files: { 'settings.yaml': settings('red') },
      message: 'Red',
    });
    const humanHead = await stack.git.head('shop');
    await pushImage(stack.registry, 'pinned/web', 'build-2');
    await passes(3);
    expect(await deployed()).toEqual(pinned);
    expect(await stack.git.head('shop')).toBe(humanHead);
    expect(
      JSON.parse(
        await stack.cluster.kubectl([
          'get',
          'application',
          'shop',
          '-o',
          'json',
        ]),
      ).status.workflow.appRevision,
    ).toBe('shop-v1');
    // An image rollback would wait behind the pin without a word: refused, saying why.
    const refused = await api('post', '/images/deploy/rollback', {
      to: 'build-1',
    }).expect(409);
    expect(refused.body.error.message).toMatch(
      /pinned to workflow revision 1 .*release it first/,
    );
    expect((await api('get', '')).body.sync.holds ?? []).toEqual([]);

    expect(
      await gitopsCli(
        ['release', 'shop', '--reason', 'v3 fixes it'],
        stack.backend,
      ),
    ).toBe(
      'Released default/shop from revision 1; its current spec deploys at once\n',
    );
    await until(
      { note: 'v3', color: 'red', image: `${image()}:build-2` },
      'the current spec, Git head and the newest image',
    );
    const [bot] = await stack.git.log('shop');
    expect(bot.authorName).toBe('kubevelabot');
    expect((await api('get', '')).body.sync.pinnedRevision).toBeUndefined();
    const again = await api('post', '/rollback/release');
    expect(again.status).toBe(409);
    expect(again.body.error.message).toBe(
      'No rollback is in force: the workflow already runs the current spec',
    );

    const audit = (await api('get', '/audit')).body.items;
    expect(
      audit
        .filter((e: any) => e.action.startsWith('workflow'))
        .map((e: any) => [e.action, e.actor, e.reason, e.summary]),
    ).toEqual([
      [
        'workflowRelease',
        'user:default/mock',
        'v3 fixes it',
        'released the rollback to revision 1',
      ],
      [
        'workflowRollback',
        'user:default/mock',
        'v2 is wrong',
        'rolled the workflow back to revision 1',
      ],
    ]);
  });
});
