import { checkInt, Fields, invalid, isRecord } from '../../model/fields';
import type { TraitContext, TraitDefinition } from '../../definitions/registry';
import type { KubeObject } from '../../model/types';
import { selectorLabels } from './components';

function traitFields(ctx: TraitContext): Fields {
  return Fields.of(ctx.trait.properties, `${ctx.path}.properties`);
}

function asMap(parent: Record<string, unknown>, key: string): Record<string, unknown> {
  if (!isRecord(parent[key])) parent[key] = {};
  return parent[key] as Record<string, unknown>;
}

function podTemplate(workload: KubeObject): Record<string, unknown> | undefined {
  const spec = workload.spec;
  return isRecord(spec) && isRecord(spec.template) ? spec.template : undefined;
}

/** `labels` and `annotations`: the workload's metadata and, when it has one, its pod template's. */
function metadataTrait(type: 'labels' | 'annotations'): TraitDefinition {
  const read = (fields: Fields) => {
    for (const [key, value] of Object.entries(fields.value)) {
      // null removes the key, as in KubeVela's trait.
      if (value !== null && typeof value !== 'string') {
        invalid(fields.pathOf(key), 'must be a string (or null to remove it)');
      }
    }
    return fields.value as Record<string, string | null>;
  };
  return {
    type,
    validate: fields => void read(fields),
    apply(ctx) {
      const entries = read(traitFields(ctx));
      const workload = ctx.workload();
      const template = podTemplate(workload);
      const targets = [workload.metadata, ...(template ? [asMap(template, 'metadata')] : [])];
      for (const target of targets) {
        const map = asMap(target, type) as Record<string, string>;
        for (const [key, value] of Object.entries(entries)) {
          if (value === null) delete map[key];
          else map[key] = value;
        }
      }
    },
  };
}

/** KubeVela's `scaler`: the workload's replica count. */
export const scalerTrait: TraitDefinition = {
  type: 'scaler',
  validate: fields => {
    fields.onlyKeys(['replicas']);
    fields.optionalInt('replicas', { min: 0 });
  },
  apply(ctx) {
    const fields = traitFields(ctx);
    const workload = ctx.workload();
    asMap(workload, 'spec').replicas = fields.optionalInt('replicas', { min: 0 }) ?? 1;
  },
};

function readEnvTrait(fields: Fields) {
  fields.onlyKeys(['env', 'containerName', 'replace', 'unset']);
  return {
    env: fields.optionalStringMap('env') ?? {},
    containerName: fields.optionalString('containerName'),
    replace: fields.optionalBoolean('replace') ?? false,
    unset: fields.optionalStringList('unset') ?? [],
  };
}

/** KubeVela's `env`: merges variables into the workload's containers (or one named container). */
export const envTrait: TraitDefinition = {
  type: 'env',
  validate: fields => void readEnvTrait(fields),
  apply(ctx) {
    const spec = readEnvTrait(traitFields(ctx));
    const template = podTemplate(ctx.workload());
    const podSpec = template && isRecord(template.spec) ? template.spec : undefined;
    const containers = Array.isArray(podSpec?.containers)
      ? (podSpec!.containers as Array<Record<string, unknown>>)
      : [];
    const targets = spec.containerName
      ? containers.filter(c => c.name === spec.containerName)
      : containers;
    if (targets.length === 0) {
      invalid(
        spec.containerName ? `${ctx.path}.properties.containerName` : ctx.path,
        spec.containerName
          ? `the workload has no container named "${spec.containerName}"`
          : 'the workload has no containers to set variables on',
      );
    }
    for (const container of targets) {
      const current = spec.replace
        ? []
        : ((Array.isArray(container.env) ? container.env : []) as Array<{ name: string }>);
      const kept = current.filter(
        e => !(e.name in spec.env) && !spec.unset.includes(e.name),
      );
      container.env = [
        ...kept,
        ...Object.entries(spec.env).map(([name, value]) => ({ name, value })),
      ];
    }
  },
};

interface HttpExposure {
  domain?: string;
  http: Record<string, number>;
  ingressClass: string;
  classInSpec: boolean;
  secretName?: string;
  annotations?: Record<string, string>;
  pathType: string;
  name?: string;
}

function readHttp(fields: Fields): Record<string, number> {
  const http = fields.optionalMap('http') ?? invalid(fields.pathOf('http'), 'is required');
  const entries = Object.entries(http.value);
  if (entries.length === 0) invalid(http.path, 'must map at least one path to a port');
  const out: Record<string, number> = {};
  for (const [path, port] of entries) {
    if (!path.startsWith('/')) invalid(http.pathOf(path), 'the path must start with "/"');
    out[path] = checkInt(port, http.pathOf(path), { min: 1, max: 65535 });
  }
  return out;
}

/** The seed's legacy `ingress`: `domain` and a path→port map; class as an annotation. */
function readIngress(fields: Fields): HttpExposure {
  fields.onlyKeys(['domain', 'http', 'class']);
  return {
    domain: fields.string('domain'),
    http: readHttp(fields),
    ingressClass: fields.optionalString('class') ?? 'nginx',
    classInSpec: false,
    pathType: 'ImplementationSpecific',
  };
}

const PATH_TYPES = ['ImplementationSpecific', 'Prefix', 'Exact'];

/** KubeVela's newer `gateway`: domain optional, class in spec or annotation, TLS. */
function readGateway(fields: Fields): HttpExposure {
  fields.onlyKeys(['domain', 'http', 'class', 'classInSpec', 'secretName', 'annotations', 'pathType', 'name']);
  const pathType = fields.optionalString('pathType') ?? 'ImplementationSpecific';
  if (!PATH_TYPES.includes(pathType)) {
    invalid(fields.pathOf('pathType'), `must be one of ${PATH_TYPES.join(', ')}`);
  }
  return {
    domain: fields.optionalString('domain'),
    http: readHttp(fields),
    ingressClass: fields.optionalString('class') ?? 'nginx',
    classInSpec: fields.optionalBoolean('classInSpec') ?? false,
    secretName: fields.optionalString('secretName'),
    annotations: fields.optionalStringMap('annotations'),
    pathType,
    name: fields.optionalString('name'),
  };
}

/**
 * Renders the Service for the exposed ports (merged into the component's own
 * Service when it already has one) and an Ingress routing each path to it.
 */
function exposeHttp(ctx: TraitContext, spec: HttpExposure): void {
  const serviceName = ctx.component.name;
  const service = ctx.add({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: serviceName },
    spec: { selector: selectorLabels(ctx.app, ctx.component), ports: [] },
  });
  const serviceSpec = asMap(service, 'spec');
  const ports = (Array.isArray(serviceSpec.ports) ? serviceSpec.ports : []) as Array<
    Record<string, unknown>
  >;
  for (const port of new Set(Object.values(spec.http))) {
    if (!ports.some(p => p.port === port)) {
      ports.push({ name: `port-${port}`, port, targetPort: port, protocol: 'TCP' });
    }
  }
  serviceSpec.ports = ports;

  const annotations: Record<string, string> = { ...spec.annotations };
  const ingressSpec: Record<string, unknown> = {};
  if (spec.classInSpec) ingressSpec.ingressClassName = spec.ingressClass;
  else annotations['kubernetes.io/ingress.class'] = spec.ingressClass;
  const rule: Record<string, unknown> = {
    ...(spec.domain ? { host: spec.domain } : {}),
    http: {
      paths: Object.entries(spec.http).map(([path, port]) => ({
        path,
        pathType: spec.pathType,
        backend: { service: { name: serviceName, port: { number: port } } },
      })),
    },
  };
  ingressSpec.rules = [rule];
  if (spec.secretName) {
    ingressSpec.tls = [{ ...(spec.domain ? { hosts: [spec.domain] } : {}), secretName: spec.secretName }];
  }
  ctx.add({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name: spec.name ?? ctx.component.name, annotations },
    spec: ingressSpec,
  });
}

export const ingressTrait: TraitDefinition = {
  type: 'ingress',
  validate: fields => void readIngress(fields),
  apply: ctx => exposeHttp(ctx, readIngress(traitFields(ctx))),
};

export const gatewayTrait: TraitDefinition = {
  type: 'gateway',
  validate: fields => void readGateway(fields),
  apply: ctx => exposeHttp(ctx, readGateway(traitFields(ctx))),
};

export const builtinTraits = [
  ingressTrait,
  gatewayTrait,
  scalerTrait,
  metadataTrait('labels'),
  metadataTrait('annotations'),
  envTrait,
];

