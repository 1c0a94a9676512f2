import { createHash } from 'node:crypto';
import { stableStringify } from '../apply/apply';
import type { TraitContext, TraitDefinition } from '../definitions/registry';
import { Fields, invalid, isRecord } from '../model/fields';
import type { KubeObject } from '../model/types';
import {
  BLUE_GREEN_TRAIT,
  CANARY_TRAIT,
  parseBlueGreen,
  parseCanary,
  type RolloutSpec,
} from './spec';

/** Which part of a rollout an object plays, so the loop finds it among the component's objects. */
export const ROLE_ANNOTATION = 'rollout.gitops.dev/role';
/** Carried by the pods of each version; the Services select on it, so a switch is one write. */
export const TEMPLATE_HASH_LABEL = 'rollout.gitops.dev/template-hash';
/** Keeps the canary's (or preview's) pods apart from the stable Deployment's. */
export const TRACK_LABEL = 'rollout.gitops.dev/track';

export type RolloutRole =
  | 'stable'
  | 'canary'
  | 'stableService'
  | 'canaryService'
  | 'route'
  | 'canaryIngress';

type Obj = Record<string, unknown>;

function annotate(object: KubeObject, role: RolloutRole): void {
  object.metadata.annotations = {
    ...object.metadata.annotations,
    [ROLE_ANNOTATION]: role,
  };
}

export const roleOf = (object: KubeObject): RolloutRole | undefined =>
  object.metadata.annotations?.[ROLE_ANNOTATION] as RolloutRole | undefined;

/** A pod template's identity: what decides that a new version is rolling out. */
export function templateHash(template: unknown): string {
  return createHash('sha256')
    .update(stableStringify(template))
    .digest('hex')
    .slice(0, 10);
}

/** The image of a template's first container. */
export function imageOf(template: unknown): string | undefined {
  const containers = (template as { spec?: { containers?: Obj[] } })?.spec
    ?.containers;
  const image = containers?.[0]?.image;
  return typeof image === 'string' ? image : undefined;
}

function serviceNamed(
  ctx: TraitContext,
  name: string,
  where: string,
): KubeObject {
  const service = ctx.objects.find(
    o => o.kind === 'Service' && o.metadata.name === name,
  );
  if (!service)
    invalid(
      where,
      `the component renders no Service "${name}" to split traffic with (a webservice renders one when it exposes a port)`,
    );
  return service;
}

function canaryDeployment(stable: KubeObject, name: string): KubeObject {
  const spec = stable.spec as Obj;
  const selector = (spec.selector as { matchLabels?: Record<string, string> })
    ?.matchLabels;
  const copy = structuredClone(stable);
  copy.metadata = {
    name,
    labels: { ...stable.metadata.labels },
    annotations: { ...stable.metadata.annotations },
  };
  copy.spec = {
    ...structuredClone(spec),
    replicas: 0,
    selector: { matchLabels: { ...selector, [TRACK_LABEL]: 'canary' } },
  };
  return copy;
}

function serviceCopy(service: KubeObject, name: string): KubeObject {
  const copy = structuredClone(service);
  copy.metadata = { name, labels: { ...service.metadata.labels } };
  const spec = copy.spec as Obj;
  // A ClusterIP or node port is the original's: the copy gets its own.
  delete spec.clusterIP;
  delete spec.clusterIPs;
  for (const port of (spec.ports ?? []) as Obj[]) delete port.nodePort;
  return copy;
}

function firstPort(service: KubeObject): number | undefined {
  const ports = (service.spec as { ports?: Array<{ port?: number }> })?.ports;
  return ports?.[0]?.port;
}

/** The objects a rollout needs beside the component's own, rendered at weight 0. */
function renderRollout(ctx: TraitContext, spec: RolloutSpec): void {
  const stable = ctx.workload();
  if (stable.kind !== 'Deployment')
    invalid(
      ctx.path,
      `rolls out Deployments; the workload is a ${stable.kind}`,
    );
  annotate(stable, 'stable');
  const suffix = spec.strategy === 'canary' ? 'canary' : 'preview';
  annotate(
    ctx.add(canaryDeployment(stable, `${stable.metadata.name}-${suffix}`)),
    'canary',
  );
  if (spec.strategy === 'blueGreen') {
    const active = serviceNamed(
      ctx,
      spec.activeService,
      `${ctx.path}.properties.activeService`,
    );
    annotate(active, 'stableService');
    annotate(
      ctx.add(serviceCopy(active, spec.previewService)),
      'canaryService',
    );
    return;
  }
  const services = new Set(spec.trafficRoutings.map(r => r.service));
  if (services.size > 1)
    invalid(
      `${ctx.path}.properties.canary.trafficRoutings`,
      `every routing must split the same Service (they name ${[
        ...services,
      ].join(', ')})`,
    );
  const routingsPath = `${ctx.path}.properties.canary.trafficRoutings`;
  const service = serviceNamed(
    ctx,
    [...services][0],
    `${routingsPath}[0].service`,
  );
  annotate(service, 'stableService');
  const canaryService = `${service.metadata.name}-canary`;
  annotate(ctx.add(serviceCopy(service, canaryService)), 'canaryService');
  spec.trafficRoutings.forEach((routing, i) => {
    if (routing.kind === 'gateway') {
      const port = routing.port ?? firstPort(service);
      const ref = (name: string, weight: number) => ({
        group: '',
        kind: 'Service',
        name,
        ...(port ? { port } : {}),
        weight,
      });
      const route: KubeObject = {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        metadata: { name: routing.httpRouteName },
        spec: {
          parentRefs: routing.parentRefs,
          ...(routing.hostnames.length ? { hostnames: routing.hostnames } : {}),
          rules: [
            {
              backendRefs: [
                ref(service.metadata.name, 100),
                ref(canaryService, 0),
              ],
            },
          ],
        },
      };
      annotate(ctx.add(route), 'route');
      return;
    }
    const ingress = ctx.objects.find(
      o => o.kind === 'Ingress' && o.metadata.name === routing.ingressName,
    );
    if (!ingress)
      invalid(
        `${routingsPath}[${i}].ingress.name`,
        `the component renders no Ingress "${routing.ingressName}" (put a gateway or ingress trait before this one)`,
      );
    const copy = structuredClone(ingress);
    copy.metadata = {
      name: `${ingress.metadata.name}-canary`,
      labels: { ...ingress.metadata.labels },
      annotations: {
        ...ingress.metadata.annotations,
        'nginx.ingress.kubernetes.io/canary': 'true',
        'nginx.ingress.kubernetes.io/canary-weight': '0',
      },
    };
    const rules = ((copy.spec as Obj)?.rules ?? []) as Obj[];
    for (const rule of rules) {
      const paths = ((rule.http as Obj)?.paths ?? []) as Obj[];
      for (const path of paths) {
        const backend = (path.backend as Obj)?.service as Obj | undefined;
        if (backend?.name === service.metadata.name)
          backend.name = canaryService;
      }
    }
    annotate(ctx.add(copy), 'canaryIngress');
  });
}

function traitFields(ctx: TraitContext): Fields {
  return Fields.of(ctx.trait.properties, `${ctx.path}.properties`);
}

/** KubeVela's `kruise-rollout` trait, run natively: canary steps over an HTTPRoute or ingress-nginx. */
export const canaryTrait: TraitDefinition = {
  type: CANARY_TRAIT,
  validate: fields => void parseCanary(fields, 'component'),
  apply: ctx =>
    renderRollout(ctx, parseCanary(traitFields(ctx), ctx.component.name)),
};

/** Blue-green: the new version behind a preview Service, then one switch of the active Service. */
export const blueGreenTrait: TraitDefinition = {
  type: BLUE_GREEN_TRAIT,
  validate: fields => void parseBlueGreen(fields, 'component'),
  apply: ctx =>
    renderRollout(ctx, parseBlueGreen(traitFields(ctx), ctx.component.name)),
};

/** What the loop decided the objects look like now. */
export interface RolloutShape {
  stableTemplate: unknown;
  stableHash: string;
  /** The new version's template while one is in flight. */
  canaryTemplate?: unknown;
  canaryHash?: string;
  canaryReplicas: number;
  /** Percent of traffic on the canary (HTTPRoute and canary Ingress). */
  weight: number;
  /** The template hash the users' Service selects (blue-green switches it). */
  activeHash: string;
}

function withLabels(template: unknown, labels: Record<string, string>): Obj {
  const copy = structuredClone(template) as Obj;
  const metadata = (isRecord(copy.metadata) ? copy.metadata : {}) as Obj;
  metadata.labels = { ...(metadata.labels as Obj), ...labels };
  copy.metadata = metadata;
  return copy;
}

function select(service: KubeObject, hash: string): void {
  const spec = service.spec as Obj;
  spec.selector = { ...(spec.selector as Obj), [TEMPLATE_HASH_LABEL]: hash };
}

/** Sets the rollout's objects (rendered by the traits above) to the shape the loop decided. */
export function shapeObjects(objects: KubeObject[], shape: RolloutShape): void {
  const canaryHash = shape.canaryHash ?? shape.stableHash;
  for (const object of objects) {
    const spec = object.spec as Obj;
    switch (roleOf(object)) {
      case 'stable':
        spec.template = withLabels(shape.stableTemplate, {
          [TEMPLATE_HASH_LABEL]: shape.stableHash,
        });
        break;
      case 'canary':
        spec.template = withLabels(
          shape.canaryTemplate ?? shape.stableTemplate,
          { [TEMPLATE_HASH_LABEL]: canaryHash, [TRACK_LABEL]: 'canary' },
        );
        spec.replicas = shape.canaryReplicas;
        break;
      case 'stableService':
        select(object, shape.activeHash);
        break;
      case 'canaryService':
        select(object, canaryHash);
        break;
      case 'route': {
        const refs = ((spec.rules as Obj[])[0].backendRefs ?? []) as Obj[];
        refs[0].weight = 100 - shape.weight;
        refs[1].weight = shape.weight;
        break;
      }
      case 'canaryIngress':
        object.metadata.annotations![
          'nginx.ingress.kubernetes.io/canary-weight'
        ] = String(shape.weight);
        break;
      default:
    }
  }
}

/** The rendered pod template of the component's stable workload: the version Git asks for. */
export function desiredTemplate(objects: KubeObject[]): {
  template: unknown;
  replicas: number;
} {
  const stable = objects.find(o => roleOf(o) === 'stable');
  const spec = (stable?.spec ?? {}) as Obj;
  return {
    template: structuredClone(spec.template),
    replicas: typeof spec.replicas === 'number' ? spec.replicas : 1,
  };
}
