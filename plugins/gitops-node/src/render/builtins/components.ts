import { InputError } from '@backstage/errors';
import { childPath, Fields, checkInt, invalid } from '../../model/fields';
import { parseRollbackPolicy } from '../../model/kustomize';
import { DIGEST_REFLECTION_POLICIES } from '../../sources/oci/digests';
import type {
  ComponentRenderContext,
  ComponentTypeDefinition,
} from '../../definitions/registry';
import {
  LABEL_APP_NAME,
  LABEL_COMPONENT,
  type Application,
  type ApplicationComponent,
  type KubeObject,
} from '../../model/types';

interface PortSpec {
  port: number;
  containerPort: number;
  name: string;
  protocol: string;
  expose: boolean;
  nodePort?: number;
}

interface ContainerSpec {
  image: string;
  imagePullPolicy?: string;
  imagePullSecrets?: string[];
  cmd?: string[];
  args?: string[];
  env?: Array<Record<string, unknown>>;
  cpu?: string;
  memory?: string;
  livenessProbe?: Record<string, unknown>;
  readinessProbe?: Record<string, unknown>;
  replicas: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ports: PortSpec[];
  exposeType: string;
  volumes: VolumeSpec[];
}

interface VolumeSpec {
  mount: Record<string, unknown>;
  volume: Record<string, unknown>;
}

/** KubeVela's `volumeMounts` kinds: each reads its own fields and gives the pod volume. */
const VOLUME_KINDS: Record<
  string,
  { keys: string[]; volume: (v: Fields) => Record<string, unknown> }
> = {
  pvc: {
    keys: ['claimName'],
    volume: v => ({
      persistentVolumeClaim: { claimName: v.string('claimName') },
    }),
  },
  configMap: {
    keys: ['cmName', 'defaultMode', 'items'],
    volume: v => ({
      configMap: {
        name: v.string('cmName'),
        defaultMode: v.optionalInt('defaultMode', { min: 0, max: 511 }) ?? 420,
        ...(v.has('items') ? { items: v.optionalList('items') } : {}),
      },
    }),
  },
  secret: {
    keys: ['secretName', 'defaultMode', 'items'],
    volume: v => ({
      secret: {
        secretName: v.string('secretName'),
        defaultMode: v.optionalInt('defaultMode', { min: 0, max: 511 }) ?? 420,
        ...(v.has('items') ? { items: v.optionalList('items') } : {}),
      },
    }),
  },
  emptyDir: {
    keys: ['medium'],
    volume: v => {
      const medium = v.optionalString('medium') ?? '';
      if (medium !== '' && medium !== 'Memory') {
        invalid(v.pathOf('medium'), 'must be "" or "Memory"');
      }
      return { emptyDir: medium ? { medium } : {} };
    },
  },
  hostPath: {
    keys: ['path'],
    volume: v => ({ hostPath: { path: v.string('path') } }),
  },
};

function readVolumes(fields: Fields): VolumeSpec[] {
  const mounts = fields.optionalMap('volumeMounts');
  if (!mounts) return [];
  mounts.onlyKeys(Object.keys(VOLUME_KINDS));
  const volumes: VolumeSpec[] = [];
  const names = new Set<string>();
  for (const [kind, { keys, volume }] of Object.entries(VOLUME_KINDS)) {
    (mounts.optionalList(kind) ?? []).forEach((item, i) => {
      const v = Fields.of(item, childPath(mounts.pathOf(kind), i));
      v.onlyKeys(['name', 'mountPath', 'subPath', ...keys]);
      const name = v.string('name');
      if (names.has(name))
        invalid(v.pathOf('name'), `another volume is already named "${name}"`);
      names.add(name);
      const mount: Record<string, unknown> = {
        name,
        mountPath: v.string('mountPath'),
      };
      const subPath = v.optionalString('subPath');
      if (subPath) mount.subPath = subPath;
      volumes.push({ mount, volume: { name, ...volume(v) } });
    });
  }
  return volumes;
}

const CONTAINER_KEYS = [
  'image',
  'imagePullPolicy',
  'imagePullSecrets',
  'cmd',
  'args',
  'env',
  'cpu',
  'memory',
  'livenessProbe',
  'readinessProbe',
  'replicas',
  'labels',
  'annotations',
  'volumeMounts',
];
const SERVICE_KEYS = ['port', 'ports', 'exposeType'];
const PROTOCOLS = ['TCP', 'UDP', 'SCTP'];
const EXPOSE_TYPES = ['ClusterIP', 'NodePort', 'LoadBalancer'];
const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'];

function readEnv(fields: Fields): Array<Record<string, unknown>> | undefined {
  return fields.optionalList('env')?.map((item, i) => {
    const entry = Fields.of(item, childPath(fields.pathOf('env'), i));
    entry.onlyKeys(['name', 'value', 'valueFrom']);
    const out: Record<string, unknown> = { name: entry.string('name') };
    const value = entry.optionalString('value');
    if (value !== undefined) out.value = value;
    const valueFrom = entry.optionalMap('valueFrom');
    if (valueFrom) out.valueFrom = valueFrom.value;
    if (value !== undefined && valueFrom) {
      invalid(entry.path, 'set either value or valueFrom, not both');
    }
    return out;
  });
}

function readPorts(fields: Fields): PortSpec[] {
  const list = fields.optionalList('ports');
  if (list) {
    if (fields.has('port'))
      invalid(fields.pathOf('port'), 'set either port or ports, not both');
    const ports = list.map((item, i) => {
      const p = Fields.of(item, childPath(fields.pathOf('ports'), i));
      p.onlyKeys([
        'port',
        'containerPort',
        'name',
        'protocol',
        'expose',
        'nodePort',
      ]);
      const port = checkInt(p.value.port, p.pathOf('port'), {
        min: 1,
        max: 65535,
      });
      const protocol = p.optionalString('protocol') ?? 'TCP';
      if (!PROTOCOLS.includes(protocol)) {
        invalid(
          p.pathOf('protocol'),
          `must be one of ${PROTOCOLS.join(', ')}, got "${protocol}"`,
        );
      }
      return {
        port,
        containerPort:
          p.optionalInt('containerPort', { min: 1, max: 65535 }) ?? port,
        // KubeVela's default name, so Services and probes written for KubeVela keep working.
        name: p.optionalString('name') ?? `port-${port}`,
        protocol,
        expose: p.optionalBoolean('expose') ?? false,
        nodePort: p.optionalInt('nodePort', { min: 1, max: 65535 }),
      };
    });
    const seen = new Set<string>();
    ports.forEach((p, i) => {
      const key = `${p.containerPort}/${p.protocol}`;
      if (seen.has(key)) {
        invalid(
          childPath(fields.pathOf('ports'), i),
          `port ${key} is listed twice`,
        );
      }
      seen.add(key);
    });
    return ports;
  }
  // The seed's legacy single `port`: a container port, exposed only through a trait.
  const port = fields.optionalInt('port', { min: 1, max: 65535 });
  return port === undefined
    ? []
    : [
        {
          port,
          containerPort: port,
          name: `port-${port}`,
          protocol: 'TCP',
          expose: false,
        },
      ];
}

function readContainerSpec(fields: Fields, withPorts: boolean): ContainerSpec {
  fields.onlyKeys(
    withPorts ? [...CONTAINER_KEYS, ...SERVICE_KEYS] : CONTAINER_KEYS,
  );
  const imagePullPolicy = fields.optionalString('imagePullPolicy');
  if (
    imagePullPolicy !== undefined &&
    !PULL_POLICIES.includes(imagePullPolicy)
  ) {
    invalid(
      fields.pathOf('imagePullPolicy'),
      `must be one of ${PULL_POLICIES.join(', ')}`,
    );
  }
  const exposeType =
    (withPorts && fields.optionalString('exposeType')) || 'ClusterIP';
  if (!EXPOSE_TYPES.includes(exposeType)) {
    invalid(
      fields.pathOf('exposeType'),
      `must be one of ${EXPOSE_TYPES.join(', ')}`,
    );
  }
  return {
    image: fields.string('image'),
    imagePullPolicy,
    imagePullSecrets: fields.optionalStringList('imagePullSecrets'),
    cmd: fields.optionalStringList('cmd'),
    args: fields.optionalStringList('args'),
    env: readEnv(fields),
    cpu: fields.optionalQuantity('cpu'),
    memory: fields.optionalQuantity('memory'),
    livenessProbe: fields.optionalMap('livenessProbe')?.value,
    readinessProbe: fields.optionalMap('readinessProbe')?.value,
    replicas: fields.optionalInt('replicas', { min: 0 }) ?? 1,
    labels: fields.optionalStringMap('labels'),
    annotations: fields.optionalStringMap('annotations'),
    ports: withPorts ? readPorts(fields) : [],
    volumes: readVolumes(fields),
    exposeType,
  };
}

/** The labels a component's pods carry and its Deployment and Service select on. */
export function selectorLabels(
  app: Application,
  component: ApplicationComponent,
) {
  return {
    [LABEL_APP_NAME]: app.metadata.name,
    [LABEL_COMPONENT]: component.name,
  };
}

function renderDeployment(
  ctx: ComponentRenderContext,
  spec: ContainerSpec,
): KubeObject {
  const { app, component } = ctx;
  const container: Record<string, unknown> = {
    name: component.name,
    image: spec.image,
  };
  if (spec.imagePullPolicy) container.imagePullPolicy = spec.imagePullPolicy;
  if (spec.cmd) container.command = spec.cmd;
  if (spec.args) container.args = spec.args;
  if (spec.env) container.env = spec.env;
  if (spec.ports.length > 0) {
    container.ports = spec.ports.map(p => ({
      containerPort: p.containerPort,
      name: p.name,
      protocol: p.protocol,
    }));
  }
  if (spec.cpu || spec.memory) {
    // Requests equal limits, as KubeVela's webservice does: Guaranteed QoS.
    const amounts: Record<string, string> = {};
    if (spec.cpu) amounts.cpu = spec.cpu;
    if (spec.memory) amounts.memory = spec.memory;
    container.resources = { requests: { ...amounts }, limits: { ...amounts } };
  }
  if (spec.livenessProbe) container.livenessProbe = spec.livenessProbe;
  if (spec.readinessProbe) container.readinessProbe = spec.readinessProbe;
  if (spec.volumes.length > 0)
    container.volumeMounts = spec.volumes.map(v => v.mount);

  const podSpec: Record<string, unknown> = { containers: [container] };
  if (spec.imagePullSecrets) {
    podSpec.imagePullSecrets = spec.imagePullSecrets.map(name => ({ name }));
  }
  if (spec.volumes.length > 0)
    podSpec.volumes = spec.volumes.map(v => v.volume);
  const selector = selectorLabels(app, component);
  const podMeta: Record<string, unknown> = {
    labels: { ...spec.labels, ...selector },
  };
  if (spec.annotations) podMeta.annotations = { ...spec.annotations };
  const metadata: KubeObject['metadata'] = { name: component.name };
  if (spec.labels) metadata.labels = { ...spec.labels };
  if (spec.annotations) metadata.annotations = { ...spec.annotations };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata,
    spec: {
      replicas: spec.replicas,
      selector: { matchLabels: selector },
      template: { metadata: podMeta, spec: podSpec },
    },
  };
}

function renderService(
  ctx: ComponentRenderContext,
  spec: ContainerSpec,
): KubeObject | undefined {
  const exposed = spec.ports.filter(p => p.expose);
  if (exposed.length === 0) return undefined;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: ctx.component.name },
    spec: {
      type: spec.exposeType,
      selector: selectorLabels(ctx.app, ctx.component),
      ports: exposed.map(p => {
        const port: Record<string, unknown> = {
          name: p.name,
          port: p.port,
          targetPort: p.containerPort,
          protocol: p.protocol,
        };
        if (p.nodePort !== undefined && spec.exposeType !== 'ClusterIP')
          port.nodePort = p.nodePort;
        return port;
      }),
    },
  };
}

function componentFields(ctx: ComponentRenderContext): Fields {
  return Fields.of(ctx.component.properties, `${ctx.path}.properties`);
}

/** KubeVela's `webservice`: a long-running, scalable service; exposed ports get a Service. */
export const webserviceComponent: ComponentTypeDefinition = {
  type: 'webservice',
  validate: fields => void readContainerSpec(fields, true),
  render(ctx) {
    const spec = readContainerSpec(componentFields(ctx), true);
    const workload = renderDeployment(ctx, spec);
    const service = renderService(ctx, spec);
    return { workload, objects: service ? [workload, service] : [workload] };
  },
};

/** KubeVela's `worker`: a long-running background process, no ports. */
export const workerComponent: ComponentTypeDefinition = {
  type: 'worker',
  validate: fields => void readContainerSpec(fields, false),
  render(ctx) {
    const workload = renderDeployment(
      ctx,
      readContainerSpec(componentFields(ctx), false),
    );
    return { workload, objects: [workload] };
  },
};

function readObjects(fields: Fields): KubeObject[] {
  fields.onlyKeys(['objects']);
  const list = fields.optionalList('objects');
  if (!list || list.length === 0)
    invalid(fields.pathOf('objects'), 'must list at least one object');
  return list.map((item, i) => {
    const path = childPath(fields.pathOf('objects'), i);
    const object = Fields.of(item, path);
    object.string('apiVersion');
    object.string('kind');
    const metadata =
      object.optionalMap('metadata') ??
      invalid(object.pathOf('metadata'), 'is required');
    metadata.string('name');
    metadata.optionalString('namespace');
    metadata.optionalStringMap('labels');
    metadata.optionalStringMap('annotations');
    return structuredClone(item) as KubeObject;
  });
}

/** KubeVela's `k8s-objects`: the listed objects as they are; the first is the workload traits patch. */
export const k8sObjectsComponent: ComponentTypeDefinition = {
  type: 'k8s-objects',
  validate: fields => void readObjects(fields),
  render(ctx) {
    const objects = readObjects(componentFields(ctx));
    return { workload: objects[0], objects };
  },
};

const KUSTOMIZE_KEYS = [
  'repoType',
  'url',
  'secretRef',
  'pullInterval',
  'git',
  'path',
  'prune',
  'timeout',
  'imageRepository',
];

function validateKustomize(fields: Fields): void {
  fields.onlyKeys(KUSTOMIZE_KEYS);
  const repoType = fields.optionalString('repoType') ?? 'git';
  if (repoType !== 'git')
    invalid(
      fields.pathOf('repoType'),
      `only "git" is supported, got "${repoType}"`,
    );
  const url = fields.string('url');
  if (!/^https?:\/\//.test(url))
    invalid(fields.pathOf('url'), 'must be an http(s) URL');
  fields.optionalString('secretRef');
  fields.optionalString('pullInterval');
  fields.optionalString('path');
  fields.optionalString('timeout');
  fields.optionalBoolean('prune');
  const git = fields.optionalMap('git');
  git?.optionalString('branch');
  git?.optionalString('provider');
  const images = fields.optionalMap('imageRepository');
  if (images) {
    images.string('image');
    images.optionalString('secretRef');
    images.optionalString('interval');
    images.optionalString('commitMessage');
    const filter = images.optionalMap('filterTags');
    filter?.optionalString('pattern');
    filter?.optionalString('extract');
    images.optionalMap('policy');
    const digests = images.optionalString('digestReflectionPolicy');
    if (
      digests !== undefined &&
      !(DIGEST_REFLECTION_POLICIES as readonly string[]).includes(digests)
    )
      invalid(
        images.pathOf('digestReflectionPolicy'),
        `must be ${DIGEST_REFLECTION_POLICIES.join(', ')}; got "${digests}"`,
      );
    parseRollbackPolicy(images.optionalMap('rollback'));
  }
}

/**
 * A Git directory built with kustomize (or read as plain YAML). The sources
 * stage fetched and built it before rendering; rendering only picks it up.
 */
export const kustomizeComponent: ComponentTypeDefinition = {
  type: 'kustomize',
  validate: validateKustomize,
  render(ctx) {
    const objects = ctx.options.sources?.get(ctx.component.name);
    if (!objects) {
      throw new InputError(
        `${ctx.path}: component "${ctx.component.name}" is of type kustomize and needs its Git source, which was not provided`,
      );
    }
    return { objects: objects.map(o => structuredClone(o)) };
  },
};

export const builtinComponentTypes = [
  webserviceComponent,
  workerComponent,
  k8sObjectsComponent,
  kustomizeComponent,
];
