/*
 * `yarn demo:release <version>`: the seed's "change the code" step against
 * the demo `./run start` runs. The demo process commits the version change as
 * a human and its CI pushes the image; this then follows what the product
 * does with it: the bot's commit and the Deployment's rollout.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { httpGet, isolatedGitEnv } from '../infra';
import { waitFor } from '../infra/process';
import { isDemoRunning, readDemoState } from './state';
import { BRANCH, REPO } from './stack';

const say = (line: string) => process.stdout.write(`${line}\n`);

async function main() {
  const version = process.argv[2];
  if (!version || !/^[0-9A-Za-z.+-]+$/.test(version)) {
    process.stderr.write('usage: yarn demo:release <version>, e.g. 0.1.6\n');
    process.exit(2);
  }
  const state = readDemoState();
  if (!state || !isDemoRunning(state)) {
    throw new Error('no demo is running: start it with `./run start` first');
  }

  const ask = async (what: string) => {
    const res = await fetch(`${state.controlUrl}${what}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${state.token}` },
    });
    if (!res.ok)
      throw new Error(`the demo answered ${res.status}: ${await res.text()}`);
    return res.json();
  };
  const build = (await ask(
    `/release?version=${encodeURIComponent(version)}`,
  )) as { sha: string; tag: string; pushedAt: number };
  const newImage = `${state.image}:${build.tag}`;
  say(
    `committed "Version ${version}" as Dana Developer: ${build.sha.slice(
      0,
      7,
    )}`,
  );
  say(`CI pushed ${newImage}`);

  const gitLog = () =>
    execFileSync(
      'git',
      ['log', '-1', '--format=%h %an: %B', `refs/heads/${BRANCH}`],
      {
        cwd: path.join(state.gitRoot, `${REPO}.git`),
        env: isolatedGitEnv(),
        encoding: 'utf8',
      },
    ).trim();
  const botCommit = await waitFor(
    'the bot commit',
    async () => {
      const head = gitLog();
      return head.includes(newImage) ? head : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 250 },
  );
  say(
    `bot committed after ${((Date.now() - build.pushedAt) / 1000).toFixed(
      1,
    )} s: ${botCommit}`,
  );

  await waitFor(
    'the Deployment to roll out',
    async () => {
      const d = JSON.parse(
        execFileSync(
          state.kubectl,
          [
            '--kubeconfig',
            state.kubeconfig,
            'get',
            'deployment',
            'test-server',
            '-o',
            'json',
          ],
          { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
        ),
      );
      // Rolled out as `kubectl rollout status` says it: every replica is
      // the new one and available, and no old one is left.
      const status = d.status ?? {};
      return (
        d.spec.template.spec.containers[0].image === newImage &&
        status.observedGeneration >= d.metadata.generation &&
        status.updatedReplicas === d.spec.replicas &&
        status.replicas === status.updatedReplicas &&
        status.availableReplicas === status.updatedReplicas
      );
    },
    { timeoutMs: 120_000, intervalMs: 250 },
  );
  say(
    `Deployment test-server runs ${newImage} and is Available, ${(
      (Date.now() - build.pushedAt) /
      1000
    ).toFixed(1)} s after the tag push`,
  );
  if (state.ingress) {
    const { url, host, curl } = state.ingress;
    // Traefik follows the endpoints a moment after the rollout: wait for the new answer.
    const answer = await waitFor(
      `the Ingress to answer Version: ${version}`,
      async () => {
        const res = await httpGet(`${url}/`, host);
        return res.body.trim() === `Version: ${version}` ? res : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    say(
      `${curl} answers: ${answer.body.trim()}, ${(
        (Date.now() - build.pushedAt) /
        1000
      ).toFixed(1)} s after the tag push`,
    );
  }
  await ask('/settled');
  say(
    'both Applications report running and healthy again: `yarn gitops ls` shows them as the seed does',
  );
}

main().catch(e => {
  process.stderr.write(`demo:release: ${(e as Error).message}\n`);
  process.exit(1);
});
