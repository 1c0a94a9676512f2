import { InputError } from '@backstage/errors';
import { Fields, isRecord } from '../model/fields';
import { builtinDefinitions } from '../definitions/builtins';
import type { DefinitionRegistry } from '../definitions/registry';
import type {
  Application,
  ApplicationComponent,
  ApplicationPolicy,
  ApplicationTrait,
} from '../model/types';
import type { ClusterConnectionConfig } from '../clusters';
import type { ApplyOptions, InventoryEntry } from '../apply/apply';
import type { KubeObject } from '../kube/objects';
import { LABEL_COMPONENT } from '../model/types';
import type { PolicyTypeDefinition } from '../definitions/registry';

/** Where a deploy step puts an Application: a cluster, optionally another namespace. */
export interface DeployTarget {
  cluster: ClusterConnectionConfig;
  /** The topology policy's `namespace`: the objects go there instead of the Application's. */
  namespace?: string;
  /** The topology policy that chose it (absent for the local cluster). */
  policy?: string;
}

function policyNamed(
  app: Application,
  name: string,
  where: string,
): ApplicationPolicy {
  const policy = app.spec.policies.find(p => p.name === name);
  if (!policy) {
    throw new InputError(
      `${where}: no policy is named "${name}" (policies: ${
        app.spec.policies.map(p => p.name).join(', ') || 'none'
      })`,
    );
  }
  return policy;
}

/** The policies a deploy step names, by type, in the order it names them. */
export function deployPolicies(
  app: Application,
  names: string[],
  where: string,
): { topology: ApplicationPolicy[]; override: ApplicationPolicy[] } {
  const policies = names.map(n => policyNamed(app, n, where));
  for (const policy of policies) {
    if (policy.type !== 'topology' && policy.type !== 'override') {
      throw new InputError(
        `${where}: policy "${policy.name}" is a ${policy.type} policy; a deploy step takes topology and override policies`,
      );
    }
  }
  return {
    topology: policies.filter(p => p.type === 'topology'),
    override: policies.filter(p => p.type === 'override'),
  };
}

/**
 * The clusters topology policies select, from the configured clusters:
 * `clusters` by name (an unknown name is an error naming the policy) and/or
 * `clusterLabelSelector` (`clusterSelector`, KubeVela's older name) matching
 * every label. No policy: the local cluster.
 */
export function resolveTopology(
  policies: ApplicationPolicy[],
  clusters: ClusterConnectionConfig[],
  localCluster: string,
): DeployTarget[] {
  if (policies.length === 0) {
    const local = clusters.find(c => c.name === localCluster);
    if (!local)
      throw new InputError(
        `The local cluster "${localCluster}" is not among the configured clusters (${clusters
          .map(c => c.name)
          .join(', ')})`,
      );
    return [{ cluster: local }];
  }
  const targets: DeployTarget[] = [];
  for (const policy of policies) {
    const fields = Fields.of(
      policy.properties,
      `policy "${policy.name}" properties`,
    );
    fields.onlyKeys([
      'clusters',
      'clusterLabelSelector',
      'clusterSelector',
      'namespace',
      'allowEmpty',
    ]);
    const names = fields.optionalStringList('clusters');
    const selector =
      fields.optionalStringMap('clusterLabelSelector') ??
      fields.optionalStringMap('clusterSelector');
    const namespace = fields.optionalString('namespace');
    if (!names && !selector) {
      throw new InputError(
        `topology policy "${policy.name}" needs "clusters" or "clusterLabelSelector"`,
      );
    }
    const chosen: ClusterConnectionConfig[] = [];
    for (const name of names ?? []) {
      const cluster = clusters.find(c => c.name === name);
      if (!cluster) {
        throw new InputError(
          `topology policy "${
            policy.name
          }" names cluster "${name}", which is not configured (clusters: ${
            clusters.map(c => c.name).join(', ') || 'none'
          })`,
        );
      }
      chosen.push(cluster);
    }
    if (selector) {
      chosen.push(
        ...clusters.filter(c =>
          Object.entries(selector).every(([k, v]) => c.labels?.[k] === v),
        ),
      );
    }
    if (chosen.length === 0 && policy.properties.allowEmpty !== true) {
      throw new InputError(
        `topology policy "${
          policy.name
        }" selects no cluster (labels ${JSON.stringify(selector)})`,
      );
    }
    for (const cluster of chosen) {
      if (
        targets.some(
          t => t.cluster.name === cluster.name && t.namespace === namespace,
        )
      )
        continue;
      const target: DeployTarget = { cluster, policy: policy.name };
      if (namespace) target.namespace = namespace;
      targets.push(target);
    }
  }
  return targets;
}

/**
 * JSON merge patch (RFC 7386), as KubeVela's override merges properties:
 * maps merge key by key, `null` removes a key, anything else (lists
 * included) replaces.
 */
export function mergePatch(base: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return structuredClone(patch);
  const result: Record<string, unknown> = isRecord(base)
    ? structuredClone(base)
    : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

interface OverrideEntry {
  name?: string;
  type?: string;
  properties?: Record<string, unknown>;
  traits: Array<{
    type: string;
    properties?: Record<string, unknown>;
    disable: boolean;
  }>;
}

function readOverride(policy: ApplicationPolicy): {
  entries: OverrideEntry[];
  selector?: string[];
} {
  const fields = Fields.of(
    policy.properties,
    `policy "${policy.name}" properties`,
  );
  fields.onlyKeys(['components', 'selector']);
  const entries = (fields.optionalList('components') ?? []).map((item, i) => {
    const entry = Fields.of(item, `${fields.pathOf('components')}[${i}]`);
    entry.onlyKeys(['name', 'type', 'properties', 'traits']);
    const traits = (entry.optionalList('traits') ?? []).map((t, j) => {
      const trait = Fields.of(t, `${entry.pathOf('traits')}[${j}]`);
      trait.onlyKeys(['type', 'properties', 'disable']);
      const disable = trait.value.disable;
      if (disable !== undefined && typeof disable !== 'boolean') {
        throw new InputError(
          `${trait.pathOf('disable')}: must be true or false`,
        );
      }
      return {
        type: trait.string('type'),
        properties: trait.optionalMap('properties')?.value,
        disable: disable === true,
      };
    });
    return {
      name: entry.optionalString('name'),
      type: entry.optionalString('type'),
      properties: entry.optionalMap('properties')?.value,
      traits,
    };
  });
  return { entries, selector: fields.optionalStringList('selector') };
}

/**
 * Applies override policies in order: each entry patches the components it
 * matches (by `name`, by `type`, or all when it gives neither) — properties
 * merged, traits added, merged or removed (`disable: true`); `selector`
 * keeps only the listed components. The result is validated like the
 * Application's own components, so a bad override fails with its path.
 */
export function applyOverrides(
  components: ApplicationComponent[],
  policies: ApplicationPolicy[],
  definitions: DefinitionRegistry = builtinDefinitions(),
): ApplicationComponent[] {
  let result = structuredClone(components);
  for (const policy of policies) {
    const { entries, selector } = readOverride(policy);
    for (const unknown of (selector ?? []).filter(
      n => !components.some(c => c.name === n),
    )) {
      throw new InputError(
        `override policy "${policy.name}" selects component "${unknown}", which the Application does not have`,
      );
    }
    if (selector) result = result.filter(c => selector.includes(c.name));
    for (const entry of entries) {
      if (entry.name && !components.some(c => c.name === entry.name)) {
        throw new InputError(
          `override policy "${policy.name}" patches component "${entry.name}", which the Application does not have`,
        );
      }
      for (const component of result) {
        if (entry.name && entry.name !== component.name) continue;
        if (entry.type && entry.type !== component.type) continue;
        if (entry.properties) {
          component.properties = mergePatch(
            component.properties,
            entry.properties,
          ) as Record<string, unknown>;
        }
        for (const patch of entry.traits) {
          const index = component.traits.findIndex(t => t.type === patch.type);
          if (patch.disable) {
            if (index >= 0) component.traits.splice(index, 1);
            continue;
          }
          const trait: ApplicationTrait = {
            type: patch.type,
            properties: mergePatch(
              index >= 0 ? component.traits[index].properties : {},
              patch.properties ?? {},
            ) as Record<string, unknown>,
          };
          if (index >= 0) component.traits[index] = trait;
          else component.traits.push(trait);
        }
      }
    }
    for (const component of result) {
      const where = `override policy "${policy.name}" on component "${component.name}"`;
      definitions
        .getComponentType(component.type)
        ?.validate(Fields.of(component.properties, `${where}: properties`));
      for (const trait of component.traits) {
        const definition = definitions.getTrait(trait.type);
        if (!definition)
          throw new InputError(`${where}: unknown trait "${trait.type}"`);
        definition.validate(
          Fields.of(trait.properties, `${where}: trait ${trait.type}`),
        );
      }
    }
  }
  return result;
}

/**
 * How an Application's own settings shape the apply: KubeVela's
 * `garbage-collect` (`keepLegacyResource`) and `apply-once` policies, and a
 * kustomize component's `prune: false`.
 */
export function deletionPolicy(
  app: Application,
  prune: boolean | undefined,
): Pick<ApplyOptions, 'prune' | 'allowDrift' | 'driftPaths'> {
  const policy = (type: string) =>
    app.spec.policies.find(p => p.type === type)?.properties ?? {};
  const keepLegacy = policy('garbage-collect').keepLegacyResource === true;
  const drift = applyOnce(app, policy('apply-once'));
  const keep = new Set(
    app.spec.components
      .filter(c => c.type === 'kustomize' && c.properties.prune === false)
      .map(c => c.name),
  );
  if (prune === false || keepLegacy) return { prune: false, ...drift };
  return {
    prune: entry =>
      (!entry.component || !keep.has(entry.component)) &&
      !keptByGarbageCollect(app, entry, 'update'),
    ...drift,
  };
}

interface GarbageCollectRule {
  selector?: {
    componentNames?: string[];
    componentTypes?: string[];
    resourceTypes?: string[];
    resourceNames?: string[];
  };
  strategy?: 'onAppUpdate' | 'onAppDelete' | 'never';
  propagation?: 'orphan' | 'cascading';
}

/**
 * Why a `garbage-collect` policy rule keeps an inventoried object when the
 * Application is updated (`strategy: never` or `onAppDelete`) or deleted
 * (`strategy: never`, `propagation: orphan`); undefined when no rule keeps
 * it. As in KubeVela, the first rule whose selector matches decides. A rule
 * may also select by `traitTypes` or `oamTypes`, which an inventory entry
 * does not record: such a rule is taken to match, so it keeps more, never less.
 */
export function keptByGarbageCollect(
  app: Pick<Application, 'spec'>,
  entry: InventoryEntry,
  when: 'update' | 'delete',
): string | undefined {
  const typeOf = new Map(app.spec.components.map(c => [c.name, c.type]));
  for (const policy of app.spec.policies) {
    if (policy.type !== 'garbage-collect') continue;
    const rules = (
      Array.isArray(policy.properties?.rules) ? policy.properties.rules : []
    ) as GarbageCollectRule[];
    for (const rule of rules) {
      const { componentNames, componentTypes, resourceTypes, resourceNames } =
        rule.selector ?? {};
      const component = entry.component ?? '';
      const matches =
        (!componentNames || componentNames.includes(component)) &&
        (!componentTypes ||
          componentTypes.includes(typeOf.get(component) ?? '')) &&
        (!resourceTypes || resourceTypes.includes(entry.kind)) &&
        (!resourceNames || resourceNames.includes(entry.name));
      if (!matches) continue;
      const keeps =
        rule.strategy === 'never' ||
        (when === 'update' && rule.strategy === 'onAppDelete') ||
        (when === 'delete' && rule.propagation === 'orphan');
      return keeps
        ? `the garbage-collect policy "${policy.name}" keeps it (${
            rule.strategy === 'never' || when === 'update'
              ? `strategy ${rule.strategy}`
              : 'propagation orphan'
          })`
        : undefined;
    }
  }
  return undefined;
}

interface ApplyOnceRule {
  selector?: {
    componentNames?: string[];
    componentTypes?: string[];
    resourceTypes?: string[];
    resourceNames?: string[];
  };
  strategy?: { path?: string[] };
}

/**
 * KubeVela's apply-once: `enable` alone lets whole objects drift; `rules`
 * let only the listed paths of the selected objects drift.
 */
function applyOnce(
  app: Application,
  properties: Record<string, unknown>,
): Pick<ApplyOptions, 'allowDrift' | 'driftPaths'> {
  if (properties.enable !== true) return { allowDrift: false };
  const rules = (
    Array.isArray(properties.rules) ? properties.rules : []
  ) as ApplyOnceRule[];
  if (rules.length === 0) return { allowDrift: true };
  const typeOf = new Map(app.spec.components.map(c => [c.name, c.type]));
  const selects = (rule: ApplyOnceRule, object: KubeObject) => {
    const component = object.metadata.labels?.[LABEL_COMPONENT] ?? '';
    const { componentNames, componentTypes, resourceTypes, resourceNames } =
      rule.selector ?? {};
    return (
      (!componentNames || componentNames.includes(component)) &&
      (!componentTypes ||
        componentTypes.includes(typeOf.get(component) ?? '')) &&
      (!resourceTypes || resourceTypes.includes(object.kind)) &&
      (!resourceNames || resourceNames.includes(object.metadata.name))
    );
  };
  return {
    allowDrift: false,
    driftPaths: object =>
      rules
        .filter(r => selects(r, object))
        .flatMap(r => r.strategy?.path ?? []),
  };
}

/**
 * The policy types KubeVela ships that we honour: placement (`topology`),
 * per-environment patches (`override`), and what apply may delete or must
 * leave alone (`garbage-collect`, `apply-once`).
 */
export const builtinPolicyTypes: PolicyTypeDefinition[] = [
  { type: 'topology' },
  { type: 'override' },
  { type: 'garbage-collect' },
  { type: 'apply-once' },
];
