import type { DigestReflectionPolicy } from '../sources/oci/digests';
import type { ImagePolicySpec } from '../sources/tagPolicy';
import { parseGoDuration } from '../util/duration';
import { Fields, invalid } from './fields';
import type { ApplicationComponent } from './types';

/** The branch a kustomize component syncs and pushes to when `git.branch` is not set (KubeVela's default). */
export const DEFAULT_BRANCH = 'master';

/** A kustomize component's properties, as KubeVela defines them (validated by its definition). */
export interface KustomizeProperties {
  repoType?: string;
  url: string;
  secretRef?: string;
  pullInterval?: string;
  git?: { branch?: string };
  path?: string;
  prune?: boolean;
  imageRepository?: {
    image: string;
    secretRef?: string;
    interval?: string;
    insecure?: boolean;
    filterTags?: ImagePolicySpec['filterTags'];
    policy?: ImagePolicySpec['policy'];
    commitMessage?: string;
    /** Whether markers also get the tag's digest (`image:tag@digest`), as Flux's ImagePolicy. Default `Never`. */
    digestReflectionPolicy?: DigestReflectionPolicy;
    /** Roll a newly committed tag back when its rollout fails (see `parseRollbackPolicy`). */
    rollback?: { onFailure: boolean; after?: string };
  };
}

/** How long a newly committed tag may take to become healthy when `rollback.after` is not set. */
export const DEFAULT_ROLLBACK_AFTER = '5m';

/** A kustomize component's automatic rollback, parsed: `after` is kept as written and in milliseconds. */
export interface RollbackPolicy {
  onFailure: boolean;
  after: string;
  afterMs: number;
}

/**
 * `imageRepository.rollback` (`{ onFailure: true, after: 5m }`), or
 * undefined when the component has none. Throws an InputError naming the
 * field for an unknown key or a bad value; the component's definition
 * validates with it, so a pass never sees a bad one.
 */
export function parseRollbackPolicy(
  rollback: Fields | undefined,
): RollbackPolicy | undefined {
  if (!rollback) return undefined;
  rollback.onlyKeys(['onFailure', 'after']);
  const onFailure = rollback.optionalBoolean('onFailure');
  if (onFailure === undefined)
    invalid(rollback.pathOf('onFailure'), 'is required (true or false)');
  const after = rollback.optionalString('after') ?? DEFAULT_ROLLBACK_AFTER;
  const afterMs = parseGoDuration(after, rollback.pathOf('after'));
  if (afterMs <= 0)
    invalid(rollback.pathOf('after'), `must be longer than 0s, got "${after}"`);
  return { onFailure, after, afterMs };
}

/**
 * The automatic rollback a kustomize component asks for, if it is switched
 * on. An invalid one is off here: parsing the Application refuses it and
 * its status says why.
 */
export function rollbackPolicyOf(
  props: KustomizeProperties,
): RollbackPolicy | undefined {
  const rollback = props.imageRepository?.rollback;
  if (rollback === undefined) return undefined;
  try {
    const policy = parseRollbackPolicy(
      Fields.of(rollback, 'imageRepository.rollback'),
    );
    return policy?.onFailure ? policy : undefined;
  } catch {
    return undefined;
  }
}

/** The Git-backed components of an Application, with their properties typed. */
export function kustomizeComponents(
  components: ApplicationComponent[],
): Array<{ component: ApplicationComponent; props: KustomizeProperties }> {
  return components
    .filter(c => c.type === 'kustomize')
    .map(component => ({
      component,
      props: component.properties as unknown as KustomizeProperties,
    }));
}

/** The branch a kustomize component syncs. */
export const branchOf = (props: KustomizeProperties): string =>
  props.git?.branch ?? DEFAULT_BRANCH;

/** The image policy a kustomize component defines, as markers name it (`default:gitops`). */
export const imagePolicyId = (namespace: string, component: string): string =>
  `${namespace}:${component}`;
