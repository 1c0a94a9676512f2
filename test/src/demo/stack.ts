/*
 * The seed's world on one machine: a cluster, a registry and a Git server
 * (the real servers from ../infra), seeded like the seed's example
 * repository, plus the seed's CI: every push to master that is not a bot
 * commit builds the pushed commit's Go program (static, CGO_ENABLED=0) into
 * an image tagged `master-<sha>-<timestamp>`. On a real node that image runs
 * and the seed's Ingress answers through Traefik. Used by `./run start`,
 * `yarn demo:release` and the acceptance test.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  buildGoImage,
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
/** The seed's Ingress host (the ingress trait's `domain` in app.yaml). */
export const INGRESS_HOST = 'testsvc.example.com';
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
  /**
   * The seed's last step, on a real node: Traefik's address and the curl
   * command that answers `Version: …` through the seed's Ingress.
   */
  ingress?: { url: string; host: string; curl: string };
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
  /** `real`: containers run and the Ingress answers; `kwok` (default): simulated. */
  nodes?: 'real' | 'kwok';
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
      track(startCluster({ name: 'demo', nodes: options.nodes })),
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
    cluster.node?.trustRegistry(registry.host);

    // Tags sort by their timestamp: never hand out the same second twice.
    let lastTimestamp = 0;
    const builds = new Map<string, DemoBuild>();
    const ciLog: CiEntry[] = [];
    // The seed's Dockerfile, without a container engine: `go build` of the
    // pushed commit, the static binary as the image's one layer.
    const build = async (sha: string): Promise<DemoBuild> => {
      const checkout = await makeTempDir('demo-ci');
      let content;
      try {
        await git.checkout(REPO, sha, checkout);
        content = await buildGoImage(checkout, { exposedPorts: ['8088/tcp'] });
      } finally {
        await removeDir(checkout);
      }
      lastTimestamp = Math.max(
        Math.floor(Date.now() / 1000),
        lastTimestamp + 1,
      );
      const tag = `${BRANCH}-${sha.slice(0, 7)}-${lastTimestamp}`;
      await pushImage(registry, IMAGE_REPO, tag, { image: content });
      const done = { sha, tag, pushedAt: Date.now() };
      builds.set(sha, done);
      ciLog.push({ sha, built: tag });
      log(`ci: built ${image}:${tag} for ${sha.slice(0, 7)}`);
      return done;
    };

    // The repository as the seed has it; the image line needs the first build's
    // tag, which needs the commit: the CI build of the source commit comes first.
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
      initial = await build(sourceSha);
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
              await build(head);
            }
          }
        } catch (e) {
          log(`ci: ${(e as Error).message}`);
        }
        await sleep(300);
      }
    };
    ci = ciLoop();

    const ingressUrl = cluster.node?.ingressUrl;
    return {
      cluster,
      ingress: ingressUrl
        ? {
            url: ingressUrl,
            host: INGRESS_HOST,
            curl: `curl -H "Host: ${INGRESS_HOST}" ${ingressUrl}/`,
          }
        : undefined,
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
