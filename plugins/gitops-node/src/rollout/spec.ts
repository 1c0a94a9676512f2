import { childPath, Fields, invalid } from '../model/fields';
import type { ApplicationComponent } from '../model/types';
import { parseGoDuration } from '../util/duration';

export const CANARY_TRAIT = 'kruise-rollout';
export const BLUE_GREEN_TRAIT = 'blue-green';

/** One step of a canary: the weight it sends to the canary, how many pods, and how long it waits. */
export interface CanaryStep {
  weight: number;
  /** A pod count, or a percentage of the stable's replicas (`"20%"`); by default the weight's share. */
  replicas?: number | string;
  /** Absent: no pause. `{}`: waits for Promote. `{ durationMs }`: waits that long. */
  pause?: { durationMs?: number };
}

/** Where a canary's traffic is split: a Gateway API HTTPRoute or ingress-nginx canary annotations. */
export type TrafficRouting =
  | {
      kind: 'gateway';
      service: string;
      httpRouteName: string;
      /** Parents of a generated route (a Gateway); hostnames it answers. */
      parentRefs: Array<Record<string, unknown>>;
      hostnames: string[];
      port?: number;
    }
  | { kind: 'ingress'; service: string; ingressName: string };

/** A Prometheus query whose value must stay within `min`..`max`. */
export interface MetricCheck {
  name: string;
  query: string;
  min?: number;
  max?: number;
}

/** A webhook called at each analysis: any 2xx answer passes. */
export interface WebhookCheck {
  name: string;
  url: string;
  timeoutMs?: number;
  metadata?: Record<string, string>;
}

export interface AnalysisSpec {
  /** How often a failed analysis is tried again, and `{{ interval }}` in queries. */
  intervalMs: number;
  interval: string;
  metrics: MetricCheck[];
  webhooks: WebhookCheck[];
}

interface CommonSpec {
  component: string;
  analysis: AnalysisSpec;
  /** Failed analyses tolerated; one more aborts (Argo Rollouts' `failureLimit`, default 0). */
  failureLimit: number;
  /** How long a step may take before the rollout aborts (canary or preview not ready). */
  progressDeadlineMs: number;
}

export interface CanarySpec extends CommonSpec {
  strategy: 'canary';
  steps: CanaryStep[];
  trafficRoutings: TrafficRouting[];
}

export interface BlueGreenSpec extends CommonSpec {
  strategy: 'blueGreen';
  /** The Service the new version answers on before the switch (default `<name>-preview`). */
  previewService: string;
  /** The Service users reach (default the component's name). */
  activeService: string;
  /** Switch this long after the preview passed its analysis; absent: at once, unless manual. */
  autoPromotionMs?: number;
  /** Wait for Promote before switching. */
  manual: boolean;
  /** How long the old version keeps running after the switch (default 30 s). */
  scaleDownDelayMs: number;
}

export type RolloutSpec = CanarySpec | BlueGreenSpec;

/** The query variables a metric may use, as Flagger's templates do, plus the canary's names. */
export const QUERY_VARIABLES = [
  'target',
  'canary',
  'namespace',
  'interval',
  'version',
  'stableVersion',
];

/** Flagger's documented checks, with its thresholds: what a metric of this name means by default. */
export const KNOWN_METRICS: Record<
  string,
  { label: string; unit: '%' | 'ms'; bound: 'min' | 'max' }
> = {
  'request-success-rate': { label: 'success rate', unit: '%', bound: 'min' },
  'request-duration': { label: 'p99 latency', unit: 'ms', bound: 'max' },
};

function duration(fields: Fields, key: string): number | undefined {
  const value = fields.value[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0)
      invalid(fields.pathOf(key), 'must be a positive number of seconds');
    return value * 1000;
  }
  if (typeof value !== 'string')
    invalid(fields.pathOf(key), 'must be a duration such as 30s or 5m');
  return parseGoDuration(value, fields.pathOf(key));
}

function seconds(fields: Fields, key: string): number | undefined {
  const value = fields.optionalInt(key, { min: 0 });
  return value === undefined ? undefined : value * 1000;
}

function readSteps(fields: Fields): CanaryStep[] {
  const list = fields.optionalList('steps');
  if (!list || list.length === 0)
    invalid(fields.pathOf('steps'), 'must list at least one step');
  let previous = 0;
  return list.map((item, i) => {
    const step = Fields.of(item, childPath(fields.pathOf('steps'), i));
    step.onlyKeys(['weight', 'replicas', 'pause', 'matches']);
    if (step.has('matches'))
      invalid(
        step.pathOf('matches'),
        'header matches are not supported: split traffic by weight',
      );
    // KubeVela's addon may give only `replicas: "20%"`: the weight follows it.
    const share = /^(\d+)%$/.exec(String(step.value.replicas ?? ''));
    const weight =
      step.optionalInt('weight', { min: 1, max: 100 }) ??
      (share ? Number(share[1]) : undefined) ??
      invalid(
        step.pathOf('weight'),
        'is required (1-100), unless replicas is a percentage',
      );
    if (weight < previous)
      invalid(
        step.pathOf('weight'),
        `must not be lower than the step before (${previous})`,
      );
    previous = weight;
    const out: CanaryStep = { weight };
    const replicas = step.value.replicas;
    if (replicas !== undefined && replicas !== null) {
      if (typeof replicas === 'number') {
        out.replicas = step.optionalInt('replicas', { min: 0 });
      } else if (
        typeof replicas === 'string' &&
        /^(100|[1-9]?\d)%$/.test(replicas)
      ) {
        out.replicas = replicas;
      } else {
        invalid(
          step.pathOf('replicas'),
          'must be a number of pods or a percentage such as "20%"',
        );
      }
    }
    if (step.has('pause')) {
      const pause = step.optionalMap('pause')!;
      pause.onlyKeys(['duration']);
      out.pause = {};
      const ms = duration(pause, 'duration');
      if (ms !== undefined) out.pause.durationMs = ms;
    }
    return out;
  });
}

function readTrafficRoutings(
  fields: Fields,
  component: string,
): TrafficRouting[] {
  const list = fields.optionalList('trafficRoutings');
  if (!list || list.length === 0)
    invalid(
      fields.pathOf('trafficRoutings'),
      'must name where traffic is split: a gateway (HTTPRoute) or an ingress',
    );
  return list.map((item, i) => {
    const routing = Fields.of(
      item,
      childPath(fields.pathOf('trafficRoutings'), i),
    );
    routing.onlyKeys(['service', 'type', 'gateway', 'ingress', 'ingressName']);
    const service = routing.optionalString('service') ?? component;
    const type = routing.optionalString('type');
    // KubeVela's addon writes `type: nginx | gateway`; Kruise writes the block.
    if (type !== undefined && type !== 'nginx' && type !== 'gateway')
      invalid(routing.pathOf('type'), 'must be "gateway" or "nginx"');
    const gateway =
      routing.optionalMap('gateway') ??
      (type === 'gateway'
        ? Fields.of({}, routing.pathOf('gateway'))
        : undefined);
    const ingressName = routing.optionalString('ingressName');
    if (ingressName !== undefined && routing.has('ingress'))
      invalid(
        routing.pathOf('ingressName'),
        'names the Ingress a second time: keep ingress.name or ingressName',
      );
    // KubeVela's addon names the Ingress with `ingressName` beside `type: nginx`.
    const ingress =
      routing.optionalMap('ingress') ??
      (type === 'nginx' || ingressName !== undefined
        ? Fields.of(
            ingressName === undefined ? {} : { name: ingressName },
            routing.pathOf('ingress'),
          )
        : undefined);
    if (gateway && ingress)
      invalid(
        routing.path,
        'names both a gateway and an ingress: a routing splits traffic one way',
      );
    if (gateway) {
      if (type === 'nginx')
        invalid(
          routing.pathOf('type'),
          'says nginx, but the routing names a gateway',
        );
      gateway.onlyKeys(['httpRouteName', 'parentRefs', 'hostnames', 'port']);
      const parentRefs = (gateway.optionalList('parentRefs') ?? []).map(
        (ref, j) =>
          Fields.of(ref, childPath(gateway.pathOf('parentRefs'), j)).value,
      );
      return {
        kind: 'gateway',
        service,
        httpRouteName: gateway.optionalString('httpRouteName') ?? component,
        parentRefs,
        hostnames: gateway.optionalStringList('hostnames') ?? [],
        port: gateway.optionalInt('port', { min: 1, max: 65535 }),
      };
    }
    if (ingress) {
      if (type === 'gateway')
        invalid(
          routing.pathOf('type'),
          'says gateway, but the routing names an ingress',
        );
      ingress.onlyKeys(['classType', 'name']);
      const classType = ingress.optionalString('classType') ?? 'nginx';
      if (classType !== 'nginx')
        invalid(
          ingress.pathOf('classType'),
          'only "nginx" is supported (ingress-nginx canary annotations)',
        );
      return {
        kind: 'ingress',
        service,
        ingressName: ingress.optionalString('name') ?? component,
      };
    }
    return invalid(
      routing.path,
      'must name a gateway (HTTPRoute) or an ingress (ingress-nginx)',
    );
  });
}

function readAnalysis(fields: Fields, key: string): AnalysisSpec {
  const analysis = fields.optionalMap(key) ?? Fields.of({}, fields.pathOf(key));
  analysis.onlyKeys(['interval', 'metrics', 'webhooks']);
  const interval = analysis.optionalString('interval') ?? '30s';
  const intervalMs = parseGoDuration(interval, analysis.pathOf('interval'));
  const names = new Set<string>();
  const unique = (check: Fields, name: string) => {
    if (names.has(name))
      invalid(check.pathOf('name'), `another check is already named "${name}"`);
    names.add(name);
  };
  const metrics = (analysis.optionalList('metrics') ?? []).map((item, i) => {
    const metric = Fields.of(item, childPath(analysis.pathOf('metrics'), i));
    metric.onlyKeys(['name', 'query', 'thresholdRange']);
    const name = metric.string('name');
    unique(metric, name);
    const query = metric.string('query');
    for (const [, variable] of query.matchAll(/\{\{\s*([^}\s]*)\s*\}\}/g)) {
      if (!QUERY_VARIABLES.includes(variable))
        invalid(
          metric.pathOf('query'),
          `uses {{ ${variable} }}, which is not a variable (known: ${QUERY_VARIABLES.join(
            ', ',
          )})`,
        );
    }
    const range =
      metric.optionalMap('thresholdRange') ??
      invalid(
        metric.pathOf('thresholdRange'),
        'is required ({ min, max } or either)',
      );
    range.onlyKeys(['min', 'max']);
    const bound = (end: 'min' | 'max') => {
      const value = range.value[end];
      if (value === undefined || value === null) return undefined;
      if (typeof value !== 'number' || !Number.isFinite(value))
        invalid(range.pathOf(end), 'must be a number');
      return value;
    };
    const min = bound('min');
    const max = bound('max');
    if (min === undefined && max === undefined)
      invalid(range.path, 'must set min, max or both');
    if (min !== undefined && max !== undefined && min > max)
      invalid(range.pathOf('min'), `is above max (${min} > ${max})`);
    return { name, query, min, max };
  });
  const webhooks = (analysis.optionalList('webhooks') ?? []).map((item, i) => {
    const hook = Fields.of(item, childPath(analysis.pathOf('webhooks'), i));
    hook.onlyKeys(['name', 'url', 'timeout', 'metadata']);
    const name = hook.string('name');
    unique(hook, name);
    const url = hook.string('url');
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return invalid(hook.pathOf('url'), 'is not a valid URL');
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
      invalid(hook.pathOf('url'), 'must be http(s)');
    const check: WebhookCheck = { name, url };
    const timeout = hook.optionalString('timeout');
    if (timeout)
      check.timeoutMs = parseGoDuration(timeout, hook.pathOf('timeout'));
    const metadata = hook.optionalStringMap('metadata');
    if (metadata) check.metadata = metadata;
    return check;
  });
  return { interval, intervalMs, metrics, webhooks };
}

function readCommon(
  fields: Fields,
  component: string,
  analysisKey: string,
): CommonSpec {
  return {
    component,
    analysis: readAnalysis(fields, analysisKey),
    failureLimit: fields.optionalInt('failureLimit', { min: 0 }) ?? 0,
    progressDeadlineMs: seconds(fields, 'progressDeadlineSeconds') ?? 600_000,
  };
}

/** KubeVela's `kruise-rollout` trait: `canary.steps`, `canary.trafficRoutings`, plus analysis. */
export function parseCanary(fields: Fields, component: string): CanarySpec {
  fields.onlyKeys([
    'canary',
    'analysis',
    'failureLimit',
    'progressDeadlineSeconds',
    'workloadType',
  ]);
  const workloadType = fields.optionalMap('workloadType');
  if (workloadType) {
    workloadType.onlyKeys(['apiVersion', 'kind']);
    if (
      workloadType.optionalString('kind') !== undefined &&
      workloadType.value.kind !== 'Deployment'
    )
      invalid(
        workloadType.pathOf('kind'),
        'only Deployment workloads are rolled out',
      );
  }
  const canary =
    fields.optionalMap('canary') ??
    invalid(fields.pathOf('canary'), 'is required (steps and trafficRoutings)');
  canary.onlyKeys(['steps', 'trafficRoutings']);
  const steps = readSteps(canary);
  const trafficRoutings = readTrafficRoutings(canary, component);
  return {
    strategy: 'canary',
    ...readCommon(fields, component, 'analysis'),
    steps,
    trafficRoutings,
  };
}

/** The `blue-green` trait: a preview Service, an atomic switch, the old version kept a while. */
export function parseBlueGreen(
  fields: Fields,
  component: string,
): BlueGreenSpec {
  fields.onlyKeys([
    'activeService',
    'previewService',
    'autoPromotionSeconds',
    'autoPromotionEnabled',
    'scaleDownDelaySeconds',
    'prePromotionAnalysis',
    'failureLimit',
    'progressDeadlineSeconds',
  ]);
  const manual = fields.optionalBoolean('autoPromotionEnabled') === false;
  const autoPromotionMs = seconds(fields, 'autoPromotionSeconds');
  if (manual && autoPromotionMs !== undefined)
    invalid(
      fields.pathOf('autoPromotionSeconds'),
      'contradicts autoPromotionEnabled: false (the switch waits for Promote)',
    );
  const previewService =
    fields.optionalString('previewService') ?? `${component}-preview`;
  const activeService = fields.optionalString('activeService') ?? component;
  if (previewService === activeService)
    invalid(fields.pathOf('previewService'), 'must differ from activeService');
  return {
    ...readCommon(fields, component, 'prePromotionAnalysis'),
    strategy: 'blueGreen',
    previewService,
    activeService,
    autoPromotionMs,
    manual,
    scaleDownDelayMs: seconds(fields, 'scaleDownDelaySeconds') ?? 30_000,
  };
}

/** The rollout a component asks for through its traits, if any (at most one). */
export function rolloutSpecOf(
  component: ApplicationComponent,
  path = 'component',
): RolloutSpec | undefined {
  const found = (component.traits ?? [])
    .map((trait, index) => ({ trait, index }))
    .filter(
      ({ trait }) =>
        trait.type === CANARY_TRAIT || trait.type === BLUE_GREEN_TRAIT,
    );
  if (found.length === 0) return undefined;
  if (found.length > 1)
    invalid(
      `${path}.traits[${found[1].index}]`,
      'a component rolls out one way: it already has a kruise-rollout or blue-green trait',
    );
  const { trait, index } = found[0];
  const fields = Fields.of(
    trait.properties,
    `${path}.traits[${index}].properties`,
  );
  return trait.type === CANARY_TRAIT
    ? parseCanary(fields, component.name)
    : parseBlueGreen(fields, component.name);
}
