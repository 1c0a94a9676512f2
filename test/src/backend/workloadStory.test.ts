import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mockCredentials } from '@backstage/backend-test-utils';
import request from 'supertest';
import { pushImage } from '../infra';
import {
  kustomizeApp,
  SOURCE_SECRETS,
  useDeliveryStack,
  waitUntil,
} from './support';

/*
 * The seed's two Applications on real servers: git-app (a kustomize
 * component with image automation) applies first-vela-workflow from Git,
 * and the marker on first-vela-workflow's test-server image is git-app's.
 * After a new tag, first-vela-workflow's own page tells the story: who
 * manages it and at which revision, the update in its image history, the
 * image its Deployment runs, and when the rollout really became healthy.
 */

/** first-vela-workflow as the seed's repository holds it, the marker naming git-app's component `deploy`. */
const childManifest = (image: string) => `apiVersion: core.oam.dev/v1beta1
kind: Application
metadata:
  name: first-vela-workflow
  namespace: default
spec:
  components:
    - name: test-server
      type: webservice
      properties:
        image: ${image} # {"$imagepolicy": "default:deploy"}
        port: 8088
`;

describe("the workload's own story", () => {
  const stack = useDeliveryStack({
    clusterName: 'local',
    sourceSecrets: SOURCE_SECRETS,
  });

  const get = async (url: string) =>
    (
      await request(stack.backend.server)
        .get(`/api/gitops/applications/default/${url}`)
        .set('Authorization', mockCredentials.user.header())
        .expect(200)
    ).body;
  const deployment = async () =>
    JSON.parse(
      (await stack.cluster.kubectl([
        'get',
        'deployment',
        'test-server',
        '-o',
        'json',
        '--ignore-not-found',
      ])) || 'null',
    );
  /** The Deployment as the demo checks it: the image in its template, rolled out and Available. */
  const rolledOut = (d: any, image: string) =>
    d?.spec.template.spec.containers[0].image === image &&
    d.status?.observedGeneration === d.metadata.generation &&
    d.status?.updatedReplicas === d.spec.replicas &&
    d.status?.availableReplicas === d.spec.replicas;
  const whatHappened = async () =>
    [
      JSON.stringify(await get('git-app/runs').catch(e => String(e))),
      JSON.stringify(await get('git-app/image-history').catch(e => String(e))),
      await stack.cluster.kubectl(['get', 'application', '-o', 'yaml']),
      await stack.cluster.kubectl([
        'get',
        'deployment',
        '-o',
        'yaml',
        '--ignore-not-found',
      ]),
    ].join('\n');

  it("shows first-vela-workflow's manager, image history, running image and a true time to healthy", async () => {
    const image = `${stack.registry.host}/story/web`;
    await pushImage(stack.registry, 'story/web', 'build-1');
    const fixture = fs.mkdtempSync(path.join(os.tmpdir(), 'story-repo-'));
    fs.writeFileSync(
      path.join(fixture, 'app.yaml'),
      childManifest(`${image}:build-1`),
    );
    await stack.git.createRepo('story', {
      fixtureDir: fixture,
      branch: 'main',
    });
    fs.rmSync(fixture, { recursive: true });
    await stack.startBackend({ gitops: { shards: 1 } });
    await stack.cluster.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify(
        kustomizeApp('git-app', stack.git.repoUrl('story'), image),
      ),
    });
    await waitUntil(
      'first-vela-workflow to run build-1',
      async () =>
        rolledOut(await deployment(), `${image}:build-1`) &&
        (await get('first-vela-workflow')).phase === 'running' &&
        (await get('git-app')).phase === 'running'
          ? true
          : undefined,
      whatHappened,
      120_000,
    );

    // The new tag, and what a person watching the Deployment would see.
    await pushImage(stack.registry, 'story/web', 'build-2');
    await request(stack.backend.server)
      .post('/api/gitops/applications/default/git-app/sync')
      .set('Authorization', mockCredentials.user.header())
      .expect(202);
    const observedAt = await waitUntil(
      'the Deployment to roll out build-2',
      async () =>
        rolledOut(await deployment(), `${image}:build-2`)
          ? Date.now()
          : undefined,
      whatHappened,
      120_000,
    );
    const progressing = (await deployment()).status.conditions.find(
      (c: any) => c.type === 'Progressing',
    );
    expect(progressing.reason).toBe('NewReplicaSetAvailable');
    const completedAt = Date.parse(progressing.lastUpdateTime);

    const row = await waitUntil(
      "first-vela-workflow's image history to say the update is healthy",
      async () => {
        const item = (await get('first-vela-workflow/image-history'))
          .items?.[0];
        return item?.newTag === 'build-2' && item.healthyAt ? item : undefined;
      },
      whatHappened,
      120_000,
    );
    expect(row).toMatchObject({
      component: 'test-server',
      image,
      oldTag: 'build-1',
      newTag: 'build-2',
      target: {
        cluster: 'local',
        namespace: 'default',
        name: 'first-vela-workflow',
        component: 'test-server',
      },
      committedBy: {
        cluster: 'local',
        namespace: 'default',
        name: 'git-app',
        component: 'deploy',
      },
    });
    // Healthy when the rollout completed, as the cluster dates it (in whole
    // seconds), not when a later pass of git-app came by to see it.
    const healthyAt = Date.parse(row.healthyAt);
    expect(healthyAt).toBeGreaterThanOrEqual(completedAt);
    expect(healthyAt).toBeLessThan(completedAt + 1000);
    expect(healthyAt).toBeLessThanOrEqual(observedAt);
    // git-app's page tells the same row, under its own component, naming where the marker sits.
    const [own] = (await get('git-app/image-history')).items;
    expect(own).toMatchObject({
      id: row.id,
      component: 'deploy',
      healthyAt: row.healthyAt,
      target: row.target,
    });
    expect(own.committedBy).toBeUndefined();

    // Managed by git-app at the revision of the bot's commit, which carried build-2.
    const botCommit = await stack.git.head('story', 'main');
    const child = await waitUntil(
      "first-vela-workflow to name git-app's revision with the bot's commit",
      async () => {
        const details = await get('first-vela-workflow');
        return details.managedBy?.revision === `main@sha1:${botCommit}`
          ? details
          : undefined;
      },
      whatHappened,
    );
    expect(child.managedBy).toEqual({
      cluster: 'local',
      namespace: 'default',
      name: 'git-app',
      component: 'deploy',
      revision: `main@sha1:${botCommit}`,
      url: stack.git.repoUrl('story'),
    });
    // What runs, from the live Deployment.
    expect(child.components).toEqual([
      {
        name: 'test-server',
        type: 'webservice',
        traits: [],
        images: [`${image}:build-2`],
      },
    ]);
    const parent = await get('git-app');
    expect(parent.managedBy).toBeUndefined();
    expect(parent.components[0]).toMatchObject({
      name: 'deploy',
      imagesUnknown:
        'None of its objects runs containers (Application default/first-vela-workflow)',
    });
  });
});
