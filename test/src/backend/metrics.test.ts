import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { metrics } from '@opentelemetry/api';
import {
  DataPoint,
  Histogram,
  MeterProvider,
  MetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  mockCredentials,
  startTestBackend,
} from '@backstage/backend-test-utils';
import request from 'supertest';
import {
  Cluster,
  GitServer,
  pushImage,
  Registry,
  startCluster,
  startGitServer,
  startRegistry,
} from '../infra';
import {
  createSourceSecrets,
  installCrd,
  kustomizeApp,
  markedDeployment,
  startGitopsBackend,
  waitUntil,
} from './support';

/*
 * The reconcile loop's OpenTelemetry instruments, read through the real SDK
 * as an exporter would: one Application commits an image update and
 * succeeds, one fails at render because its Git server is not there.
 */

/** A pull reader: what a Prometheus exporter does on each scrape. */
class PullReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

describe('reconcile metrics', () => {
  let cluster: Cluster;
  let registry: Registry;
  let git: GitServer;
  let backend: Awaited<ReturnType<typeof startTestBackend>> | undefined;
  let cacheDir: string;
  const reader = new PullReader();

  beforeAll(async () => {
    // Set before the backend starts, as Backstage's instrumentation file does.
    metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
    [cluster, registry, git] = await Promise.all([
      startCluster(),
      startRegistry(),
      startGitServer(),
    ]);
    cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitops-clones-'));
    await installCrd(cluster);
  }, 180_000);

  afterAll(async () => {
    await backend?.stop();
    await Promise.all([cluster?.stop(), registry?.stop(), git?.stop()]);
    fs.rmSync(cacheDir, { recursive: true, force: true });
    metrics.disable();
  }, 60_000);

  it('records reconcile durations, commits and errors per Application', async () => {
    const image = `${registry.host}/web`;
    await pushImage(registry, 'web', 'build-1');
    await pushImage(registry, 'web', 'build-2');
    const fixture = fs.mkdtempSync(path.join(os.tmpdir(), 'metrics-fixture-'));
    fs.writeFileSync(
      path.join(fixture, 'deployment.yaml'),
      markedDeployment(`${image}:build-1`),
    );
    await git.createRepo('demo', { fixtureDir: fixture, branch: 'main' });
    fs.rmSync(fixture, { recursive: true });
    await createSourceSecrets(cluster, git, registry, {
      git: 'git-creds',
      registry: 'registry-creds',
    });
    for (const app of [
      kustomizeApp('good', git.repoUrl('demo'), image),
      kustomizeApp('broken', 'http://127.0.0.1:9/demo.git', image),
    ]) {
      await cluster.kubectl(['apply', '-f', '-'], {
        input: JSON.stringify(app),
      });
    }

    backend = await startGitopsBackend({
      clusters: [{ name: 'local', kubeconfig: cluster.kubeconfigPath }],
      cacheDir,
      tickSeconds: 1,
    });
    const api = (url: string) =>
      request(backend!.server)
        .get(`/api/gitops${url}`)
        .set('Authorization', mockCredentials.user.header());
    await waitUntil(
      'good to run and broken to fail',
      async () => {
        const [good, broken] = await Promise.all([
          api('/applications/default/good'),
          api('/applications/default/broken'),
        ]);
        return good.body.phase === 'running' &&
          broken.body.sync?.lastSyncResult === 'failed'
          ? true
          : undefined;
      },
      undefined,
      90_000,
    );

    const { resourceMetrics } = await reader.collect();
    const byName = new Map(
      resourceMetrics.scopeMetrics
        .filter(s => s.scope.name === 'gitops')
        .flatMap(s => s.metrics)
        .map(m => [m.descriptor.name, m.dataPoints as DataPoint<any>[]]),
    );
    const points = (name: string, attributes: Record<string, string>) =>
      (byName.get(name) ?? []).filter(p =>
        Object.entries(attributes).every(([k, v]) => p.attributes[k] === v),
      );

    const goodDurations = points('gitops.reconcile.duration', {
      app: 'local/default/good',
      result: 'succeeded',
    }) as DataPoint<Histogram>[];
    expect(goodDurations.length).toBeGreaterThan(0);
    const recorded = goodDurations.reduce((n, p) => n + p.value.count, 0);
    expect(recorded).toBeGreaterThan(0);
    expect(goodDurations[0].value.sum).toBeGreaterThan(0);
    expect(
      points('gitops.reconcile.duration', {
        app: 'local/default/broken',
        result: 'failed',
      }).length,
    ).toBeGreaterThan(0);

    expect(
      points('gitops.commits', {
        app: 'local/default/good',
        component: 'deploy',
      }).map(p => p.value),
    ).toEqual([1]);
    expect(points('gitops.commits', { app: 'local/default/broken' })).toEqual(
      [],
    );

    // An unreachable Git server stops the pass in its sources stage, before render.
    const errors = points('gitops.reconcile.errors', {
      app: 'local/default/broken',
      stage: 'sources',
    });
    expect(errors).toHaveLength(1);
    expect(errors[0].value).toBeGreaterThanOrEqual(1);
    expect(
      points('gitops.reconcile.errors', { app: 'local/default/good' }),
    ).toEqual([]);
  });
});
