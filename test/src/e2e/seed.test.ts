import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { freePort, httpGet, listTags } from '../infra';
import { makeTempDir, removeDir } from '../infra/process';
import {
  Backstage,
  demoGitopsConfig,
  startBackstage,
  writeConfigFile,
} from '../demo/backstage';
import {
  BRANCH,
  DemoStack,
  firstVelaWorkflowFile,
  IMAGE_REPO,
  REPO,
  startDemoStack,
} from '../demo/stack';
import { waitUntil } from '../backend/support';

/*
 * The seed, replayed on a fresh stack the way `./run start` runs it: the demo
 * stack on a real node and the real `yarn start` (frontend dev server +
 * backend process) on free ports. A version bump becomes one kubevelabot
 * commit, a rollout of the new image, a row in the entity page's image
 * history, and the seed's last line: curl through the Ingress answers
 * `Version: 0.1.6`, with no request failing during the rollout.
 */

const BOT = {
  authorName: 'kubevelabot',
  authorEmail: 'kubevelabot@users.noreply.github.com',
};

describe('the seed, end to end', () => {
  let stack: DemoStack;
  let backstage: Backstage | undefined;
  let dir: string;
  let frontendUrl: string;
  let backendUrl: string;

  const logTail = () => {
    try {
      return fs
        .readFileSync(path.join(dir, 'backstage.log'), 'utf8')
        .split('\n')
        .slice(-40)
        .join('\n');
    } catch {
      return '';
    }
  };
  const kubeJson = async (...args: string[]) =>
    JSON.parse(await stack.cluster.kubectl(['get', ...args, '-o', 'json']));
  const context = async () =>
    `${await stack.cluster.kubectl([
      'get',
      'applications,deployments',
      '-o',
      'yaml',
    ])}\n--- Backstage log ---\n${logTail()}`;

  beforeAll(async () => {
    const [frontendPort, backendPort] = await Promise.all([
      freePort(),
      freePort(),
    ]);
    frontendUrl = `http://localhost:${frontendPort}`;
    backendUrl = `http://localhost:${backendPort}`;
    const webhookSecret = crypto.randomBytes(24).toString('hex');
    stack = await startDemoStack({
      nodes: 'real',
      notifications: {
        url: `http://127.0.0.1:${backendPort}/api/gitops/webhooks/registry`,
        secret: webhookSecret,
      },
    });
    dir = await makeTempDir('seed-e2e');
    const config = path.join(dir, 'app-config.e2e.yaml');
    writeConfigFile(config, 'The seed acceptance test', {
      app: { baseUrl: frontendUrl },
      backend: {
        baseUrl: backendUrl,
        listen: { port: backendPort },
        cors: { origin: frontendUrl },
      },
      gitops: {
        ...demoGitopsConfig(stack, webhookSecret),
        cacheDir: path.join(dir, 'clones'),
      },
    });
    const out = fs.openSync(path.join(dir, 'backstage.log'), 'a');
    backstage = startBackstage({
      configFiles: ['app-config.yaml', config],
      frontendUrl,
      backendUrl,
      stdio: ['ignore', out, out],
    });
    fs.closeSync(out);
    try {
      await backstage.ready();
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${logTail()}`);
    }
  }, 600_000);

  afterAll(async () => {
    await backstage?.stop();
    await stack?.stop();
    if (dir) await removeDir(dir);
  }, 60_000);

  it('a version bump becomes one bot commit and a rollout, shown in the image history', async () => {
    const { git, image, initial } = stack;
    const deployment = () => kubeJson('deployment', 'test-server');
    const availableWith = async (wanted: string) => {
      const d = await deployment();
      return d.spec.template.spec.containers[0].image === wanted &&
        d.status?.observedGeneration === d.metadata.generation &&
        d.status?.updatedReplicas === 1 &&
        d.status?.availableReplicas === 1
        ? d
        : undefined;
    };

    // The seed's first apply: git-app pulls first-vela-workflow from Git, 0.1.5 runs.
    await waitUntil(
      '0.1.5 to be available',
      () => availableWith(`${image}:${initial.tag}`),
      context,
      120_000,
    );
    // As the seed's `vela ls` shows before the change: both running and healthy.
    await stack.settled().catch(async e => {
      throw new Error(`${(e as Error).message}\n${await context()}`);
    });
    const seeded = await git.log(REPO, BRANCH);
    expect(seeded).toHaveLength(2);

    // The seed's `curl -H "Host: testsvc.example.com" http://<your-ip>`.
    const ingress = stack.ingress!;
    const curl = () => httpGet(`${ingress.url}/`, ingress.host);
    const answered = await waitUntil(
      'the Ingress to answer',
      async () => {
        const res = await curl();
        return res.status === 200 ? res : undefined;
      },
      context,
    );
    expect(answered.body).toBe('Version: 0.1.5\n');

    // Requests keep coming, one after another, through the whole rollout.
    const answers: string[] = [];
    let rolling = true;
    const traffic = (async () => {
      while (rolling) {
        const res = await curl().catch(e => ({
          status: 0,
          body: (e as Error).message,
        }));
        answers.push(
          res.status === 200
            ? res.body.trim()
            : `HTTP ${res.status}: ${res.body.trim()}`,
        );
        // A steady stream, not a flood: the two cores also run the rollout.
        await new Promise(r => setTimeout(r, 20));
      }
    })();

    // The seed's "change the code": Version 0.1.6, the CI pushes its image.
    const release = await stack.release('0.1.6');
    const newImage = `${image}:${release.tag}`;
    expect(release.tag).toMatch(
      new RegExp(`^master-${release.sha.slice(0, 7)}-[0-9]+$`),
    );
    let seconds: number;
    try {
      await waitUntil(
        '0.1.6 to be available',
        () => availableWith(newImage),
        context,
        120_000,
      );
      seconds = (Date.now() - release.pushedAt) / 1000;
      // The rollout ends when the old Pod is gone, not when the new one is up.
      await waitUntil(
        'the 0.1.5 Pod to be gone',
        async () => {
          const pods = await kubeJson(
            'pods',
            '-l',
            'app.oam.dev/component=test-server',
          );
          return pods.items.length === 1 &&
            pods.items[0].spec.containers[0].image === newImage
            ? pods
            : undefined;
        },
        context,
      );
      await waitUntil('the Ingress to answer 0.1.6', async () =>
        answers[answers.length - 1] === 'Version: 0.1.6' ? true : undefined,
      );
    } finally {
      rolling = false;
      await traffic;
    }
    // eslint-disable-next-line no-console
    console.log(
      `${answers.length} requests through the Ingress during the rollout: ${
        answers.filter(a => a === 'Version: 0.1.5').length
      } answered 0.1.5, ${
        answers.filter(a => a === 'Version: 0.1.6').length
      } 0.1.6`,
    );
    expect(answers.filter(a => !/^Version: 0\.1\.[56]$/.test(a))).toEqual([]);
    expect(answers[0]).toBe('Version: 0.1.5');
    expect((await curl()).body).toBe('Version: 0.1.6\n');
    // The guest sign-in the browser does, for the API calls below.
    const guest = await fetch(`${backendUrl}/api/auth/guest/refresh`, {
      headers: { 'x-requested-with': 'XMLHttpRequest' },
    });
    const { backstageIdentity } = (await guest.json()) as {
      backstageIdentity: { token: string };
    };
    const auth = { authorization: `Bearer ${backstageIdentity.token}` };
    const history = await (
      await fetch(
        `${backendUrl}/api/gitops/applications/default/git-app/image-history`,
        { headers: auth },
      )
    ).json();
    const since = (iso: string) =>
      `${((Date.parse(iso) - release.pushedAt) / 1000).toFixed(1)} s`;
    // eslint-disable-next-line no-console
    console.log(
      `tag push → Available: ${seconds.toFixed(
        1,
      )} s (tag push → detected ${since(
        history.items[0].detectedAt,
      )}, → bot commit pushed ${since(history.items[0].pushedAt)})`,
    );
    expect(history.items[0]).toMatchObject({
      newTag: release.tag,
      oldTag: initial.tag,
      commitSha: (await git.log(REPO, BRANCH))[0].sha,
    });

    const log = await git.log(REPO, BRANCH);
    expect(log).toHaveLength(seeded.length + 2);
    expect(log[1]).toMatchObject({
      sha: release.sha,
      authorName: 'Dana Developer',
      message: 'Version 0.1.6',
    });
    expect(log[0]).toMatchObject({
      ...BOT,
      message: `Update image automatically.\nImage: ${newImage}`,
    });
    expect(await git.readFile(REPO, 'app.yaml', BRANCH)).toBe(
      firstVelaWorkflowFile(newImage),
    );
    expect(await git.readFile(REPO, 'main.go', BRANCH)).toContain(
      'const VERSION = "0.1.6"',
    );

    // The CI's filter: the bot's commit built nothing.
    await waitUntil('the CI to see the bot commit', async () =>
      stack.ciLog.find(e => e.sha === log[0].sha),
    );
    expect(stack.ciLog.find(e => e.sha === log[0].sha)).toEqual({
      sha: log[0].sha,
      skipped: 'bot commit',
    });
    expect((await listTags(stack.registry, IMAGE_REPO)).sort()).toEqual(
      [initial.tag, release.tag].sort(),
    );

    // The entity page, as a person sees it, lists the new tag in its image history.
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    try {
      const page = await browser.newPage();
      await page.goto(
        `${frontendUrl}/catalog/default/component/git-app/gitops`,
      );
      await page.getByRole('button', { name: 'Enter' }).click();
      try {
        await page
          .getByText(`→ ${release.tag}`)
          .first()
          .waitFor({ timeout: 90_000 });
      } catch (e) {
        throw new Error(
          `${(e as Error).message}\n--- the page ---\n${await page
            .locator('body')
            .innerText()}`,
        );
      }
    } finally {
      await browser.close();
    }

    // Further polls (a manual sync through the API, the webhook of a
    // non-matching tag, the tick) commit nothing and change nothing.
    const before = (await kubeJson('deployment,service,ingress')).items.map(
      (o: any) => o.metadata.resourceVersion,
    );
    const runsUrl = `${backendUrl}/api/gitops/applications/default/git-app/runs`;
    const runsBefore = (await (await fetch(runsUrl, { headers: auth })).json())
      .totalCount as number;
    const sync = await fetch(
      `${backendUrl}/api/gitops/applications/default/git-app/sync`,
      { method: 'POST', headers: auth },
    );
    expect(sync.status).toBe(202);
    await waitUntil(
      'the manual sync to finish',
      async () => {
        const runs = await (await fetch(runsUrl, { headers: auth })).json();
        return runs.totalCount > runsBefore && runs.items[0].finishedAt
          ? runs
          : undefined;
      },
      context,
    );
    expect(await git.log(REPO, BRANCH)).toHaveLength(log.length);
    const after = (await kubeJson('deployment,service,ingress')).items.map(
      (o: any) => o.metadata.resourceVersion,
    );
    expect(after).toEqual(before);
  }, 600_000);
});
