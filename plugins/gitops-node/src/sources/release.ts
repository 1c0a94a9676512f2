import { isDeleting } from '../applications/applications';
import type { KubeObject } from '../kube/objects';
import { isRecord } from '../model/fields';
import { branchOf, kustomizeComponents } from '../model/kustomize';
import type { ApplicationComponent } from '../model/types';
import type { GitSource } from './git';

/** The Git repositories (url, branch) an Application's kustomize components sync. */
function repositoriesOf(
  app: KubeObject,
): Array<{ url: string; branch: string }> {
  const spec = isRecord(app.spec) ? app.spec : {};
  const components = (Array.isArray(spec.components)
    ? spec.components
    : []
  ).filter(isRecord) as unknown as ApplicationComponent[];
  return kustomizeComponents(components)
    .filter(({ props }) => typeof props?.url === 'string')
    .map(({ props }) => ({ url: props.url, branch: branchOf(props) }));
}

/**
 * Removes the working clones of a deleted Application that no other
 * Application (none being deleted itself) still syncs. `others` are the
 * Applications of its cluster, as just listed.
 */
export async function releaseSources(
  deleted: KubeObject,
  others: KubeObject[],
  git: Pick<GitSource, 'cloneDir' | 'removeClone'>,
): Promise<Array<{ url: string; branch: string }>> {
  const inUse = new Set(
    others
      .filter(
        o =>
          !isDeleting(o) &&
          !(
            o.metadata.name === deleted.metadata.name &&
            o.metadata.namespace === deleted.metadata.namespace
          ),
      )
      .flatMap(repositoriesOf)
      .map(spec => git.cloneDir(spec)),
  );
  const removed = [];
  for (const spec of repositoriesOf(deleted)) {
    if (inUse.has(git.cloneDir(spec))) continue;
    await git.removeClone(spec);
    removed.push(spec);
  }
  return removed;
}
