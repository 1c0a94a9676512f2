import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mockCredentials } from '@backstage/backend-test-utils';
import type {
  AuditEntry,
  ImageHistoryEntry,
} from '@gitops-workflow/plugin-gitops-common';
import request from 'supertest';
import { pushImage } from '../infra';
import {
  markedDeployment,
  SOURCE_SECRETS,
  useDeliveryStack,
  waitUntil,
} from './support';

/*
 * Automatic rollback on the real servers: a tag whose pods never become
 * ready (the kwok stage pod-never-ready, chosen by the pod template's
 * annotation) is committed by the bot, found failed `after` it was
 * applied, and its previous tag is committed back and held, for good.
 */

const REPO = 'web';
const AFTER_SECONDS = 20;
/** The Application's poll interval (`pullInterval`, `imageRepository.interval`). */
const INTERVAL_SECONDS = 60;
/** Pods of `bad` never become ready on the kwok node (its stage pod-never-ready). */
const deploymentFile = (image: string, tag: string, bad: string) =>
  markedDeployment(`${image}:${tag}`, {
    'test.gitops/never-ready-image': bad,
  });

describe('automatic rollback of a failed rollout', () => {
  const stack = useDeliveryStack({
    sourceSecrets: SOURCE_SECRETS,
    backend: { gitops: { shards: 1 } },
  });

  const get = (url: string) =>
    request(stack.backend.server)
      .get(`/api/gitops/applications/default/shop${url}`)
      .set('Authorization', mockCredentials.user.header());
  const sync = () =>
    request(stack.backend.server)
      .post('/api/gitops/applications/default/shop/sync')
      .set('Authorization', mockCredentials.user.header());
  const history = async (): Promise<ImageHistoryEntry[]> =>
    (await get('/image-history')).body.items ?? [];
  const runs = async (): Promise<number> =>
    (await get('/runs')).body.totalCount ?? 0;
  const runningImage = async () =>
    JSON.parse(
      await stack.cluster.kubectl(['get', 'deployment', 'web', '-o', 'json']),
    ).spec.template.spec.containers[0].image as string;
  const state = async () =>
    `${JSON.stringify(await history(), null, 1)}\n${await stack.cluster.kubectl(
      ['get', 'applications,deployments,pods', '-o', 'yaml'],
    )}`;

  it('commits the previous tag back when the new one never becomes healthy, says why, and never picks the failed tag again', async () => {
    const image = `${stack.registry.host}/${REPO}`;
    await pushImage(stack.registry, REPO, '0.1.5');
    const fixture = fs.mkdtempSync(path.join(os.tmpdir(), 'rollback-fixture-'));
    fs.writeFileSync(
      path.join(fixture, 'deployment.yaml'),
      deploymentFile(image, '0.1.5', `${image}:0.1.6`),
    );
    await stack.git.createRepo('shop', { fixtureDir: fixture, branch: 'main' });
    fs.rmSync(fixture, { recursive: true });
    await stack.cluster.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'core.oam.dev/v1beta1',
        kind: 'Application',
        metadata: { name: 'shop', namespace: 'default' },
        spec: {
          components: [
            {
              name: 'deploy',
              type: 'kustomize',
              properties: {
                url: stack.git.repoUrl('shop'),
                secretRef: 'git-creds',
                pullInterval: `${INTERVAL_SECONDS}s`,
                git: { branch: 'main' },
                imageRepository: {
                  image,
                  secretRef: 'registry-creds',
                  interval: `${INTERVAL_SECONDS}s`,
                  insecure: true,
                  policy: { semver: { range: '>=0.1.0' } },
                  rollback: { onFailure: true, after: `${AFTER_SECONDS}s` },
                },
              },
            },
          ],
        },
      }),
    });
    await waitUntil(
      'shop to run 0.1.5',
      async () => {
        const res = await get('');
        return res.body.phase === 'running' ? true : undefined;
      },
      state,
      90_000,
    );
    expect((await get('/sync-config')).body.components[0].image).toMatchObject({
      rollback: { onFailure: true, after: `${AFTER_SECONDS}s` },
    });

    // 0.1.6 is pushed and picked at the next scan (asked for now, not in a minute).
    await pushImage(stack.registry, REPO, '0.1.6');
    expect((await sync()).status).toBe(202);
    const failed = await waitUntil(
      'the bot to commit 0.1.6 and apply it',
      async () => {
        const row = (await history()).find(h => h.newTag === '0.1.6');
        return row?.appliedAt ? row : undefined;
      },
      state,
      60_000,
    );
    expect(failed.action).toBe('update');

    // Its pods never become ready: within `after` + one interval, 0.1.5 is committed back.
    const rollback = await waitUntil(
      'the automatic rollback to 0.1.5',
      async () => {
        const row = (await history()).find(
          h => h.action === 'automaticRollback',
        );
        return row?.pushedAt ? row : undefined;
      },
      state,
      (AFTER_SECONDS + INTERVAL_SECONDS) * 1000 + 30_000,
    );
    const took =
      (Date.parse(rollback.pushedAt!) - Date.parse(failed.appliedAt!)) / 1000;
    process.stdout.write(`0.1.6 applied → 0.1.5 committed back: ${took} s\n`);
    expect(took).toBeGreaterThanOrEqual(AFTER_SECONDS);
    expect(took).toBeLessThanOrEqual(AFTER_SECONDS + INTERVAL_SECONDS);
    const why = `not healthy ${AFTER_SECONDS}s after it was applied: Deployment default/web`;
    expect(rollback).toMatchObject({
      oldTag: '0.1.6',
      newTag: '0.1.5',
      reason: expect.stringContaining(why),
    });
    const log = await stack.git.log('shop', 'main');
    expect(log.map(c => c.authorName)).toEqual([
      'kubevelabot',
      'kubevelabot',
      expect.anything(),
    ]);
    expect(await stack.git.readFile('shop', 'deployment.yaml', 'main')).toBe(
      deploymentFile(image, '0.1.5', `${image}:0.1.6`),
    );

    // The Deployment runs 0.1.5 again and the failed row says what happened.
    await waitUntil(
      'the Deployment to run 0.1.5 and the Application to be healthy',
      async () =>
        (await runningImage()) === `${image}:0.1.5` &&
        (await get('')).body.phase === 'running'
          ? true
          : undefined,
      state,
      90_000,
    );
    const rows = await history();
    expect(rows.find(h => h.id === failed.id)).toMatchObject({
      newTag: '0.1.6',
      failedAt: expect.any(String),
      failure: expect.stringContaining(why),
      rolledBackAt: expect.any(String),
    });
    expect(rows.find(h => h.id === failed.id)?.healthyAt).toBeUndefined();

    // The Application's status says it was rolled back automatically, and why.
    const status = JSON.parse(
      await stack.cluster.kubectl(['get', 'application', 'shop', '-o', 'json']),
    ).status;
    expect(status.conditions).toContainEqual(
      expect.objectContaining({
        type: 'ImageRollback',
        status: 'True',
        reason: 'AutomaticRollback',
        message: expect.stringContaining(
          'deploy: 0.1.6 was rolled back automatically to 0.1.5',
        ),
      }),
    );
    expect(
      status.conditions.find((c: any) => c.type === 'ImageRollback').message,
    ).toContain(why);

    // No loop: three more passes, each with a fresh scan of the registry,
    // record 0.1.6 as what the policy would pick, and commit nothing.
    for (let pass = 0; pass < 3; pass++) {
      const before = await runs();
      expect((await sync()).status).toBe(202);
      await waitUntil(
        'a pass with a fresh scan',
        async () => ((await runs()) > before ? true : undefined),
        state,
        60_000,
      );
    }
    const hold = (await get('/sync-config')).body.components[0].image.hold;
    expect(hold).toMatchObject({
      tag: '0.1.5',
      failedTag: '0.1.6',
      heldBy: 'gitops:automatic-rollback',
      automatic: true,
      wouldPick: '0.1.6',
    });
    expect(await stack.git.log('shop', 'main')).toHaveLength(3);
    expect(await runningImage()).toBe(`${image}:0.1.5`);
    expect(
      (await history()).filter(h => h.action === 'automaticRollback'),
    ).toHaveLength(1);

    const audit: AuditEntry[] = (await get('/audit')).body.items;
    expect(audit.filter(a => a.action === 'automaticRollback')).toEqual([
      expect.objectContaining({
        action: 'automaticRollback',
        actor: 'gitops:automatic-rollback',
        component: 'deploy',
        reason: expect.stringContaining(why),
      }),
    ]);
  });
});
