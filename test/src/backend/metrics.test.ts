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
  const reader = new PullReader();
  // Set before the backend starts, as Backstage's instrumentation file does.
  beforeAll(() => {
    metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
  });
  const stack = useDeliveryStack({ sourceSecrets: SOURCE_SECRETS });
  afterAll(() => metrics.disable());

  it('records reconcile durations, commits and errors per Application', async () => {
    const image = `${stack.registry.host}/web`;
    await pushImage(stack.registry, 'web', 'build-1');
    await pushImage(stack.registry, 'web', 'build-2');
    const fixture = fs.mkdtempSync(path.join(os.tmpdir(), 'metrics-fixture-'));
    fs.writeFileSync(
      path.join(fixture, 'deployment.yaml'),
      markedDeployment(`${image}:build-1`),
    );
    await stack.git.createRepo('demo', { fixtureDir: fixture, branch: 'main' });
    fs.rmSync(fixture, { recursive: true });
    for (const app of [
      kustomizeApp('good', stack.git.repoUrl('demo'), image),
      kustomizeApp('broken', 'http://127.0.0.1:9/demo.git', image),
    ]) {
      await stack.cluster.kubectl(['apply', '-f', '-'], {
        input: JSON.stringify(app),
      });
    }

    await stack.startBackend();
    const api = (url: string) =>
      request(stack.backend.server)
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
