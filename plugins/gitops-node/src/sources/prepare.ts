import { InputError, NotAllowedError } from '@backstage/errors';
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
  type GitCredentialsProvider,
  type GitSource,
  type WorkingClone,
} from './git';
import { checkKustomization } from './kustomization';
import {
  credentialsForRegistry,
  credentialsFromSecret,
  type ImagePolicyEvaluator,
} from './oci';
import { markedValues, type SetterChange } from './setters';
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
}

export const emptyPreparedSources = (): PreparedSources => ({
  manifests: new Map(),
  revisions: {},
  imageUpdates: [],
  warnings: [],
});

const SECRET = { group: '', version: 'v1', kind: 'Secret' };

function decode(value: string | undefined): string {
  return value === undefined
    ? ''
    : Buffer.from(value, 'base64').toString('utf8');
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/**
 * The digest the markers of `policyId` already hold for `tag`: a full
 * reference `image:tag@digest`, or a `:digest` marker beside a `:tag`
 * marker that holds `tag`.
 */
async function digestWritten(
  clone: WorkingClone,
  path: string | undefined,
  policyId: string,
  tag: string,
): Promise<string | undefined> {
  const values = markedValues(await readMarkedFiles(clone.dir, path), policyId);
  const written = values.map(({ field, value }) => {
    if (field === 'digest') return value;
    const [reference, digest] = value.split('@');
    return field === 'image' && tagOf(reference) === tag ? digest : undefined;
  });
  const tagged = values.some(v => v.field !== 'tag' || v.value === tag);
  return tagged ? written.find(d => d && DIGEST.test(d)) : undefined;
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
  context: SourceContext,
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

/**
 * Lets the component's image policy pick a tag, rewrites the markers and
 * commits/pushes as the bot when anything changed.
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
  if (!repo || context.automationSuspended || context.readOnly) return;
  const now = () => context.now?.() ?? new Date();
  const policyId = imagePolicyId(app.metadata.namespace, component.name);
  const docker = repo.secretRef
    ? credentialsFromSecret(await readSecret(context, app, repo.secretRef))
    : undefined;
  const choice = await context.images.evaluate(policyId, {
    image: repo.image,
    spec: { filterTags: repo.filterTags, policy: repo.policy ?? {} },
    credentials: credentialsForRegistry(docker, repo.image),
    insecure: repo.insecure,
    // Without a project (the CLI, offline) the registry may name any token realm.
    tokenHosts: context.project && {
      allowed: context.project.registryTokenHosts,
      project: context.project.name,
    },
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
  if (choice.error)
    prepared.warnings.push(`Image policy ${policyId}: ${choice.error.message}`);
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
    const { url: repository, credentials: inUrl } = splitUrlCredentials(
      props.url,
    );
    if (project && !matchesAny(project.sourceRepos, repository))
      throw new NotAllowedError(
        `component ${component.name}: project "${
          project.name
        }" does not allow the repository ${repository} (sourceRepos: ${
          project.sourceRepos.join(', ') || 'none'
        })`,
      );
    const secret = props.secretRef
      ? await readSecret(context, app, props.secretRef)
      : undefined;
    const data = (secret?.data ?? {}) as Record<string, string>;
    // Only the Application's own Secret, unless its project lets it use the backend's tokens.
    const credentials =
      (secret && {
        username: decode(data.username),
        password: decode(data.password),
      }) ||
      (!inUrl && (!project || project.integrationCredentials)
        ? await context.integrationCredentials?.(repository)
        : undefined);
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
