import { ConflictError } from '@backstage/errors';
import { revisionOf } from '../git';
import type { GitAuthor, WorkingClone } from '../git';
import {
  ImagePolicyChoices,
  SetterChange,
  SetterSkippedFile,
  SetterUnresolvedMarker,
  applySetters,
} from '../setters';
import { buildCommitTemplateData, renderCommitMessage } from '../template';
import { readMarkedFiles, writeSetterResult } from './files';

const QUIET_MEMO = 'image-update:quiet';

/** KubeVela's bot identity, which CI filters rely on. */
export const DEFAULT_COMMIT_AUTHOR: GitAuthor = {
  name: 'kubevelabot',
  email: 'kubevelabot@users.noreply.github.com',
};

export interface ImageUpdateOptions {
  /** A clone synced to the remote head, held exclusively (`GitSource.withClone`). */
  clone: WorkingClone;
  /** The component's `path` inside the repository. */
  path?: string;
  /** Current policy choices by `<namespace>:<name>`. */
  policies: ImagePolicyChoices;
  /** The user's `commitMessage` template, appended to the fixed prefix. */
  commitMessage?: string;
  author?: GitAuthor;
  /** `.AutomationObject` for Flux-style templates: usually the Application. */
  automationObject: { namespace: string; name: string };
  /** Pushes attempted before giving up when others keep pushing first. Default 5. */
  maxAttempts?: number;
  /** Git trailers ending the message, e.g. `Requested-by: user:default/jane` for a person's rollback. */
  trailers?: Record<string, string>;
}

export interface ImageUpdate {
  policy: string;
  image: string;
  tag: string;
  digest?: string;
  /** The values the markers of this policy held before, e.g. the previous `image:tag`. */
  previous: string[];
}

export interface ImageUpdateResult {
  /** False when every marked field already held its policy's choice. */
  committed: boolean;
  /** The pushed commit, and its revision `branch@sha1:<sha>`. */
  commit?: string;
  revision?: string;
  message?: string;
  /** Push attempts made (more than one when someone else pushed first). */
  attempts: number;
  files: string[];
  changes: SetterChange[];
  images: ImageUpdate[];
  skipped: SetterSkippedFile[];
  unresolved: SetterUnresolvedMarker[];
}

/** The message with its trailers as Git reads them: the last paragraph, after a blank line. */
function withTrailers(
  message: string,
  trailers: Record<string, string> = {},
): string {
  const lines = Object.entries(trailers).map(
    ([key, value]) => `${key}: ${value.replace(/\s+/g, ' ')}`,
  );
  return lines.length ? `${message.trimEnd()}\n\n${lines.join('\n')}` : message;
}

function summarize(changes: SetterChange[]): ImageUpdate[] {
  const byPolicy = new Map<string, ImageUpdate>();
  for (const c of changes) {
    let update = byPolicy.get(c.policy);
    if (!update) {
      update = { policy: c.policy, ...c.result, previous: [] };
      byPolicy.set(c.policy, update);
    }
    if (!update.previous.includes(c.oldValue)) update.previous.push(c.oldValue);
  }
  return [...byPolicy.values()];
}

/**
 * One image update run: rewrite the markers under `path`, and when anything
 * changed, commit as the bot and push to the branch. A push rejected because
 * someone else pushed first is recovered by fetching their commit, applying
 * the setters again on top of it and pushing again, never by force.
 */
export async function runImageUpdate(
  options: ImageUpdateOptions,
): Promise<ImageUpdateResult> {
  const { clone, policies } = options;
  const maxAttempts = options.maxAttempts ?? 5;
  const author = options.author ?? DEFAULT_COMMIT_AUTHOR;

  // Same commit, same inputs: the scan of every YAML file under the path
  // would find nothing again, so a quiet poll skips it.
  const inputs = JSON.stringify([
    await clone.head(),
    options.path ?? '.',
    policies,
    options.commitMessage ?? '',
    author,
    options.trailers ?? {},
  ]);
  const quiet = clone.memo.get(QUIET_MEMO) as
    | { inputs: string; result: ImageUpdateResult }
    | undefined;
  if (quiet?.inputs === inputs) return quiet.result;

  for (let attempt = 1; ; attempt++) {
    const setters = applySetters(
      await readMarkedFiles(clone.dir, options.path),
      policies,
    );
    const base = {
      attempts: attempt - 1,
      files: setters.files.map(f => f.file),
      changes: setters.changes,
      images: summarize(setters.changes),
      skipped: setters.skipped,
      unresolved: setters.unresolved,
    };
    if (setters.files.length === 0) {
      const result = { committed: false, ...base };
      if (attempt === 1) clone.memo.set(QUIET_MEMO, { inputs, result });
      return result;
    }

    // Rendered before touching the tree: a template error leaves the clone clean.
    const message = withTrailers(
      renderCommitMessage(
        options.commitMessage,
        buildCommitTemplateData(setters.changes, options.automationObject),
      ),
      options.trailers,
    );
    await clone.markDirty();
    await writeSetterResult(clone.dir, setters);
    try {
      const commit = await clone.commit(base.files, message, author);
      await clone.push();
      await clone.markClean();
      return {
        committed: true,
        commit,
        revision: revisionOf(clone.branch, commit),
        message,
        ...base,
        attempts: attempt,
      };
    } catch (e) {
      // Whatever happened, the next attempt (or reconcile) starts from the
      // remote's head: the dirty mark makes sync restore the whole tree, so
      // an unpushed bot commit or a half-written file never outlives this run.
      await clone
        .sync()
        .catch(async () => clone.resetTo(await clone.remoteHead()));
      if (!(e instanceof ConflictError)) throw e;
      if (attempt >= maxAttempts) {
        throw new ConflictError(
          `gave up pushing image updates to ${clone.branch} after ${attempt} attempts: others kept pushing first`,
          e,
        );
      }
    }
  }
}
