import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mockCredentials } from '@backstage/backend-test-utils';
import request from 'supertest';
import { pushImage } from '../infra';
import {
  kustomizeApp,
  markedDeployment,
  SOURCE_SECRETS,
  useDeliveryStack,
  waitUntil,
} from './support';

/*
 * Digests through the backend on a real cluster, registry and Git server:
 * with `digestReflectionPolicy: Always` the bot commits `image:tag@digest`,
 * and again when the tag is re-pushed with other content; an image rollback
 * writes back the digest that ran, not the one the tag names today.
 */

describe('image digests in Git', () => {
  const stack = useDeliveryStack({
    clusterName: 'local',
    sourceSecrets: SOURCE_SECRETS,
  });

  const api = (method: 'get' | 'post', url: string, body?: object) =>
    request(stack.backend.server)
      [method](`/api/gitops/applications/default/digests${url}`)
      .set('Authorization', mockCredentials.user.header())
      .send(body);
  const running = async () =>
    JSON.parse(
      await stack.cluster.kubectl(['get', 'deployment', 'web', '-o', 'json']),
    ).spec.template.spec.containers[0].image;
  const whatHappened = async () =>
    `${await running().catch(e => String(e))}\n${JSON.stringify(
      (await api('get', '/image-history')).body,
    )}\n${await stack.cluster.kubectl([
      'get',
      'application',
      'digests',
      '-o',
      'yaml',
    ])}`;
  const untilRunning = (reference: string) =>
    waitUntil(
      `the Deployment to run ${reference}`,
      async () => ((await running()) === reference ? true : undefined),
      whatHappened,
      120_000,
    );
  const push = (tag: string, content: string) =>
    pushImage(stack.registry, 'digests/web', tag, {
      fileContent: `${content}\n`,
    });

  it('commits image:tag@digest, follows a re-pushed tag with Always, and rolls back to the digest that ran', async () => {
    const image = `${stack.registry.host}/digests/web`;
    const first = await push('build-1', 'first build');
    const fixture = fs.mkdtempSync(path.join(os.tmpdir(), 'digests-repo-'));
    fs.writeFileSync(
      path.join(fixture, 'deployment.yaml'),
      markedDeployment(`${image}:build-1`),
    );
    await stack.git.createRepo('digests', {
      fixtureDir: fixture,
      branch: 'main',
    });
    fs.rmSync(fixture, { recursive: true });
    await stack.startBackend({ gitops: { shards: 1 } });
    const app = kustomizeApp('digests', stack.git.repoUrl('digests'), image);
    const component = app.spec.components[0];
    (
      component.properties.imageRepository as Record<string, unknown>
    ).digestReflectionPolicy = 'Always';
    await stack.cluster.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify(app),
    });

    await untilRunning(`${image}:build-1@${first.digest}`);
    expect(await stack.git.readFile('digests', 'deployment.yaml')).toContain(
      `image: ${image}:build-1@${first.digest} # {"$imagepolicy": "default:deploy"}`,
    );
    const config = (await api('get', '/sync-config')).body;
    expect(config.components[0].image.digestReflectionPolicy).toBe('Always');

    // The same tag, rebuilt: a new commit with its new digest.
    const rebuilt = await push('build-1', 'second build of the same tag');
    await api('post', '/sync').expect(202);
    await untilRunning(`${image}:build-1@${rebuilt.digest}`);
    const history = (await api('get', '/image-history')).body.items;
    expect(
      history.map((row: any) => [row.oldTag, row.newTag, row.digest]),
    ).toEqual([
      ['build-1', 'build-1', rebuilt.digest],
      ['build-1', 'build-1', first.digest],
    ]);
    const [top] = await stack.git.log('digests');
    expect(top.authorName).toBe('kubevelabot');

    const second = await push('build-2', 'build two');
    await api('post', '/sync').expect(202);
    await untilRunning(`${image}:build-2@${second.digest}`);

    // build-1 is rebuilt once more; rolling back restores what ran, not what the tag names now.
    const rebuiltAgain = await push('build-1', 'third build of the same tag');
    expect(rebuiltAgain.digest).not.toBe(rebuilt.digest);
    const rollback = await api('post', '/images/deploy/rollback', {
      to: 'build-1',
      reason: 'build-2 is broken',
    });
    expect(rollback.status).toBe(200);
    expect(rollback.body.hold).toMatchObject({
      tag: 'build-1',
      digest: rebuilt.digest,
    });
    await untilRunning(`${image}:build-1@${rebuilt.digest}`);
    expect(await stack.git.readFile('digests', 'deployment.yaml')).toContain(
      `${image}:build-1@${rebuilt.digest}`,
    );
  });
});
