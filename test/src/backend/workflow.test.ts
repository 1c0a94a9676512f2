import {
  mockCredentials,
  mockServices,
  startTestBackend,
} from '@backstage/backend-test-utils';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { databaseServiceFactory } from '@backstage/backend-defaults/database';
import { schedulerServiceFactory } from '@backstage/backend-defaults/scheduler';
import gitopsPlugin from '@gitops-workflow/plugin-gitops-backend';
import request from 'supertest';
import { Cluster, startCluster } from '../infra';
import { gitopsCli, installCrd, waitUntil } from './support';

/*
 * The seed's promise beyond plain GitOps, through the backend: deploy to
 * staging, wait for a person, then deploy to prod with an override. The
 * resume and the rollback go through the HTTP API; the backend's restart
 * does not lose the suspended step.
 */

function shop(greeting: string) {
  return {
    apiVersion: 'core.oam.dev/v1beta1',
    kind: 'Application',
    metadata: { name: 'shop', namespace: 'default' },
    spec: {
      components: [
        {
          name: 'web',
          type: 'webservice',
          properties: {
            image: 'registry.local/shop:1.0.0',
            port: 8080,
            env: [{ name: 'GREETING', value: greeting }],
          },
        },
      ],
      policies: [
        {
          name: 'staging',
          type: 'topology',
          properties: { clusters: ['local'] },
        },
        { name: 'prod', type: 'topology', properties: { clusters: ['prod'] } },
        {
          name: 'prod-override',
          type: 'override',
          properties: {
            components: [{ name: 'web', properties: { replicas: 3 } }],
          },
        },
      ],
      workflow: {
        steps: [
          {
            name: 'deploy-staging',
            type: 'deploy',
            properties: { policies: ['staging'] },
          },
          { name: 'approval', type: 'suspend' },
          {
            name: 'deploy-prod',
            type: 'deploy',
            properties: { policies: ['prod', 'prod-override'] },
          },
        ],
      },
    },
  };
}

describe('a delivery workflow through the backend', () => {
  let staging: Cluster;
  let prod: Cluster;
  let backend: Awaited<ReturnType<typeof startTestBackend>> | undefined;
  // On disk, so a restarted backend finds what the first one stored.
  const databaseDir = fs.mkdtempSync(
    path.join(os.tmpdir(), 'gitops-workflow-db-'),
  );

  beforeAll(async () => {
    [staging, prod] = await Promise.all([
      startCluster({ name: 'staging' }),
      startCluster({ name: 'prod' }),
    ]);
    await installCrd(staging);
  });

  afterAll(async () => {
    await backend?.stop();
    await Promise.all([staging?.stop(), prod?.stop()]);
    fs.rmSync(databaseDir, { recursive: true, force: true });
  });

  const start = () =>
    startTestBackend({
      features: [
        gitopsPlugin,
        schedulerServiceFactory,
        databaseServiceFactory,
        mockServices.rootConfig.factory({
          data: {
            backend: {
              database: {
                client: 'better-sqlite3',
                connection: { directory: databaseDir },
              },
            },
            gitops: {
              clusters: [
                { name: 'local', kubeconfig: staging.kubeconfigPath },
                {
                  name: 'prod',
                  kubeconfig: prod.kubeconfigPath,
                  labels: { env: 'prod' },
                },
              ],
              tickSeconds: 1,
              shards: 1,
              // Its Applications deploy to a second cluster: beyond the default project's reach.
              projects: [
                {
                  name: 'platform',
                  applications: { namespaces: ['default'] },
                  destinations: [{ cluster: '*', namespace: '*' }],
                },
              ],
            },
          },
        }),
      ],
    });
  const api = (method: 'get' | 'post', url: string, body?: object) =>
    request(backend!.server)
      [method](`/api/gitops/applications/default/shop${url}`)
      .set('Authorization', mockCredentials.user.header())
      .send(body);
  const phase = async () => (await api('get', '')).body.phase;
  const deployment = async (cluster: Cluster) =>
    JSON.parse(
      await cluster
        .kubectl(['get', 'deployment', 'web', '-o', 'json'])
        .catch(() => 'null'),
    );
  const describeState = async () =>
    JSON.stringify(
      JSON.parse(
        await staging.kubectl(['get', 'application', 'shop', '-o', 'json']),
      ).status,
    );

  it('deploys to staging, waits for a person, then deploys to prod; rolls back', async () => {
    backend = await start();
    await staging.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify(shop('hello')),
    });

    await waitUntil(
      'the workflow to suspend',
      async () => ((await phase()) === 'workflowSuspending' ? true : undefined),
      describeState,
    );
    expect((await deployment(staging)).spec.replicas).toBe(1);
    expect(await deployment(prod)).toBeNull();
    // What the GitOps tab shows: each step and where it stands.
    const { workflow } = (await api('get', '')).body;
    expect(workflow.steps.map((s: any) => [s.name, s.phase])).toEqual([
      ['deploy-staging', 'succeeded'],
      ['approval', 'suspending'],
      ['deploy-prod', 'pending'],
    ]);

    // A backend restart keeps the step suspended: the same step, since the same time.
    const suspendedSince = async () =>
      JSON.parse(
        await staging.kubectl(['get', 'application', 'shop', '-o', 'json']),
      ).status.workflow.steps.find((s: any) => s.name === 'approval');
    const before = await suspendedSince();
    await backend.stop();
    backend = await start();
    await new Promise(r => setTimeout(r, 3000));
    expect(await phase()).toBe('workflowSuspending');
    expect(await suspendedSince()).toEqual(before);
    expect(await deployment(prod)).toBeNull();

    // `vela status`, then `vela workflow resume`, from the gitops CLI.
    expect(
      await gitopsCli([
        'status',
        'shop',
        '--kubeconfig',
        staging.kubeconfigPath,
      ]),
    ).toMatch(/- name: approval\n\s+type: suspend\n\s+phase: suspending/);
    expect(await gitopsCli(['workflow', 'resume', 'shop'], backend)).toBe(
      'Resumed step approval of default/shop\n',
    );
    await waitUntil(
      'the workflow to finish',
      async () => ((await phase()) === 'running' ? true : undefined),
      describeState,
    );
    expect((await deployment(prod)).spec.replicas).toBe(3);

    const again = await api('post', '/workflow/resume');
    expect(again.status).toBe(409);
    expect(again.body.error.message).toContain('No step');

    // A new revision, then back to the first.
    await staging.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify(shop('bonjour')),
    });
    const greeting = async () =>
      (await deployment(staging)).spec.template.spec.containers[0].env[0].value;
    await waitUntil('revision 2 on staging', async () =>
      (await greeting()) === 'bonjour' ? true : undefined,
    );
    expect(
      await gitopsCli(['rollback', 'shop', '--revision', '1'], backend),
    ).toBe(
      'Rolling default/shop back to revision 1; it stays until `gitops release shop`\n',
    );
    await waitUntil(
      'revision 1 back on staging',
      async () => ((await greeting()) === 'hello' ? true : undefined),
      describeState,
    );
  });
});
