/*
 * Git polling cost, ours (GitSource on isomorphic-git) beside the git CLI on
 * the same server and the same large repository:
 *
 *  1. HTTP requests of a poll where nothing changed, counted at the server
 *     (our target: one ref listing);
 *  2. time to bring a one-file change into an existing clone, reported as a
 *     ratio to `git fetch` (and to `git fetch` + `git reset --hard`, which
 *     like our sync also updates the working tree);
 *  3. the initial clone, working tree included (median of the rounds, each
 *     into a new directory). Ours is shallow (the tip of
 *     one branch, no tags), the CLI's a full `git clone`: on this repository
 *     of small commits `git clone --depth 1` takes about as long (within the
 *     run-to-run noise), so the full clone stays the reference, as the
 *     later `git fetch` rows need its history. A throwaway clone first warms
 *     the server, so that neither side meets its cold page cache.
 *
 * Run: yarn workspace @gitops-workflow/bench bench:git-poll [--files N] [--commits N] [--rounds N]
 * Reports numbers; it never passes or fails on a bare time.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { GitSource } from '@gitops-workflow/plugin-gitops-node';
import {
  GitServer,
  isolatedGitEnv,
  startGitServer,
} from '@gitops-workflow/test/src/infra/git-server';
import {
  makeTempDir,
  removeDir,
} from '@gitops-workflow/test/src/infra/process';
import {
  createLargeRepo,
  largeRepoFile,
} from '@gitops-workflow/test/src/git/largeRepo';

const run = promisify(execFile);

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
}

const total = (requests: Readonly<Record<string, number>>) =>
  Object.values(requests).reduce((a, b) => a + b, 0);

async function counted<T>(
  server: GitServer,
  op: () => Promise<T>,
): Promise<{ requests: number; ms: number; value: T }> {
  const before = total(server.requests);
  const start = process.hrtime.bigint();
  const value = await op();
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  return { requests: total(server.requests) - before, ms, value };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function main() {
  const files = arg('files', 5000);
  const commits = arg('commits', 500);
  const rounds = arg('rounds', 5);
  const server = await startGitServer();
  const work = await makeTempDir('bench-git-poll');
  try {
    process.stdout.write(
      `building a repository of ${files} files and ${commits} commits…\n`,
    );
    await createLargeRepo(server, 'big', { files, commits });

    const credentials = {
      username: server.username,
      password: server.password,
    };
    const spec = { url: server.repoUrl('big'), branch: 'main', credentials };
    const sourceIn = (r: number) =>
      new GitSource({ cacheDir: path.join(work, `cache-${r}`) });
    const source = sourceIn(0);

    const authHeader = `http.extraHeader=Authorization: Basic ${Buffer.from(
      `${credentials.username}:${credentials.password}`,
    ).toString('base64')}`;
    const cliDirIn = (r: number) => path.join(work, `cli-clone-${r}`);
    const cliDir = cliDirIn(0);
    const git = (args: string[], cwd = cliDir) =>
      run('git', ['-c', authHeader, ...args], { cwd, env: isolatedGitEnv() });

    await git(
      ['clone', '--quiet', '--bare', spec.url, path.join(work, 'warm-up')],
      work,
    );
    // Fresh clones into new directories, alternating who goes first; the
    // first round's clones are the ones polled below.
    const ourClones: number[] = [];
    const cliClones: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const cloneOurs = () =>
        counted(server, () => (r === 0 ? source : sourceIn(r)).sync(spec));
      const cloneCli = () =>
        counted(server, () =>
          git(
            ['clone', '--quiet', '--branch', 'main', spec.url, cliDirIn(r)],
            work,
          ),
        );
      if (r % 2 === 0) {
        ourClones.push((await cloneOurs()).ms);
        cliClones.push((await cloneCli()).ms);
      } else {
        cliClones.push((await cloneCli()).ms);
        ourClones.push((await cloneOurs()).ms);
      }
    }
    const ourClone = median(ourClones);
    const cliClone = median(cliClones);

    const ourIdle = await counted(server, () => source.sync(spec));
    if (ourIdle.value.fetched) throw new Error('a poll with no change fetched');
    const cliIdle = await counted(server, () =>
      git(['fetch', '--quiet', 'origin', 'main']),
    );

    const ours: number[] = [];
    const cliFetch: number[] = [];
    const cliFetchReset: number[] = [];
    let ourChangedRequests = 0;
    let cliChangedRequests = 0;
    for (let r = 0; r < rounds; r++) {
      // Alternate who goes first so neither always meets a cold server cache.
      await server.pushAsHuman('big', {
        files: { [largeRepoFile(r * 7)]: `round: ${r}\n` },
        message: `bench round ${r}`,
      });
      const oursFirst = r % 2 === 0;
      const measureOurs = () => counted(server, () => source.sync(spec));
      const measureCli = () =>
        counted(server, () => git(['fetch', '--quiet', 'origin', 'main']));
      let o;
      let c;
      if (oursFirst) {
        o = await measureOurs();
        c = await measureCli();
      } else {
        c = await measureCli();
        o = await measureOurs();
      }
      if (!o.value.fetched)
        throw new Error('a poll after a push did not fetch');
      const reset = await counted(server, () =>
        git(['reset', '--quiet', '--hard', 'FETCH_HEAD']),
      );
      ours.push(o.ms);
      cliFetch.push(c.ms);
      cliFetchReset.push(c.ms + reset.ms);
      ourChangedRequests = o.requests;
      cliChangedRequests = c.requests;
    }

    const fmt = (ms: number) => `${ms.toFixed(0)} ms`;
    const rows: Array<[string, string, string, string]> = [
      ['', 'ours (isomorphic-git)', 'git CLI', 'ours / git'],
      [
        `initial clone, median of ${rounds}`,
        fmt(ourClone),
        fmt(cliClone),
        (ourClone / cliClone).toFixed(2),
      ],
      [
        'no-change poll: requests (target 1)',
        String(ourIdle.requests),
        String(cliIdle.requests),
        (ourIdle.requests / cliIdle.requests).toFixed(2),
      ],
      [
        'no-change poll: time',
        fmt(ourIdle.ms),
        fmt(cliIdle.ms),
        (ourIdle.ms / cliIdle.ms).toFixed(2),
      ],
      [
        'one-file change: requests',
        String(ourChangedRequests),
        String(cliChangedRequests),
        (ourChangedRequests / cliChangedRequests).toFixed(2),
      ],
      [
        `one-file change, median of ${rounds}: vs git fetch`,
        fmt(median(ours)),
        fmt(median(cliFetch)),
        (median(ours) / median(cliFetch)).toFixed(2),
      ],
      [
        '  vs git fetch + reset --hard (tree updated too)',
        fmt(median(ours)),
        fmt(median(cliFetchReset)),
        (median(ours) / median(cliFetchReset)).toFixed(2),
      ],
    ];
    const widths = rows[0].map((_, i) =>
      Math.max(...rows.map(row => row[i].length)),
    );
    process.stdout.write(
      `\ngit poll, ${files} files, ${commits} commits, server ${
        server.url
      }\n\n${rows
        .map(row => row.map((cell, i) => cell.padEnd(widths[i])).join('  '))
        .join('\n')}\n\n`,
    );
    process.stdout.write(
      `${JSON.stringify({
        files,
        commits,
        rounds,
        initialClone: {
          oursMs: ourClone,
          gitMs: cliClone,
          ratio: ourClone / cliClone,
        },
        noChangePoll: {
          oursRequests: ourIdle.requests,
          gitRequests: cliIdle.requests,
        },
        oneFileChange: {
          oursMs: median(ours),
          gitFetchMs: median(cliFetch),
          gitFetchResetMs: median(cliFetchReset),
          ratioToGitFetch: median(ours) / median(cliFetch),
          ratioToGitFetchReset: median(ours) / median(cliFetchReset),
          oursRequests: ourChangedRequests,
          gitRequests: cliChangedRequests,
        },
      })}\n`,
    );
  } finally {
    await server.stop();
    await removeDir(work);
  }
}

main().catch(error => {
  process.stderr.write(
    `bench git-poll: ${error instanceof Error ? error.stack : error}\n`,
  );
  process.exit(1);
});
