import type { RolloutAnalysisResult } from '@gitops-workflow/plugin-gitops-common';
import { NotAllowedError } from '@backstage/errors';
import { matchesAny, type Project } from '../model/project';
import {
  KNOWN_METRICS,
  type AnalysisSpec,
  type MetricCheck,
  type WebhookCheck,
} from './spec';

/** Where analysis asks, and how long each call may take. */
export interface AnalysisOptions {
  /** `gitops.prometheus.url`; metrics fail with a message saying so when it is absent. */
  prometheusUrl?: string;
  timeoutMs: number;
  /** Webhooks reach only the hosts the Application's project allows (`notificationHosts`). */
  project?: Project;
}

/** What the templates of a check may use (`QUERY_VARIABLES`). */
export type QueryVariables = Record<string, string>;

const why = (error: unknown, timeoutMs: number) =>
  (error as Error).name === 'TimeoutError'
    ? `no answer within ${timeoutMs} ms`
    : (error as { cause?: { code?: string } }).cause?.code ??
      (error as Error).message;

function formatValue(check: MetricCheck, value: number): string {
  const unit = KNOWN_METRICS[check.name]?.unit;
  if (unit === '%') return `${value.toFixed(1)}%`;
  if (unit === 'ms') return `${Math.round(value)} ms`;
  return String(Number(value.toPrecision(4)));
}

function formatBound(check: MetricCheck, bound: number): string {
  const unit = KNOWN_METRICS[check.name]?.unit;
  if (unit === '%') return `${bound}%`;
  if (unit === 'ms') return `${bound} ms`;
  return String(bound);
}

/** `≥ 99%`, `≤ 500 ms`, `1 – 5`. */
export function thresholdOf(check: MetricCheck): string {
  const { min, max } = check;
  if (min !== undefined && max !== undefined)
    return `${formatBound(check, min)} – ${formatBound(check, max)}`;
  return min !== undefined
    ? `≥ ${formatBound(check, min)}`
    : `≤ ${formatBound(check, max!)}`;
}

/** Fills `{{ variable }}` in a query; unknown variables were refused when the trait was parsed. */
export function renderQuery(query: string, variables: QueryVariables): string {
  return query.replace(
    /\{\{\s*([^}\s]*)\s*\}\}/g,
    (_, name: string) => variables[name] ?? '',
  );
}

async function measure(
  check: MetricCheck,
  variables: QueryVariables,
  options: AnalysisOptions,
  at: string,
): Promise<RolloutAnalysisResult> {
  const result: RolloutAnalysisResult = {
    name: check.name,
    threshold: thresholdOf(check),
    passed: false,
    at,
  };
  if (!options.prometheusUrl) {
    result.message =
      'no Prometheus is configured: set gitops.prometheus.url in app-config.yaml';
    return result;
  }
  const url = new URL(
    'api/v1/query',
    `${options.prometheusUrl.replace(/\/*$/, '')}/`,
  );
  url.searchParams.set('query', renderQuery(check.query, variables));
  let body: {
    status?: string;
    error?: string;
    data?: { resultType?: string; result?: unknown };
  };
  try {
    const response = await fetch(url, {
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    body = (await response.json()) as typeof body;
    if (!response.ok || body.status !== 'success') {
      result.message = `Prometheus refused the query (HTTP ${response.status}${
        body.error ? `: ${body.error}` : ''
      })`;
      return result;
    }
  } catch (error) {
    result.message = `Prometheus could not be asked: ${why(
      error,
      options.timeoutMs,
    )}`;
    return result;
  }
  const data = body.data;
  let raw: unknown;
  if (data?.resultType === 'scalar') raw = (data.result as unknown[])[1];
  else if (data?.resultType === 'vector')
    raw = (data.result as Array<{ value: unknown[] }>)[0]?.value?.[1];
  const value = Number(raw);
  if (raw === undefined || Number.isNaN(value)) {
    result.message =
      raw === undefined
        ? 'the query returned no series (is the canary receiving traffic?)'
        : 'the query returned NaN (no requests in the interval?)';
    return result;
  }
  result.value = formatValue(check, value);
  result.passed =
    (check.min === undefined || value >= check.min) &&
    (check.max === undefined || value <= check.max);
  return result;
}

async function callWebhook(
  hook: WebhookCheck,
  variables: QueryVariables,
  options: AnalysisOptions,
  at: string,
): Promise<RolloutAnalysisResult> {
  const result: RolloutAnalysisResult = {
    name: hook.name,
    threshold: 'HTTP 2xx',
    passed: false,
    at,
  };
  const url = new URL(hook.url);
  const { project } = options;
  // The backend's network is not the Application's: it reaches only the hosts its project names.
  if (project && !matchesAny(project.notificationHosts, url.hostname))
    throw new NotAllowedError(
      `webhook "${hook.name}": project "${
        project.name
      }" does not allow calls to ${url.hostname} (notificationHosts: ${
        project.notificationHosts.join(', ') || 'none'
      })`,
    );
  const timeoutMs = hook.timeoutMs ?? options.timeoutMs;
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      // Flagger's webhook payload, so receivers written for it work unchanged.
      body: JSON.stringify({
        name: variables.target,
        namespace: variables.namespace,
        phase: 'Progressing',
        metadata: { ...hook.metadata, version: variables.version },
      }),
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.body?.cancel();
    result.value = `HTTP ${response.status}`;
    result.passed = response.status >= 200 && response.status < 300;
  } catch (error) {
    // The URL stays out of the message: it often carries a token.
    result.message = `the webhook could not be reached: ${why(
      error,
      timeoutMs,
    )}`;
  }
  return result;
}

/** Runs every metric and webhook of an analysis once; each call has its deadline. */
export async function runAnalysis(
  spec: AnalysisSpec,
  variables: QueryVariables,
  options: AnalysisOptions,
  now: Date,
): Promise<RolloutAnalysisResult[]> {
  const at = now.toISOString();
  return Promise.all([
    ...spec.metrics.map(m => measure(m, variables, options, at)),
    ...spec.webhooks.map(h => callWebhook(h, variables, options, at)),
  ]);
}

/** Why a failed check failed, in the words the abort message uses: `success rate 95.0% < 99%`. */
export function describeFailure(
  spec: AnalysisSpec,
  result: RolloutAnalysisResult,
): string {
  const metric = spec.metrics.find(m => m.name === result.name);
  if (metric && result.value !== undefined) {
    const label = KNOWN_METRICS[metric.name]?.label ?? metric.name;
    const numeric = Number.parseFloat(result.value);
    if (metric.min !== undefined && numeric < metric.min)
      return `${label} ${result.value} < ${formatBound(metric, metric.min)}`;
    return `${label} ${result.value} > ${formatBound(metric, metric.max!)}`;
  }
  if (result.value !== undefined)
    return `webhook ${result.name} answered ${result.value}`;
  return `${
    metric
      ? KNOWN_METRICS[metric.name]?.label ?? metric.name
      : `webhook ${result.name}`
  }: ${result.message}`;
}
