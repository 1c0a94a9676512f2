import { Counter, Histogram, Meter, metrics } from '@opentelemetry/api';
import { ReconcileTrigger } from '@gitops-workflow/plugin-gitops-common';

/**
 * The reconcile loop's OpenTelemetry instruments, on the meter `gitops`.
 * Backstage's instrumentation (or any OpenTelemetry SDK set up before the
 * backend starts) exports them; without one they cost nothing.
 */
export class ReconcileMetrics {
  private readonly duration: Histogram;
  private readonly commits: Counter;
  private readonly errors: Counter;

  constructor(meter: Meter = metrics.getMeter('gitops')) {
    this.duration = meter.createHistogram('gitops.reconcile.duration', {
      description: 'How long one reconcile of one Application took',
      unit: 's',
    });
    this.commits = meter.createCounter('gitops.commits', {
      description: 'Image updates the automation committed and pushed',
    });
    this.errors = meter.createCounter('gitops.reconcile.errors', {
      description:
        'Reconciles that failed, by stage (parse, sources, render, apply, or internal: the cluster or database)',
    });
  }

  reconciled(
    app: string,
    trigger: ReconcileTrigger,
    result: 'succeeded' | 'failed',
    seconds: number,
  ): void {
    this.duration.record(seconds, { app, trigger, result });
  }

  committed(app: string, component: string): void {
    this.commits.add(1, { app, component });
  }

  failed(app: string, stage: string): void {
    this.errors.add(1, { app, stage });
  }
}
