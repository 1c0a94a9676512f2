import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mockCredentials } from '@backstage/backend-test-utils';
import type {
  TimelineEvent,
  TimelineResponse,
} from '@gitops-workflow/plugin-gitops-common';
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
 * A release on the real servers, measured as the demo measures it (from the
 * end of the tag push until the Deployment runs the new image and is
 * Available), against what the timeline tells: its events in order and its
 * lead time, which starts at the registry's own push notification.
 */

const REGISTRY_SECRET = 'registry-notification-secret-18';
const IMAGE_REPO = 'web';

describe('the timeline of a release on the real servers', () => {
  const stack = useDeliveryStack({
    sourceSecrets: SOURCE_SECRETS,
    backend: {
      gitops: { webhooks: { registrySecret: REGISTRY_SECRET } },
      registryWebhookSecret: REGISTRY_SECRET,
    },
  });

  const api = (url: string) =>
    request(stack.backend.server)
      .get(`/api/gitops${url}`)
      .set('Authorization', mockCredentials.user.header());
  const state = async () =>
    `${JSON.stringify(
      (await api('/applications/default/web-app/timeline')).body,
    )}\n${await stack.cluster.kubectl([
      'get',
      'applications,deployments',
      '-o',
      'yaml',
    ])}`;

  it('tells the release in order, with a lead time from the push within a second of the measured one', async () => {
    const image = `${stack.registry.host}/${IMAGE_REPO}`;
    await pushImage(stack.registry, IMAGE_REPO, 'build-1');
    const fixture = fs.mkdtempSync(path.join(os.tmpdir(), 'timeline-fixture-'));
    fs.writeFileSync(
      path.join(fixture, 'deployment.yaml'),
      markedDeployment(`${image}:build-1`),
    );
    await stack.git.createRepo('demo', { fixtureDir: fixture, branch: 'main' });
    fs.rmSync(fixture, { recursive: true });
    await stack.cluster.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify(
        kustomizeApp('web-app', stack.git.repoUrl('demo'), image),
      ),
    });
    await waitUntil(
      'web-app to run',
      async () => {
        const res = await api('/applications/default/web-app');
        return res.body.phase === 'running' ? true : undefined;
      },
      state,
      90_000,
    );

    const pushStartedAt = Date.now();
    await pushImage(stack.registry, IMAGE_REPO, 'build-2');
    const pushedAt = Date.now();
    const release = `${image}:build-2`;
    await waitUntil(
      'the Deployment to run build-2 and be Available',
      async () => {
        const d = JSON.parse(
          await stack.cluster.kubectl([
            'get',
            'deployment',
            'web',
            '-o',
            'json',
          ]),
        );
        return d.spec.template.spec.containers[0].image === release &&
          d.status?.observedGeneration === d.metadata.generation &&
          d.status?.updatedReplicas === d.spec.replicas &&
          d.status?.availableReplicas === d.spec.replicas
          ? true
          : undefined;
      },
      state,
      90_000,
    );
    const measuredMs = Date.now() - pushedAt;

    const timeline = await waitUntil(
      'the timeline to tell build-2 healthy',
      async () => {
        const res = await api('/applications/default/web-app/timeline');
        const body = res.body as TimelineResponse;
        return body.events?.some(
          e => e.kind === 'healthy' && e.links.image === release,
        )
          ? body
          : undefined;
      },
      state,
    );
    const ofRelease = timeline.events.filter(
      (e: TimelineEvent) => e.links.image === release,
    );
    expect(ofRelease.map(e => [e.kind, e.component])).toEqual([
      ['tagPushed', 'deploy'],
      ['picked', 'deploy'],
      ['committed', 'deploy'],
      ['applied', 'deploy'],
      ['healthy', 'deploy'],
    ]);
    // The registry's own time of the push, on this machine's clock.
    const tagPushed = Date.parse(ofRelease[0].at);
    expect(tagPushed).toBeGreaterThanOrEqual(pushStartedAt - 50);
    expect(tagPushed).toBeLessThanOrEqual(pushedAt + 50);
    // The sync that applied the bot's commit, on the Application's lane.
    const commit = ofRelease[2].links.commit!;
    expect(timeline.events).toContainEqual(
      expect.objectContaining({
        kind: 'synced',
        links: expect.objectContaining({ commit }),
      }),
    );

    const { dora } = timeline;
    process.stdout.write(
      `tag push → Available: measured ${measuredMs} ms, the timeline's lead time ${dora.leadTime.medianMs} ms\n`,
    );
    expect(dora).toMatchObject({
      rollouts: 1,
      deployments: 1,
      leadTime: { samples: 1, fromTagPush: 1 },
      changeFailureRate: 0,
    });
    expect(Math.abs(dora.leadTime.medianMs! - measuredMs)).toBeLessThan(1000);
  });
});
