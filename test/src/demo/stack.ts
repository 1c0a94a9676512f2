/*
 * The seed's world on one machine: a cluster, a registry and a Git server
 * (the real servers from ../infra), seeded like the seed's example
 * repository, plus the seed's CI: every push to master that is not a bot
 * commit builds an image tagged `master-<sha>-<timestamp>`. Used by
 * `./run start`, `yarn demo:release` and the acceptance test.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  Cluster,
  GitServer,
  pushImage,
  Registry,
  startCluster,
  startGitServer,
  startRegistry,
} from '../infra';
import {
  makeTempDir,
  removeDir,
  repoRoot,
  sleep,
  waitFor,
} from '../infra/process';
import { createSourceSecrets, installCrd } from '../backend/support';

export const REPO = 'demo';
export const BRANCH = 'master';
export const IMAGE_REPO = 'gitops';
const SOURCE = 'main.go';
const DEMO_REPO_DIR = path.join(repoRoot(), 'examples', 'demo-repo');
/** The seed's CI filter: `if: "!contains(github.event.head_commit.message, 'Update image automatically')"`. */
const BOT_MESSAGE = 'Update image automatically';

/** The seed's git-app, with the registry credentials it needs here. */
export function gitAppApplication(gitUrl: string, image: string) {
  return {
    apiVersion: 'core.oam.dev/v1beta1',
    kind: 'Application',
    metadata: { name: 'git-app', namespace: 'default' },
    spec: {
      components: [
        {
          name: 'gitops',
          type: 'kustomize',
          properties: {
            repoType: 'git',
            url: gitUrl,
            secretRef: 'my-secret',
            pullInterval: '1m',
            git: { branch: BRANCH },
            path: '.',
            imageRepository: {
              image,
              secretRef: 'imagesecret',
              // The local registry speaks plain HTTP.
              insecure: true,
              filterTags: {
                pattern: '^master-[a-f0-9]+-(?P<ts>[0-9]+)',
                extract: '$ts',
              },
              policy: { numerical: { order: 'asc' } },
              commitMessage:
                'Image: {{range .Updated.Images}}{{println .}}{{end}}',
            },
          },
        },
      ],
    },
  };
}

/** The image line's value in examples/demo-repo/app.yaml is filled in at seed time. */
export function firstVelaWorkflowFile(image: string): string {
  return fs
    .readFileSync(path.join(DEMO_REPO_DIR, 'app.yaml'), 'utf8')
    .replace('${IMAGE}', image);
}

const VERSION_LINE = /const VERSION = "[^"]*"/;

function withVersion(source: string, version: string): string {
  if (!VERSION_LINE.test(source)) {
    throw new Error(`no VERSION constant in ${SOURCE}`);
  }
  return source.replace(VERSION_LINE, `const VERSION = "${version}"`);
}

export interface DemoBuild {
  sha: string;
  tag: string;
  /** When the tag's manifest PUT was answered: where the rollout clock starts. */
  pushedAt: number;
}

export interface CiEntry {
  sha: string;
  /** The tag built for the commit. */
  built?: string;
  /** Why no image was built. */
  skipped?: string;
}

export interface DemoStack {
  cluster: Cluster;
  registry: Registry;
  git: GitServer;
  /** `<registry host>/gitops`, the image git-app keeps up to date. */
  image: string;
  /** The first build, of the seeded 0.1.5 commit. */
  initial: DemoBuild;
  /**
   * Resolves when both Applications are running and healthy, as the seed's
   * `vela ls` shows them before the code changes.
   */
  settled(timeoutMs?: number): Promise<void>;
  /** Commits the version change as a human and waits for the CI's image of that commit. */
  release(version: string): Promise<DemoBuild>;
  /** Commits the CI saw on master, in order, with what it did about each. */
  readonly ciLog: ReadonlyArray<CiEntry>;
  stop(): Promise<void>;
}

export interface StartDemoOptions {
  /** Where the registry sends its notifications, e.g. Backstage's registry webhook. */
  notifications?: { url: string; secret: string };
  log?: (line: string) => void;
}

export async function startDemoStack(
  options: StartDemoOptions = {},
): Promise<DemoStack> {
  const log = options.log ?? (() => {});
  const started: Array<{ stop(): Promise<void> }> = [];
  const track = <T extends { stop(): Promise<void> }>(p: Promise<T>) =>
    p.then(server => {
      started.push(server);
      return server;
    });
  let ci: Promise<void> | undefined;
  let stopping = false;
  const stopAll = async () => {
    stopping = true;
    await ci;
    await Promise.allSettled(started.map(s => s.stop()));
  };

  try {
    const [cluster, registry, git] = await Promise.all([
      track(startCluster({ name: 'demo' })),
      track(
        startRegistry(
          options.notifications && {
            notifications: {
              url: options.notifications.url,
              headers: {
                Authorization: `Bearer ${options.notifications.secret}`,
              },
            },
          },
        ),
      ),
      track(startGitServer()),
    ]);
    const image = `${registry.host}/${IMAGE_REPO}`;

    // Tags sort by their timestamp: never hand out the same second twice.
    let lastTimestamp = 0;
    const builds = new Map<string, DemoBuild>();
    const ciLog: CiEntry[] = [];
    const build = async (sha: string, source: string): Promise<DemoBuild> => {
      lastTimestamp = Math.max(
        Math.floor(Date.now() / 1000),
        lastTimestamp + 1,
      );
      const tag = `${BRANCH}-${sha.slice(0, 7)}-${lastTimestamp}`;
      // kwok nodes run no containers, so the layer carries the source it was built from.
      await pushImage(registry, IMAGE_REPO, tag, { fileContent: source });
      const done = { sha, tag, pushedAt: Date.now() };
      builds.set(sha, done);
      ciLog.push({ sha, built: tag });
      log(`ci: built ${image}:${tag} for ${sha.slice(0, 7)}`);
      return done;
    };

    // The repository as the seed has it; the image line needs the first build's
    // tag, which needs the commit: the CI build of the source commit comes first.
    const source = fs.readFileSync(path.join(DEMO_REPO_DIR, SOURCE), 'utf8');
    const work = await makeTempDir('demo-repo');
    let initial: DemoBuild;
    try {
      fs.cpSync(DEMO_REPO_DIR, work, { recursive: true });
      fs.rmSync(path.join(work, 'app.yaml'));
      const sourceSha = await git.createRepo(REPO, {
        fixtureDir: work,
        branch: BRANCH,
        message: 'A web server that prints its version',
      });
      initial = await build(sourceSha, source);
    } finally {
      await removeDir(work);
    }
    await git.pushAsHuman(REPO, {
      branch: BRANCH,
      files: { 'app.yaml': firstVelaWorkflowFile(`${image}:${initial.tag}`) },
      message: 'Deploy first-vela-workflow',
    });

    await installCrd(cluster);
    await createSourceSecrets(cluster, git, registry, {
      git: 'my-secret',
      registry: 'imagesecret',
    });
    await cluster.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify(gitAppApplication(git.repoUrl(REPO), image)),
    });

    // The seed's CI, triggered by every push to master (GitHub runs it for the head commit).
    let seen = await git.head(REPO, BRANCH);
    const ciLoop = async () => {
      while (!stopping) {
        try {
          const head = await git.head(REPO, BRANCH);
          if (head !== seen) {
            seen = head;
            const [commit] = await git.log(REPO, BRANCH);
            if (commit.message.includes(BOT_MESSAGE)) {
              ciLog.push({ sha: head, skipped: 'bot commit' });
              log(
                `ci: skipped ${head.slice(0, 7)} (${
                  commit.message.split('\n')[0]
                })`,
              );
            } else {
              await build(head, await git.readFile(REPO, SOURCE, BRANCH));
            }
          }
        } catch (e) {
          log(`ci: ${(e as Error).message}`);
        }
        await sleep(300);
      }
    };
    ci = ciLoop();

    return {
      cluster,
      registry,
      git,
      image,
      initial,
      ciLog,
      async settled(timeoutMs = 120_000) {
        for (const name of ['first-vela-workflow', 'git-app']) {
          await waitFor(
            `${name} to be running and healthy`,
            async () => {
              const { status } = JSON.parse(
                await cluster.kubectl([
                  'get',
                  'application',
                  name,
                  '-o',
                  'json',
                ]),
              );
              return (
                status?.status === 'running' &&
                status.services?.every((c: { healthy?: boolean }) => c.healthy)
              );
            },
            { timeoutMs, intervalMs: 250 },
          );
        }
      },
      async release(version) {
        const current = await git.readFile(REPO, SOURCE, BRANCH);
        const sha = await git.pushAsHuman(REPO, {
          branch: BRANCH,
          files: { [SOURCE]: withVersion(current, version) },
          message: `Version ${version}`,
        });
        return waitFor(`the CI's image of ${sha.slice(0, 7)}`, async () =>
          builds.get(sha),
        );
      },
      stop: stopAll,
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}
