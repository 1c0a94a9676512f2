import { InputError, NotAllowedError } from '@backstage/errors';
import type {
  ImageHold,
  ImageUpdateAction,
} from '@gitops-workflow/plugin-gitops-common';
import type { KubeClient } from '../kube/client';
import type { KubeObject } from '../kube/objects';
import {
  branchOf,
  imagePolicyId,
  kustomizeComponents,
  type KustomizeProperties,
} from '../model/kustomize';
import { matchesAny, type Project } from '../model/project';
import {
  applicationComponentOfField,
  type Application,
  type ApplicationComponent,
} from '../model/types';
import { parseGoDuration } from '../util/duration';
import { resolveInside } from '../util/paths';
import { readMarkedFiles, runImageUpdate } from './automation';
import { buildManifests, type BuildOptions } from './build';
import {
  commitOfRevision,
  revisionOf,
  splitUrlCredentials,
  type GitAuthor,
  type GitCredentials,
  type GitCredentialsProvider,
  type GitSource,
  type WorkingClone,
} from './git';
import { checkKustomization } from './kustomization';
import {
  credentialsForRegistry,
  credentialsFromSecret,
  type ImagePolicyEvaluator,
  type RegistryAccess,
} from './oci';
import { markedDigest, markedValues, type SetterChange } from './setters';
import { describeImagePolicy } from './tagPolicy';

/** What the sources stage needs: where to read Secrets, Git and the image scanner. */
export interface SourceContext {
  /** Reads the Secrets named by `secretRef`, in the Application's namespace. */
  client: KubeClient;
  /** Holds no credentials of its own: each repository gets the ones chosen here. */
  git: GitSource;
  /**
   * The backend's tokens for a host (Backstage `integrations`), for a
   * repository without a `secretRef`, when the project allows them.
   */
  integrationCredentials?: GitCredentialsProvider;
  /**
   * What the Application may reach and use; without one (the CLI, offline),
   * any repository, the integration tokens, and remote bases.
   */
  project?: Project;
  images: ImagePolicyEvaluator;
  /** Image update automation switched off by a person: sync only. */
  automationSuspended?: boolean;
  /**
   * Components whose automation is held at a tag: their markers get the
   * held tag, and their policy's pick is only reported (`wouldPick`).
   */
  imageHolds?: ImageHold[];
  /**
   * Holds released since the last pass: automation picks again, and its
   * commit names who released it.
   */
  imageReleases?: Array<{
    component: string;
    releasedBy: string;
    reason?: string;
  }>;
  /**
   * Builds what Git's HEAD holds and changes nothing: no image scan, no
   * commit, no push (e.g. for a preview of the next sync).
   */
  readOnly?: boolean;
  /** Ends the clones' remote operations early, e.g. at a deadline. */
  signal?: AbortSignal;
  author?: GitAuthor;
  /** The kustomize binary, its deadline and the size limits of a build (`root` is the clone's). */
  build?: Omit<BuildOptions, 'root'>;
  /**
   * A person or a webhook asked for this pass: list the image's tags afresh
   * instead of reusing this interval's listing.
   */
  refresh?: boolean;
  /**
   * A rolled-back workflow revision is pinned: each component named here is
   * built at the commit of this revision (`branch@sha1:<sha>`, as the
   * pinned revision last ran it) without moving its branch, and image
   * automation commits nothing until the pin is released.
   */
  pinnedRevisions?: Record<string, string>;
  now?: () => Date;
}

/** One image update the automation committed and pushed, with when each part happened. */
export interface CommittedImageUpdate {
  component: string;
  image: string;
  oldTag?: string;
  newTag: string;
  /** The policy in words, e.g. `numerical asc`. */
  policy: string;
  commit: string;
  revision: string;
  /** When the tag policy picked the new tag. */
  detectedAt: Date;
  /** When the bot's commit reached the remote. */
  pushedAt: Date;
  /** Why the bot committed: its policy, a hold (rollback) or a released hold. */
  action: ImageUpdateAction;
  /** The person a rollback or release was for (named in the commit's `Requested-by` trailer). */
  requestedBy?: string;
  reason?: string;
  /** The digest the markers wrote, when the policy reflects digests. */
  digest?: string;
  /** The Application component whose manifest held the markers, when they sat in an Application's manifest. */
  target?: ImageUpdateTarget;
}

/** An Application component by namespace and name (its cluster is where its manifest gets applied). */
export interface ImageUpdateTarget {
  namespace: string;
  name: string;
  component: string;
}

/** What the sources stage prepared for one pass; nothing downstream calls back into it. */
export interface PreparedSources {
  /** The built objects of each Git-backed component, by component name. */
  manifests: Map<string, KubeObject[]>;
  /** `branch@sha1:<sha>` of each synced component, after any bot commit. */
  revisions: Record<string, string>;
  imageUpdates: CommittedImageUpdate[];
  /** Problems that did not stop the pass, e.g. a registry that is down. */
  warnings: string[];
  /** What the policies of held components picked, not committed. */
  wouldPick: Array<{ component: string; tag: string; at: Date }>;
  /** Components whose released hold this pass let go of: automation picked again. */
  settledReleases: string[];
}

export const emptyPreparedSources = (): PreparedSources => ({
  manifests: new Map(),
  revisions: {},
  imageUpdates: [],
  warnings: [],
  wouldPick: [],
  settledReleases: [],
});

/** The holds with what this pass's policies would pick (a new pick is stamped `at`). */
export function holdsWithPicks(
  holds: ImageHold[],
  prepared: Pick<PreparedSources, 'wouldPick'>,
): ImageHold[] {
  return holds.map(hold => {
    const pick = prepared.wouldPick.find(p => p.component === hold.component);
    if (!pick || pick.tag === hold.wouldPick) return hold;
    return { ...hold, wouldPick: pick.tag, wouldPickAt: pick.at.toISOString() };
  });
}

const SECRET = { group: '', version: 'v1', kind: 'Secret' };

function decode(value: string | undefined): string {
  return value === undefined
    ? ''
    : Buffer.from(value, 'base64').toString('utf8');
}

/** The digest the markers of `policyId` already wrote for `tag`, if any. */
async function digestWritten(
  clone: WorkingClone,
  path: string | undefined,
  policyId: string,
  tag: string,
): Promise<string | undefined> {
  return markedDigest(
    markedValues(await readMarkedFiles(clone.dir, path), policyId),
    tag,
  );
}

/** The tag of a marker's previous value (`image:tag`, or a bare tag). */
function tagOf(value: string): string {
  const withoutDigest = value.split('@')[0];
  const colon = withoutDigest.lastIndexOf(':');
  return colon > withoutDigest.lastIndexOf('/')
    ? withoutDigest.slice(colon + 1)
    : withoutDigest;
}

async function readSecret(
  context: Pick<SourceContext, 'client'>,
  app: Application,
  name: string,
): Promise<KubeObject> {
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
}

type ImageRepository = NonNullable<KustomizeProperties['imageRepository']>;

/** How a component's registry is reached: its Secret's credentials, and the token hosts its project allows. */
async function registryAccessOf(
  context: Pick<SourceContext, 'client' | 'project'>,
  app: Application,
  repo: ImageRepository,
): Promise<RegistryAccess> {
  const docker = repo.secretRef
    ? credentialsFromSecret(await readSecret(context, app, repo.secretRef))
    : undefined;
  return {
    credentials: credentialsForRegistry(docker, repo.image),
    insecure: repo.insecure,
    // Without a project (the CLI, offline) the registry may name any token realm.
    tokenHosts: context.project && {
      allowed: context.project.registryTokenHosts,
      project: context.project.name,
    },
  };
}

/**
 * The tags the registry lists now for a kustomize component's image, as its
 * automation sees them (cosign signatures left out), e.g. to check a tag a
 * person asks to roll back to.
 */
export async function listComponentImageTags(
  app: Application,
  componentName: string,
  context: Pick<SourceContext, 'client' | 'project' | 'images'>,
): Promise<string[]> {
  const found = kustomizeComponents(app.spec.components).find(
    c => c.component.name === componentName,
  );
  const repo = found?.props.imageRepository;
  if (!repo)
    throw new InputError(
      `component ${componentName} of ${app.metadata.namespace}/${app.metadata.name} has no image automation (imageRepository)`,
    );
  const scan = await context.images.scanner.scan(repo.image, {
    ...(await registryAccessOf(context, app, repo)),
    intervalMs: 0,
  });
  return scan.tags;
}

/** Why the bot commits a component's markers, when a hold or a release decides it. */
function actionOf(
  hold: ImageHold | undefined,
  release: NonNullable<SourceContext['imageReleases']>[number] | undefined,
): Pick<CommittedImageUpdate, 'action' | 'requestedBy' | 'reason'> {
  if (hold?.automatic)
    return { action: 'automaticRollback', reason: hold.reason };
  if (hold)
    return {
      action: 'rollback',
      requestedBy: hold.heldBy,
      reason: hold.reason,
    };
  if (release)
    return {
      action: 'release',
      requestedBy: release.releasedBy,
      reason: release.reason,
    };
  return { action: 'update' };
}

/**
 * Lets the component's image policy pick a tag, rewrites the markers and
 * commits/pushes as the bot when anything changed. A held component's
 * markers get the held tag instead; its policy's pick is only reported.
 */
async function updateImages(
  context: SourceContext,
  app: Application,
  clone: WorkingClone,
  component: ApplicationComponent,
  props: KustomizeProperties,
  prepared: PreparedSources,
): Promise<void> {
  const repo = props.imageRepository;
  if (!repo || context.readOnly) return;
  const hold = context.imageHolds?.find(h => h.component === component.name);
  // Suspended automation asks no policy, but a person's rollback still goes to Git.
  if (context.automationSuspended && !hold) return;
  const now = () => context.now?.() ?? new Date();
  const policyId = imagePolicyId(app.metadata.namespace, component.name);
  const choice = context.automationSuspended
    ? undefined
    : await context.images.evaluate(policyId, {
        image: repo.image,
        spec: { filterTags: repo.filterTags, policy: repo.policy ?? {} },
        ...(await registryAccessOf(context, app, repo)),
        digestReflectionPolicy: repo.digestReflectionPolicy,
        writtenDigest: tag => digestWritten(clone, props.path, policyId, tag),
        intervalMs: context.refresh
          ? 0
          : parseGoDuration(
              repo.interval ?? props.pullInterval ?? '1m',
              `component ${component.name} interval`,
            ),
      });
  const detectedAt = now();
  if (choice?.error)
    prepared.warnings.push(`Image policy ${policyId}: ${choice.error.message}`);
  const release = context.imageReleases?.find(
    r => r.component === component.name,
  );
  if (hold && choice?.tag)
    prepared.wouldPick.push({
      component: component.name,
      tag: choice.tag,
      at: detectedAt,
    });
  // A hold needs no registry: its tag is written even while the policy fails.
  const marked = hold
    ? { image: choice?.image ?? hold.image, tag: hold.tag, digest: hold.digest }
    : choice?.tag && {
        image: choice.image,
        tag: choice.tag,
        digest: choice.digest,
      };
  if (!marked) return;
  const why = actionOf(hold, release);
  const result = await runImageUpdate({
    clone,
    path: props.path,
    policies: { [policyId]: marked },
    commitMessage: repo.commitMessage,
    author: context.author,
    automationObject: app.metadata,
    trailers: why.requestedBy ? { 'Requested-by': why.requestedBy } : {},
  });
  if (release && !hold) prepared.settledReleases.push(component.name);
  for (const skipped of result.skipped) {
    prepared.warnings.push(`Skipped ${skipped.file}: ${skipped.reason}`);
  }
  if (!result.committed) return;
  const pushedAt = now();
  for (const update of result.images) {
    const changes = result.changes.filter(c => c.policy === update.policy);
    for (const { target, previous } of targetsOf(changes, app)) {
      const committed: CommittedImageUpdate = {
        component: component.name,
        image: update.image,
        oldTag: previous ? tagOf(previous) : undefined,
        newTag: update.tag,
        policy: describeImagePolicy(repo.policy) ?? policyId,
        commit: result.commit!,
        revision: result.revision!,
        detectedAt,
        pushedAt,
        ...why,
        ...(update.digest ? { digest: update.digest } : {}),
      };
      if (target) committed.target = target;
      prepared.imageUpdates.push(committed);
    }
  }
}

/**
 * The markers a commit changed, grouped by the Application component whose
 * manifest holds them (none for markers in other objects), each group with
 * the value its first marker held before.
 */
function targetsOf(
  changes: SetterChange[],
  app: Application,
): Array<{ target?: ImageUpdateTarget; previous?: string }> {
  const groups = new Map<
    string,
    { target?: ImageUpdateTarget; previous?: string }
  >();
  for (const change of changes) {
    const target = applicationComponentOfField(
      change.object,
      change.path,
      app.metadata.namespace,
    );
    const key = target
      ? `${target.namespace}/${target.name}/${target.component}`
      : '';
    if (!groups.has(key))
      groups.set(key, { target, previous: change.oldValue });
  }
  return [...groups.values()];
}

/**
 * The credentials a component's Git repository is reached with, once its
 * project allows the repository: the Application's own Secret (`username`,
 * `password`), else the backend's token for the host when the project lets
 * it use them. A NotAllowedError for a repository the project refuses.
 */
export async function gitCredentialsOf(
  context: Pick<SourceContext, 'client' | 'project' | 'integrationCredentials'>,
  app: Application,
  component: string,
  repo: { url: string; secretRef?: string },
): Promise<GitCredentials | undefined> {
  const { project } = context;
  const { url: repository, credentials: inUrl } = splitUrlCredentials(repo.url);
  if (project && !matchesAny(project.sourceRepos, repository))
    throw new NotAllowedError(
      `component ${component}: project "${
        project.name
      }" does not allow the repository ${repository} (sourceRepos: ${
        project.sourceRepos.join(', ') || 'none'
      })`,
    );
  const secret = repo.secretRef
    ? await readSecret(context, app, repo.secretRef)
    : undefined;
  const data = (secret?.data ?? {}) as Record<string, string>;
  // Only the Application's own Secret, unless its project lets it use the backend's tokens.
  return (
    (secret && {
      username: decode(data.username),
      password: decode(data.password),
    }) ||
    (!inUrl && (!project || project.integrationCredentials)
      ? await context.integrationCredentials?.(repository)
      : undefined)
  );
}

/**
 * The sources stage of a pass: for each Git-backed (kustomize) component,
 * sync the working clone, let its image policy pick a tag, rewrite the
 * markers and commit/push as the bot when anything changed, then build the
 * component's path. Runs once per pass, before render; a failure throws and
 * nothing of the pass is applied.
 */
export async function prepareSources(
  app: Application,
  context: SourceContext,
  /** Filled as the stage goes, so a caller still sees the bot's commits when a later step fails. */
  prepared: PreparedSources = emptyPreparedSources(),
): Promise<PreparedSources> {
  const { project } = context;
  for (const { component, props } of kustomizeComponents(app.spec.components)) {
    const credentials = await gitCredentialsOf(
      context,
      app,
      component.name,
      props,
    );
    const branch = branchOf(props);
    const pinnedAt = commitOfRevision(
      context.pinnedRevisions?.[component.name],
    );
    const objects = await context.git.withClone(
      { url: props.url, branch, credentials },
      async clone => {
        await clone.sync();
        if (!context.pinnedRevisions)
          await updateImages(context, app, clone, component, props, prepared);
        prepared.revisions[component.name] = revisionOf(
          branch,
          pinnedAt ?? (await clone.head()),
        );
        const tree = pinnedAt ? await clone.treeAt(pinnedAt) : clone.dir;
        const dir = resolveInside(tree, props.path ?? '.');
        const root = resolveInside(tree, '.');
        await checkKustomization(dir, root, {
          remoteBases: project?.remoteBases ?? true,
          project: project?.name,
        });
        return (await buildManifests(dir, { ...context.build, root })).objects;
      },
      { signal: context.signal },
    );
    prepared.manifests.set(component.name, objects);
  }
  return prepared;
}
