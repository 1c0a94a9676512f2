import type { ImagePolicySpec } from '../sources/tagPolicy';
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
  };
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
