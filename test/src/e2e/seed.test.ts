import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, Locator, Page } from 'playwright-core';
import { freePort, httpGet, listTags } from '../infra';
import { makeTempDir, removeDir, repoRoot } from '../infra/process';
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
 * commit, a rollout of the new image, and the seed's last line: curl
 * through the Ingress answers `Version: 0.1.6`, with no request failing
 * during the rollout. In Chromium, first-vela-workflow's own page tells the
 * release (#18): managed by git-app at the bot's commit, the new tag in its
 * image history and in its component row, the release's events on its
 * timeline with a lead time within a second of the one measured here, its
 * Pods healthy in the resource tree. Its screenshots are the README's.
 */

const BOT = {
  authorName: 'kubevelabot',
  authorEmail: 'kubevelabot@users.noreply.github.com',
};

/** Where a run keeps its screenshots; docs/ holds the README's. */
const ARTIFACTS = path.join(repoRoot(), 'test-results');

/**
 * A duration as the Timeline card writes one (`8.9 s`, `1 m 5 s`), in
 * milliseconds; undefined for anything else, such as the dash of no figure.
 */
function shownDurationMs(text: string): number | undefined {
  const m = /^(?:(\d+) m )?(\d+(?:\.\d+)?) s$/.exec(text.trim());
  return m ? (Number(m[1] ?? 0) * 60 + Number(m[2])) * 1000 : undefined;
}

/** The kind of a timeline row of one release, read from its sentence. */
const RELEASE_EVENTS: Array<[string, (tag: string) => RegExp]> = [
  ['tag pushed', tag => new RegExp(`:${tag} was pushed to the registry`)],
  ['picked', tag => new RegExp(` picked ${tag} `)],
  ['committed', () => /The bot pushed commit [0-9a-f]{7}: /],
  ['applied', tag => new RegExp(`:${tag} was applied`)],
  ['healthy', tag => new RegExp(`is healthy on ${tag}, `)],
];

/** The table of the Backstage Table titled `title` (its toolbar's heading). */
function tableTitled(page: Page, title: string): Locator {
  return (
    page
      .locator('div')
      .filter({ has: page.getByRole('heading', { name: title, exact: true }) })
      .filter({ has: page.locator('table') })
      // Of the heading's ancestors that hold a table, the innermost: its own card.
      .last()
      .locator('table')
  );
}

type Shown = <T>(what: string, fn: () => Promise<T | undefined>) => Promise<T>;

/**
 * first-vela-workflow's own GitOps tab after the release: who manages it and
 * at which revision, the release in its image history, the image that runs in
 * its component row, the release's events on its timeline with a lead time
 * within a second of the one the test measured, and its Deployment's Pods
 * healthy in the resource tree.
 */
async function checkWorkloadPage(
  page: Page,
  shown: Shown,
  expected: {
    release: { tag: string };
    initialTag: string;
    newImage: string;
    botSha: string;
    measuredSeconds: number;
    /** The release's milestones as recorded, for the lead time's log line. */
    milestones: () => Promise<string>;
    /** The names of the Pods the Deployment runs now. */
    pods: () => Promise<string[]>;
  },
): Promise<void> {
  const { release, initialTag, newImage, botSha } = expected;
  const tag = release.tag;

  // Managed by git-app, at the revision that carried the bot's commit.
  const managedBy = page.getByLabel('Managed by', { exact: true });
  await shown('the page to say who manages it, at the bot commit', async () =>
    (
      await managedBy.innerText()
    ).includes(`managed by default/git-app, master@sha1:${botSha.slice(0, 7)}`)
      ? true
      : undefined,
  );
  expect(
    await managedBy
      .getByRole('link', { name: 'default/git-app' })
      .getAttribute('href'),
  ).toBe('/catalog/default/component/git-app');
  await managedBy
    .getByRole('button', { name: `Copy ${botSha}`, exact: true })
    .waitFor();

  // Its own image history: the release, under its own component, healthy.
  const history = tableTitled(page, 'Image history');
  const row = await shown(
    'the release healthy in its image history',
    async () => {
      const text = await history
        .getByRole('row')
        .filter({ hasText: `${initialTag} → ${tag}` })
        .innerText();
      return /healthy in/.test(text) ? text : undefined;
    },
  );
  expect(row).toContain('test-server');

  // What runs, read from the live Deployment.
  const components = tableTitled(page, 'Components');
  const component = components.getByRole('row').filter({
    hasText: 'test-server',
  });
  await shown('the running image in the component row', async () =>
    (await component
      .getByRole('button', { name: `Copy ${newImage}`, exact: true })
      .count()) === 1
      ? true
      : undefined,
  );
  expect(await component.innerText()).toContain(`gitops:${tag}`);

  // The timeline: the release's events in the order they happened.
  const events = page.getByRole('table', { name: 'Timeline events' });
  const told = await shown(
    'the timeline to tell the release healthy',
    async () => {
      const rows = await events
        .locator('tbody tr')
        .filter({ hasText: tag })
        .allInnerTexts();
      return rows.some(r => /is healthy on/.test(r)) ? rows : undefined;
    },
  );
  expect(
    told.map(
      text =>
        RELEASE_EVENTS.find(([, pattern]) => pattern(tag).test(text))?.[0] ??
        text,
    ),
  ).toEqual(RELEASE_EVENTS.map(([kind]) => kind));

  // Its lead time, as the page shows it, against the test's tag push → Available.
  const lead = page.getByRole('group', { name: 'Lead time', exact: true });
  const figure = await lead.locator(':scope > div').nth(1).innerText();
  const leadMs = shownDurationMs(figure);
  // eslint-disable-next-line no-console
  console.log(
    `first-vela-workflow's timeline: lead time ${figure} (measured tag push → Available: ${expected.measuredSeconds.toFixed(
      1,
    )} s); from the tag push the test saw: ${await expected.milestones()}`,
  );
  expect(leadMs).toBeDefined();
  expect(
    Math.abs(leadMs! - expected.measuredSeconds * 1000),
  ).toBeLessThanOrEqual(1000);
  expect(await lead.innerText()).toContain('from the tag push');

  // The resource tree: the Deployment's Pods, exactly those that run, healthy.
  const deployment = page.getByRole('treeitem', {
    name: 'Deployment default/test-server',
    exact: true,
  });
  await shown(
    "the Deployment's Pods healthy in the resource tree",
    async () => {
      const items = deployment.getByRole('treeitem', { name: /^Pod / });
      const rows = await Promise.all(
        (
          await items.all()
        ).map(async item => ({
          name: await item.getAttribute('aria-label'),
          row: await item.locator(':scope > div').first().innerText(),
        })),
      );
      const live = (await expected.pods()).map(name => `Pod default/${name}`);
      return rows.length > 0 &&
        rows.every(r => /\bCurrent\b/.test(r.row)) &&
        JSON.stringify(rows.map(r => r.name).sort()) ===
          JSON.stringify(live.sort())
        ? rows
        : undefined;
    },
  );
  expect(await deployment.locator(':scope > div').first().innerText()).toMatch(
    /\bCurrent\b/,
  );
}

/**
 * A screenshot of the page at its width, from the top down to the bottom of
 * the card holding `through` (the whole page without it), kept in
 * test-results/ and, with GITOPS_UPDATE_SCREENSHOT=1, as the README's docs/
 * image: only on request, so a test run leaves the checkout as it was.
 */
async function screenshot(
  page: Page,
  artifact: string,
  readmeImage: string,
  options: { through?: Locator } = {},
): Promise<void> {
  const file = path.join(ARTIFACTS, artifact);
  const bottom = await options.through?.evaluate(
    el =>
      (el.closest('.MuiCard-root') ?? el).getBoundingClientRect().bottom +
      window.scrollY,
  );
  await page.screenshot({
    path: file,
    fullPage: true,
    ...(bottom
      ? {
          clip: {
            x: 0,
            y: 0,
            width: page.viewportSize()!.width,
            height: Math.ceil(bottom) + 16,
          },
        }
      : {}),
  });
  if (process.env.GITOPS_UPDATE_SCREENSHOT) {
    fs.copyFileSync(file, path.join(repoRoot(), 'docs', readmeImage));
  }
}

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
    if (dir) {
      // Beside the screenshots, for what a failure does not print.
      const log = path.join(dir, 'backstage.log');
      if (fs.existsSync(log)) {
        fs.mkdirSync(ARTIFACTS, { recursive: true });
        fs.copyFileSync(log, path.join(ARTIFACTS, 'seed-backstage.log'));
      }
      await removeDir(dir);
    }
  }, 60_000);

  it("a version bump becomes one bot commit and a rollout, told on the workload's own page", async () => {
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

    // The entity pages, as a person sees them at the laptop width the layout
    // is made for: git-app's lists the new tag; first-vela-workflow's, the
    // workload's own, tells the whole release.
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
      const page = await browser.newPage({
        viewport: { width: 1280, height: 1000 },
      });
      page.setDefaultTimeout(90_000);
      const pageText = async () =>
        `--- the page ---\n${await page
          .locator('body')
          .innerText()
          .catch(e => `(unreadable: ${(e as Error).message})`)}`;
      /** Waits for what the page shows, with the page's text when it never does. */
      const shown = <T>(what: string, fn: () => Promise<T | undefined>) =>
        waitUntil(what, fn, pageText, 90_000);

      await page.goto(
        `${frontendUrl}/catalog/default/component/git-app/gitops`,
      );
      await page.getByRole('button', { name: 'Enter' }).click();
      await shown(`→ ${release.tag} in git-app's image history`, async () =>
        (await page.getByText(`→ ${release.tag}`).count()) > 0
          ? true
          : undefined,
      );

      await page.goto(
        `${frontendUrl}/catalog/default/component/first-vela-workflow/gitops`,
      );
      await checkWorkloadPage(page, shown, {
        release,
        initialTag: initial.tag,
        newImage,
        botSha: log[0].sha,
        measuredSeconds: seconds,
        milestones: async () => {
          const from = (iso?: string) =>
            iso
              ? `${((Date.parse(iso) - release.pushedAt) / 1000).toFixed(2)} s`
              : '—';
          const timeline = await (
            await fetch(
              `${backendUrl}/api/gitops/applications/default/first-vela-workflow/timeline`,
              { headers: auth },
            )
          ).json();
          const progressing = (await deployment()).status.conditions.find(
            (c: any) => c.type === 'Progressing',
          );
          const ready = (
            await kubeJson('application', 'first-vela-workflow')
          ).status?.conditions?.find((c: any) => c.type === 'Ready');
          return `${timeline.events
            .filter((e: any) => e.links?.image === newImage)
            .map((e: any) => `${e.kind} ${from(e.at)}`)
            .join(', ')}; the Deployment's Progressing ${
            progressing.reason
          } ${from(
            progressing.lastUpdateTime,
          )}, first-vela-workflow's Ready ${from(ready?.lastTransitionTime)}`;
        },
        pods: async () =>
          (
            await kubeJson('pods', '-l', 'app.oam.dev/component=test-server')
          ).items.map((p: any) => p.metadata.name as string),
      });
      await screenshot(page, 'seed-workload-tab.png', 'gitops-tab.png', {
        through: page.getByRole('tree', {
          name: 'Resource tree of default/first-vela-workflow',
        }),
      });

      // The applications page, like `vela ls`: both running.
      await page.goto(`${frontendUrl}/gitops`);
      for (const name of ['git-app', 'first-vela-workflow']) {
        await shown(
          `default/${name} running on the applications page`,
          async () =>
            /\brunning\b/.test(
              await page
                .getByRole('row', { name: new RegExp(`default/${name}\\b`) })
                .innerText(),
            )
              ? true
              : undefined,
        );
      }
      await screenshot(
        page,
        'seed-applications.png',
        'gitops-applications.png',
      );
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
  }, 900_000);
});
