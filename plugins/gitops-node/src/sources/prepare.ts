import path from 'node:path';
import { InputError } from '@backstage/errors';
import { buildManifests } from './build';
import type { Application, ApplicationComponent, KubeObject } from '../model';
import type { KustomizeSource } from '../render';
import { runImageUpdate } from './automation';
import {
  revisionOf,
  type GitAuthor,
  type GitSource,
  type WorkingClone,
} from './git';
import type { KubeClient } from '../kube';
import { parseGoDuration } from '../model/schedule';
import { describeImagePolicy, type ImagePolicySpec } from './tagPolicy';
import {
  credentialsForRegistry,
  credentialsFromSecret,
  type ImagePolicyEvaluator,
} from './oci';

/** What a kustomize source needs to sync Git and automate images. */
export interface GitKustomizeContext {
  /** Reads the Secrets named by `secretRef`, in the Application's namespace. */
  client: KubeClient;
  git: GitSource;
  images: ImagePolicyEvaluator;
  /** Image update automation switched off by a person: sync only. */
  automationSuspended?: boolean;
  author?: GitAuthor;
  kustomizePath?: string;
  /**
   * A person or a webhook asked for this reconcile: list the image's tags
   * afresh instead of reusing this interval's listing.
   */
  refresh?: boolean;
}

/** One image update the automation committed and pushed. */
export interface CommittedImageUpdate {
  component: string;
  image: string;
  oldTag?: string;
  newTag: string;
  /** The policy in words, e.g. `numerical asc`. */
  policy: string;
  commit: string;
  revision: string;
}

/** What the source did while rendering, for history, status and logs. */
export interface GitKustomizeReport {
  /** `branch@sha1:<sha>` of each synced component, after any bot commit. */
  revisions: string[];
  imageUpdates: CommittedImageUpdate[];
  /** Problems that did not stop the reconcile, e.g. a registry that is down. */
  warnings: string[];
}

/** The kustomize component's properties, as KubeVela defines them. */
interface KustomizeProperties {
  url: string;
  secretRef?: string;
  pullInterval?: string;
  git?: { branch?: string };
  path?: string;
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

const SECRET = { group: '', version: 'v1', kind: 'Secret' };

function decode(value: string | undefined): string {
  return value === undefined
    ? ''
    : Buffer.from(value, 'base64').toString('utf8');
}

/** The tag of a marker's previous value (`image:tag`, or a bare tag). */
function tagOf(value: string): string {
  const withoutDigest = value.split('@')[0];
  const colon = withoutDigest.lastIndexOf(':');
  return colon > withoutDigest.lastIndexOf('/')
    ? withoutDigest.slice(colon + 1)
    : withoutDigest;
}

/**
 * The Git side of a kustomize component, as the `kustomizeSource` that
 * rendering calls: sync the working clone, let the component's image policy
 * pick a tag, rewrite the markers and commit/push as the bot when anything
 * changed, then build the component's path. The report collects what
 * happened, for image history.
 */
export function createGitKustomizeSource(context: GitKustomizeContext): {
  source: KustomizeSource;
  report: GitKustomizeReport;
} {
  const report: GitKustomizeReport = {
    revisions: [],
    imageUpdates: [],
    warnings: [],
  };

  const readSecret = async (
    app: Application,
    name: string,
  ): Promise<KubeObject> => {
    const secret = await context.client.get({
      ...SECRET,
      namespace: app.metadata.namespace,
      name,
    });
    if (!secret)
      throw new InputError(
        `Secret ${app.metadata.namespace}/${name} does not exist`,
      );
    return secret;
  };

  const updateImages = async (
    app: Application,
    clone: WorkingClone,
    component: ApplicationComponent,
    props: KustomizeProperties,
  ): Promise<void> => {
    const repo = props.imageRepository;
    if (!repo || context.automationSuspended) return;
    const policyId = `${app.metadata.namespace}:${component.name}`;
    const docker = repo.secretRef
      ? credentialsFromSecret(await readSecret(app, repo.secretRef))
      : undefined;
    const choice = await context.images.evaluate(policyId, {
      image: repo.image,
      spec: { filterTags: repo.filterTags, policy: repo.policy ?? {} },
      credentials: credentialsForRegistry(docker, repo.image),
      insecure: repo.insecure,
      intervalMs: context.refresh
        ? 0
        : parseGoDuration(
            repo.interval ?? props.pullInterval ?? '1m',
            `component ${component.name} interval`,
          ),
    });
    if (choice.error)
      report.warnings.push(`Image policy ${policyId}: ${choice.error.message}`);
    if (!choice.tag) return;
    const result = await runImageUpdate({
      clone,
      path: props.path,
      policies: {
        [policyId]: {
          image: choice.image,
          tag: choice.tag,
          digest: choice.digest,
        },
      },
      commitMessage: repo.commitMessage,
      author: context.author,
      automationObject: app.metadata,
    });
    for (const skipped of result.skipped) {
      report.warnings.push(`Skipped ${skipped.file}: ${skipped.reason}`);
    }
    if (!result.committed) return;
    for (const update of result.images) {
      report.imageUpdates.push({
        component: component.name,
        image: update.image,
        oldTag: update.previous[0] ? tagOf(update.previous[0]) : undefined,
        newTag: update.tag,
        policy: describeImagePolicy(repo.policy) ?? policyId,
        commit: result.commit!,
        revision: result.revision!,
      });
    }
  };

  const source: KustomizeSource = async (component, app) => {
    const props = component.properties as unknown as KustomizeProperties;
    const secret = props.secretRef
      ? await readSecret(app, props.secretRef)
      : undefined;
    const data = (secret?.data ?? {}) as Record<string, string>;
    const credentials = secret && {
      username: decode(data.username),
      password: decode(data.password),
    };
    const branch = props.git?.branch ?? 'master';
    return context.git.withClone(
      { url: props.url, branch, credentials },
      async clone => {
        await clone.sync();
        await updateImages(app, clone, component, props);
        report.revisions.push(revisionOf(branch, await clone.head()));
        const root = path.resolve(clone.dir);
        const dir = path.resolve(root, props.path ?? '.');
        if (dir !== root && !dir.startsWith(`${root}${path.sep}`)) {
          throw new InputError(`path "${props.path}" leaves the repository`);
        }
        return (
          await buildManifests(dir, { kustomizePath: context.kustomizePath })
        ).objects;
      },
    );
  };

  return { source, report };
}
