import { ConflictError } from '@backstage/errors';
import { describeRef } from '../model/objects';
import { parseApplication } from '../model/parse';
import type {
  KustomizeSource,
  DefinitionRegistry,
} from '../render/definitions';
import {
  renderApplication,
  type RenderedApplication,
} from '../render/render';
import {
  assessComponents,
  computeStatus,
  type ReconcileFailure,
} from '../record/status';
import {
  LABEL_COMPONENT,
  type Application,
  type ApplicationStatus,
  type KubeObject,
} from '../model/types';
import {
  applyObjects,
  stableStringify,
  type ApplyOptions,
  type ApplyResult,
  type InventoryEntry,
} from '../apply/apply';
import type { KubeClient } from '../kube/client';
import { writeStatus } from '../applications/applications';

export interface ReconcileOptions {
  registry?: DefinitionRegistry;
  kustomizeSource?: KustomizeSource;
  /**
   * The inventory the previous reconcile returned (persisted by the caller);
   * without one, the copy in the Application's `status.appliedResources`.
   */
  inventory?: InventoryEntry[];
  prune?: boolean;
  cluster?: string;
  fieldManager?: string;
  /** Write the computed status through the status subresource (default true). */
  writeStatus?: boolean;
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
    prune: entry => !entry.component || !keep.has(entry.component),
    ...drift,
  };
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
  const rules = (Array.isArray(properties.rules) ? properties.rules : []) as ApplyOnceRule[];
  if (rules.length === 0) return { allowDrift: true };
  const typeOf = new Map(app.spec.components.map(c => [c.name, c.type]));
  const selects = (rule: ApplyOnceRule, object: KubeObject) => {
    const component = object.metadata.labels?.[LABEL_COMPONENT] ?? '';
    const { componentNames, componentTypes, resourceTypes, resourceNames } =
      rule.selector ?? {};
    return (
      (!componentNames || componentNames.includes(component)) &&
      (!componentTypes || componentTypes.includes(typeOf.get(component) ?? '')) &&
      (!resourceTypes || resourceTypes.includes(object.kind)) &&
      (!resourceNames || resourceNames.includes(object.metadata.name))
    );
  };
  return {
    allowDrift: false,
    driftPaths: object =>
      rules.filter(r => selects(r, object)).flatMap(r => r.strategy?.path ?? []),
  };
}

/**
 * The inventory mirrored in `status.appliedResources`, for when the caller has
 * none (a new store, a lost database): pruning still knows what was applied.
 * Without hashes, drift is corrected but not told apart from Git changes.
 */
function inventoryFromStatus(
  status: ApplicationStatus | undefined,
  cluster = 'local',
): InventoryEntry[] {
  return (status?.appliedResources ?? [])
    .filter(r => (r.cluster ?? 'local') === cluster)
    .map(r => {
      const slash = r.apiVersion.indexOf('/');
      const entry: InventoryEntry = {
        group: slash < 0 ? '' : r.apiVersion.slice(0, slash),
        version: r.apiVersion.slice(slash + 1),
        kind: r.kind,
        name: r.name,
        hash: '',
      };
      if (r.namespace) entry.namespace = r.namespace;
      return entry;
    });
}

export interface ReconcileResult {
  status: ApplicationStatus;
  /** What to persist for the next reconcile: the new inventory, or the old one when nothing was applied. */
  inventory: InventoryEntry[];
  application?: Application;
  rendered?: RenderedApplication;
  applied?: ApplyResult;
  failure?: ReconcileFailure;
}

/**
 * One reconcile of one Application, end to end:
 * parse → render (kustomize source built by the caller) → apply (dry-run diff,
 * server-side apply, prune) → health → status. A failing stage stops there and
 * the status says which stage and why; nothing after it runs.
 */
export async function reconcileApplication(
  client: KubeClient,
  object: KubeObject,
  options: ReconcileOptions = {},
): Promise<ReconcileResult> {
  const meta = {
    name: object.metadata.name,
    namespace: object.metadata.namespace ?? 'default',
    generation: object.metadata.generation as number | undefined,
  };
  const previous = object.status as ApplicationStatus | undefined;
  const inventory =
    options.inventory ?? inventoryFromStatus(previous, options.cluster);
  const finish = async (
    result: Omit<ReconcileResult, 'status'>,
    statusInput: Parameters<typeof computeStatus>[0],
  ) => {
    const status = computeStatus(statusInput);
    // An unchanged status is not written: a quiet poll makes no write at all.
    const changed = stableStringify(status) !== stableStringify(previous ?? {});
    if ((options.writeStatus ?? true) && changed)
      await writeStatus(
        client,
        { metadata: meta },
        status,
        options.fieldManager,
      );
    return { ...result, status };
  };
  const fail = (
    stage: ReconcileFailure['stage'],
    error: unknown,
    extra: Omit<ReconcileResult, 'status' | 'inventory' | 'failure'> = {},
  ) => {
    const failure: ReconcileFailure = {
      stage,
      message: (error as Error).message,
    };
    if (error instanceof ConflictError) failure.reason = 'Conflict';
    return finish(
      { ...extra, inventory, failure },
      { app: { metadata: meta }, failure, previous, cluster: options.cluster },
    );
  };

  let application: Application;
  try {
    application = parseApplication(object, { registry: options.registry });
  } catch (error) {
    return fail('parse', error);
  }
  let rendered: RenderedApplication;
  try {
    rendered = await renderApplication(application, {
      registry: options.registry,
      kustomizeSource: options.kustomizeSource,
    });
  } catch (error) {
    return fail('render', error, { application });
  }
  let applied: ApplyResult;
  try {
    applied = await applyObjects(client, rendered.objects, {
      owner: application.metadata,
      inventory,
      ...deletionPolicy(application, options.prune),
      fieldManager: options.fieldManager,
    });
  } catch (error) {
    return fail('apply', error, { application, rendered });
  }
  return finish(
    { inventory: applied.inventory, application, rendered, applied },
    {
      app: application,
      components: assessComponents(rendered, applied.live),
      applied: {
        inventory: applied.inventory,
        drifted: applied.drifted.map(describeRef),
      },
      previous,
      cluster: options.cluster,
    },
  );
}
