import { ChildProcess, execFile, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { chromium, BrowserContext, Page } from 'playwright-core';
import {
  Cluster,
  GitServer,
  pushImage,
  Registry,
  startCluster,
  startGitServer,
  startRegistry,
  tofuBinary,
} from '../infra';
import { repoRoot } from '../infra/process';
import {
  createSourceSecrets,
  installCrd,
  kustomizeApp,
  waitUntil,
} from '../backend/support';

/*
 * The GitOps tab in Debian's Chromium against the real stack: the real
 * backend (packages/backend, serving the app built here, with its own
 * permission policy), a cluster, a registry and a Git server.
 */

const IMAGE_REPO = 'web';
/** The image of the Application the rollback story runs on. */
const RELEASE_REPO = 'release';
/** The entities' owner team; Alice is in it. */
const OWNERS = 'group:default/team-a';
/**
 * Who the guest sign-in makes you: each backend signs its guests in as one
 * identity (the guest provider's userEntityRef and ownershipEntityRefs).
 */
const ALICE = {
  userEntityRef: 'user:default/alice',
  ownershipEntityRefs: ['user:default/alice', OWNERS],
};
/** The guest provider's default: user:development/guest, owning nothing here. */
const GUEST = {};
const ARTIFACTS = path.join(repoRoot(), 'test-results');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** An Application a kustomize Application applies from Git; the marker lets automation rewrite its image. */
function nestedApplication(
  name: string,
  component: string,
  image: string,
  policy: string,
): string {
  return `apiVersion: core.oam.dev/v1beta1
kind: Application
metadata:
  name: ${name}
  namespace: default
spec:
  components:
    - name: ${component}
      type: webservice
      properties:
        image: ${image} # {"$imagepolicy": "${policy}"}
        port: 8088
`;
}

/**
 * git-app keeps the deprecated annotation, to show it still links (and the
 * note on its tab); the others use the current one.
 */
function entities(): string {
  return [
    ['first-vela-workflow', 'gitops-workflow.io/application'],
    ['git-app', 'gitops.backstage.io/application'],
    ['release', 'gitops-workflow.io/application'],
    ['canary-web', 'gitops-workflow.io/application'],
    ['orders', 'gitops-workflow.io/application'],
  ]
    .map(
      ([name, annotation]) => `apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: ${name}
  annotations:
    ${annotation}: default/${name}
spec:
  type: service
  lifecycle: production
  owner: ${OWNERS}
`,
    )
    .join('---\n');
}

/**
 * A kustomize Application like git-app whose component `release` follows
 * semver tags (0.1.5, 0.1.6) of its own image, as the seed's story does.
 */
function releaseApp(gitUrl: string, image: string) {
  const app = kustomizeApp('release', gitUrl, image);
  const [component] = app.spec.components;
  return {
    ...app,
    spec: {
      components: [
        {
          ...component,
          name: 'release',
          properties: {
            ...component.properties,
            imageRepository: {
              image,
              secretRef: 'registry-creds',
              interval: '1m',
              insecure: true,
              policy: { semver: { range: '>=0.1.0' } },
            },
          },
        },
      ],
    },
  };
}

/**
 * A webservice rolled out by KubeVela's kruise-rollout trait over
 * ingress-nginx canary annotations: half the traffic to the canary, then a
 * wait for a person, then all of it. No analysis: the story is the person's
 * decision.
 */
function canaryApp(image: string) {
  return {
    apiVersion: 'core.oam.dev/v1beta1',
    kind: 'Application',
    metadata: { name: 'canary-web', namespace: 'default' },
    spec: {
      components: [
        {
          name: 'canary-web',
          type: 'webservice',
          properties: { image, ports: [{ port: 8080, expose: true }] },
          traits: [
            {
              type: 'gateway',
              properties: { domain: 'canary.example', http: { '/': 8080 } },
            },
            {
              type: 'kruise-rollout',
              properties: {
                canary: {
                  steps: [{ weight: 50, pause: {} }, { weight: 100 }],
                  trafficRoutings: [{ type: 'nginx' }],
                },
              },
            },
          ],
        },
      ],
    },
  };
}

/**
 * An Application with one `terraform` component that OpenTofu applies only
 * once a person approves its plan: a built-in terraform_data resource, an
 * output by name and a sensitive one, whose value comes from a Secret.
 */
function ordersApp() {
  return {
    apiVersion: 'core.oam.dev/v1beta1',
    kind: 'Application',
    metadata: { name: 'orders', namespace: 'default' },
    spec: {
      components: [
        {
          name: 'orders-db',
          type: 'terraform',
          properties: {
            source: {
              hcl: `
variable "database" { type = string }
variable "password" {
  type      = string
  sensitive = true
}
resource "terraform_data" "database" { input = var.database }
output "database" { value = terraform_data.database.output }
output "password" {
  value     = var.password
  sensitive = true
}
`,
            },
            variables: { database: 'orders' },
            // The sensitive input comes from a Secret, as credentials do.
            env: [
              {
                name: 'TF_VAR_password',
                valueFrom: {
                  secretKeyRef: { name: 'orders-input', key: 'password' },
                },
              },
            ],
            writeConnectionSecretToRef: { name: 'orders-db-conn' },
            approve: 'manual',
          },
        },
      ],
    },
  };
}

/**
 * Words (runs of letters and digits) that the layout broke across lines
 * inside a table cell, as "webservi ce"; breaking at a hyphen or slash is fine.
 */
function brokenWords(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const broken: string[] = [];
    for (const cell of Array.from(document.querySelectorAll('td, th'))) {
      const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        for (const word of (node.textContent ?? '').matchAll(/[A-Za-z0-9]+/g)) {
          const range = document.createRange();
          range.setStart(node, word.index!);
          range.setEnd(node, word.index! + word[0].length);
          const lines = new Set(
            Array.from(range.getClientRects()).map(r => Math.round(r.top)),
          );
          if (lines.size > 1) broken.push(word[0]);
        }
      }
    }
    return broken;
  });
}

/**
 * Tables that do not fit the box that shows them (their last columns cut
 * or scrolled away): each one's headers, with its width and the box's.
 */
function overflowingTables(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    Array.from(document.querySelectorAll('table')).flatMap(table => {
      let box: HTMLElement | null = table.parentElement;
      while (box && getComputedStyle(box).overflowX === 'visible') {
        box = box.parentElement;
      }
      const scroller = box ?? document.documentElement;
      const right = table.getBoundingClientRect().right;
      const fits =
        scroller.scrollWidth <= scroller.clientWidth + 1 &&
        right <= window.innerWidth + 1;
      if (fits) return [];
      const headers = Array.from(table.querySelectorAll('th'))
        .map(th => th.textContent)
        .join(' | ');
      return [
        `${headers} (table ${table.scrollWidth} px in ${
          scroller.clientWidth
        } px, right edge ${Math.round(right)})`,
      ];
    }),
  );
}

/** The image history's row of one update, e.g. `0.1.5 → 0.1.6` (the timeline names it too). */
function historyRow(page: Page, tags: string) {
  return page
    .getByRole('row')
    .filter({ has: page.getByText(tags, { exact: true }) });
}

interface Backend {
  url: string;
  stop(): Promise<void>;
  output(): string;
}

/** Starts packages/backend with only the given config, on a free port; its guests sign in as `guest`. */
async function startBackend(
  dir: string,
  name: string,
  extra: Record<string, unknown>,
  cluster: Cluster,
  cacheDir: string,
  guest: Record<string, unknown>,
): Promise<Backend> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const entitiesFile = path.join(dir, 'entities.yaml');
  fs.writeFileSync(entitiesFile, entities());
  const config = {
    app: { title: 'GitOps e2e', baseUrl: url },
    backend: {
      baseUrl: url,
      listen: { port, host: '127.0.0.1' },
      database: { client: 'better-sqlite3', connection: ':memory:' },
    },
    auth: {
      environment: 'development',
      providers: {
        guest: { dangerouslyAllowOutsideDevelopment: true, ...guest },
      },
    },
    catalog: {
      rules: [{ allow: ['Component', 'Location'] }],
      locations: [{ type: 'file', target: entitiesFile }],
    },
    permission: { enabled: true },
    ...extra,
    gitops: {
      clusters: [{ name: 'local', kubeconfig: cluster.kubeconfigPath }],
      cacheDir: path.join(cacheDir, name),
      tickSeconds: 1,
      ...(extra.gitops as object | undefined),
    },
  };
  const configFile = path.join(dir, `app-config.${name}.json`);
  fs.writeFileSync(configFile, JSON.stringify(config));
  let log = '';
  // Not `backstage-cli package start`: it restarts on every file another
  // engineer saves in the checkout.
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '--require',
      require.resolve('@backstage/cli/config/nodeTransform.cjs'),
      'src/index.ts',
      '--config',
      configFile,
    ],
    {
      cwd: path.join(repoRoot(), 'packages/backend'),
      detached: true,
      env: { ...process.env, NODE_ENV: 'development' },
    },
  );
  child.stdout!.on('data', d => (log += d));
  child.stderr!.on('data', d => (log += d));
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise(r => child.once('exit', r));
    process.kill(-child.pid!, 'SIGTERM');
    await Promise.race([exited, new Promise(r => setTimeout(r, 10_000))]);
    if (child.exitCode === null) process.kill(-child.pid!, 'SIGKILL');
  };
  try {
    await waitUntil(
      `backend ${name} to serve the app`,
      async () => {
        if (child.exitCode !== null) throw new Error(`backend exited:\n${log}`);
        const res = await fetch(`${url}/api/catalog/entities?limit=1`, {
          signal: AbortSignal.timeout(2000),
        }).catch(() => undefined);
        return res && res.status < 500 ? true : undefined;
      },
      async () => log.slice(-4000),
      150_000,
    );
  } catch (e) {
    await stop();
    throw e;
  }
  return { url, stop, output: () => log };
}

/** What the browser's guest sign-in gets from a backend: the token and who it names. */
async function signIn(backend: Backend) {
  const res = await fetch(`${backend.url}/api/auth/guest/refresh`, {
    headers: { 'x-requested-with': 'XMLHttpRequest' },
  });
  const { backstageIdentity } = (await res.json()) as {
    backstageIdentity: {
      token: string;
      identity: { userEntityRef: string; ownershipEntityRefs: string[] };
    };
  };
  const authorization = `Bearer ${backstageIdentity.token}`;
  return {
    ...backstageIdentity.identity,
    /** GETs from /api/gitops as this user: the status. */
    get: async (route: string) =>
      (
        await fetch(`${backend.url}/api/gitops${route}`, {
          headers: { authorization },
        })
      ).status,
    /** POSTs to /api/gitops as this user: the status and the error message. */
    post: async (route: string, body: object = {}) => {
      const r = await fetch(`${backend.url}/api/gitops${route}`, {
        method: 'POST',
        headers: {
          authorization,
          'content-type': 'application/json',
        },
        body: JSON.stringify(body),
      });
      const answer = (await r.json().catch(() => ({}))) as {
        error?: { message?: string };
      };
      return { status: r.status, message: answer.error?.message };
    },
  };
}

describe('the GitOps tab in a real browser', () => {
  let cluster: Cluster;
  let registry: Registry;
  let git: GitServer;
  let dir: string;
  /** Every backend a story started, by name, for the teardown and the failure log. */
  const started = new Map<string, Backend>();
  let context: BrowserContext | undefined;
  let onFailure: () => string = () => '';
  /** The stories that have not reached their end: their failure prints the log. */
  const unfinished = new Set<string>();

  beforeAll(async () => {
    // The production bundle (about 15 s) is what app-backend serves; the dev
    // server would add a second process and a webpack watch.
    // NODE_ENV is `test` under Jest, which browserslist has no query for.
    const build = promisify(execFile)('yarn', ['workspace', 'app', 'build'], {
      cwd: repoRoot(),
      env: { ...process.env, NODE_ENV: 'production' },
    });
    [cluster, registry, git] = await Promise.all([
      startCluster(),
      startRegistry(),
      startGitServer(),
    ]);
    await build;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitops-browser-'));
    fs.mkdirSync(ARTIFACTS, { recursive: true });
  }, 180_000);

  afterAll(async () => {
    if (context && unfinished.size > 0) {
      // eslint-disable-next-line no-console
      console.log(onFailure());
    }
    await context?.close();
    await Promise.all([...started.values()].map(b => b.stop()));
    await Promise.all([cluster?.stop(), registry?.stop(), git?.stop()]);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  /**
   * Opens `url`, entering as the guest when the sign-in page comes first, and
   * waits for `ready`; loads again while the catalog has not read the entity yet.
   */
  async function open(page: Page, url: string, ready: string) {
    await waitUntil(
      `${url} to show "${ready}"`,
      async () => {
        await page.goto(url);
        const enter = page.getByRole('button', { name: /enter/i });
        const target = page.getByText(ready).first();
        const timeout = 20_000;
        await Promise.race([
          enter.waitFor({ timeout }),
          target.waitFor({ timeout }),
        ]);
        if (await enter.isVisible()) await enter.click();
        await target.waitFor({ timeout });
        return true;
      },
      async () => (await page.locator('body').innerText()).slice(0, 2000),
      120_000,
    );
  }

  /**
   * Starts a backend named `name` after stopping the others: one backend at
   * a time reconciles the cluster and the repos.
   */
  async function start(
    name: string,
    extra: Record<string, unknown>,
    guest: Record<string, unknown>,
  ): Promise<Backend> {
    await Promise.all([...started.values()].map(b => b.stop()));
    const backend = await startBackend(dir, name, extra, cluster, dir, guest);
    started.set(name, backend);
    return backend;
  }

  /** What the browser said, for when a wait times out. */
  const consoleLines: string[] = [];

  /** The page of the one Chromium this suite drives, launched by the first story that needs it. */
  async function browserPage(): Promise<Page> {
    if (!context) {
      context = await chromium.launchPersistentContext(
        path.join(dir, 'profile'),
        {
          executablePath: '/usr/bin/chromium',
          headless: true,
          // The laptop width the layout is made for (#18).
          viewport: { width: 1280, height: 1000 },
          args: [
            '--no-sandbox',
            '--disable-gpu',
            '--disable-quic',
            '--no-first-run',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
          ],
        },
      );
      const page = context.pages()[0] ?? (await context.newPage());
      page.on('console', m => consoleLines.push(`${m.type()}: ${m.text()}`));
      page.on('pageerror', e => consoleLines.push(`pageerror: ${e.message}`));
      page.on('requestfailed', r =>
        consoleLines.push(
          `requestfailed: ${r.url()} ${r.failure()?.errorText}`,
        ),
      );
      onFailure = () =>
        [
          ...consoleLines,
          ...[...started].map(
            ([name, b]) =>
              `--- backend ${name} ---\n${b.output().slice(-3000)}`,
          ),
        ].join('\n');
    }
    const page = context.pages()[0];
    page.setDefaultTimeout(90_000);
    return page;
  }

  it('shows the Application, a new image, Sync now, a rollback held and released, and a disabled action without permission', async () => {
    const image = `${registry.host}/${IMAGE_REPO}`;
    await pushImage(registry, IMAGE_REPO, 'build-1');
    const fixture = path.join(dir, 'fixture');
    fs.mkdirSync(fixture);
    fs.writeFileSync(
      path.join(fixture, 'app.yaml'),
      nestedApplication(
        'first-vela-workflow',
        'test-server',
        `${image}:build-1`,
        'default:deploy',
      ),
    );
    await git.createRepo('demo', { fixtureDir: fixture, branch: 'main' });
    await installCrd(cluster);
    await createSourceSecrets(cluster, git, registry, {
      git: 'git-creds',
      registry: 'registry-creds',
    });
    await cluster.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify(
        kustomizeApp('git-app', git.repoUrl('demo'), image),
      ),
    });
    // The seed's story for the rollback: release-web runs 0.1.5 from Git.
    const releaseImage = `${registry.host}/${RELEASE_REPO}`;
    await pushImage(registry, RELEASE_REPO, '0.1.5');
    const releaseFixture = path.join(dir, 'release-fixture');
    fs.mkdirSync(releaseFixture);
    fs.writeFileSync(
      path.join(releaseFixture, 'app.yaml'),
      nestedApplication(
        'release-web',
        'release-server',
        `${releaseImage}:0.1.5`,
        'default:release',
      ),
    );
    await git.createRepo('release', {
      fixtureDir: releaseFixture,
      branch: 'main',
    });
    await cluster.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify(releaseApp(git.repoUrl('release'), releaseImage)),
    });

    // Alice's team owns the entities: the demo's policy lets her act.
    unfinished.add('tab');
    const backend = await start('owner', {}, ALICE);

    const page = await browserPage();

    // The nested Application, applied from Git, runs and is healthy.
    await open(
      page,
      `${backend.url}/catalog/default/component/first-vela-workflow/gitops`,
      'Application default/first-vela-workflow',
    );
    await page
      .getByText('Application default/first-vela-workflow', { exact: true })
      .waitFor();
    await page.getByText('all components healthy', { exact: true }).waitFor();
    await page.screenshot({
      path: path.join(ARTIFACTS, 'gitops-tab-healthy.png'),
      fullPage: true,
    });

    // A new tag, then Sync now on git-app: the history gains the row, the component shows the image.
    await pushImage(registry, IMAGE_REPO, 'build-2');
    await open(
      page,
      `${backend.url}/catalog/default/component/git-app/gitops`,
      'Application default/git-app',
    );
    const sync = page.getByRole('button', { name: 'Sync default/git-app now' });
    await sync.click();
    await page
      .getByRole('status')
      .getByText('Sync of default/git-app started')
      .waitFor();
    const row = historyRow(page, 'build-1 → build-2');
    await row.waitFor({ timeout: 120_000 });
    expect(await row.getByText(image, { exact: true }).isVisible()).toBe(true);
    expect(await row.getByText('manual').isVisible()).toBe(true);
    // The tab catches up by itself as the rollout finishes.
    await page.getByText('all components healthy', { exact: true }).waitFor();
    await row.getByText('not healthy yet').waitFor({ state: 'hidden' });
    await page.screenshot({
      path: path.join(ARTIFACTS, 'gitops-tab.png'),
      fullPage: true,
    });

    // The rolled-out Deployment carries the new image.
    await waitUntil('the new image in the Deployment', async () => {
      const d = JSON.parse(
        await cluster.kubectl([
          'get',
          'deployment',
          'test-server',
          '-o',
          'json',
        ]),
      );
      return d.spec.template.spec.containers[0].image === `${image}:build-2`
        ? d
        : undefined;
    });

    // Suspend automation asks first, then the header says so; resume undoes it.
    await page
      .getByRole('button', { name: 'Suspend automation of default/git-app' })
      .click();
    await page
      .getByRole('button', { name: 'Confirm: suspend automation' })
      .click();
    const suspended = page.getByText(
      'suspended: new image tags are not committed',
    );
    await suspended.waitFor();
    await page
      .getByRole('button', { name: 'Resume automation of default/git-app' })
      .click();
    await page
      .getByRole('button', { name: 'Confirm: resume automation' })
      .click();
    await suspended.waitFor({ state: 'hidden' });

    // git-app's entity still uses the deprecated annotation: it links, and the tab says to rename it.
    await page
      .getByText(
        'component:default/git-app names its Application with the deprecated annotation gitops.backstage.io/application: rename it to gitops-workflow.io/application',
        { exact: false },
      )
      .waitFor();
    // The tab at 1280 px: no word broken inside a cell; the image history fits.
    expect(await brokenWords(page)).toEqual([]);
    expect(await overflowingTables(page)).not.toContainEqual(
      expect.stringMatching(/^When \| Component and image/),
    );

    // #17 in the browser: 0.1.5 → 0.1.6, then back to 0.1.5 from the image
    // history row, held there, and released.
    const runs = (tag: string) =>
      waitUntil(
        `release-server to run ${tag}`,
        async () => {
          const d = JSON.parse(
            await cluster.kubectl([
              'get',
              'deployment',
              'release-server',
              '-o',
              'json',
            ]),
          );
          return d.spec.template.spec.containers[0].image ===
            `${releaseImage}:${tag}`
            ? d
            : undefined;
        },
        () =>
          cluster.kubectl(['get', 'deployments,applications', '-o', 'wide']),
        180_000,
      );
    await runs('0.1.5');
    await pushImage(registry, RELEASE_REPO, '0.1.6');
    await open(
      page,
      `${backend.url}/catalog/default/component/release/gitops`,
      'Application default/release',
    );
    await page
      .getByRole('button', { name: 'Sync default/release now' })
      .click();
    const update = historyRow(page, '0.1.5 → 0.1.6');
    await update.waitFor({ timeout: 120_000 });
    await runs('0.1.6');
    const commits = (await git.log('release')).length;
    await update
      .getByRole('button', { name: 'Roll back release to 0.1.5' })
      .click();
    const rollback = page.getByRole('dialog', {
      name: 'Roll release back to 0.1.5?',
    });
    await rollback.getByLabel(/Reason/).fill('0.1.6 breaks the login');
    await rollback.getByRole('button', { name: 'Roll back' }).click();
    await page
      .getByRole('status')
      .getByText('Rolling release back to 0.1.5')
      .waitFor();
    // The hold in the tab's header: which tag, who, why.
    const banner = page
      .getByRole('alert')
      .filter({ hasText: 'Image automation of release is held at 0.1.5' });
    await banner.waitFor();
    expect(await banner.innerText()).toMatch(
      /Rolled back by user:default\/alice .*: 0\.1\.6 breaks the login\./,
    );
    await runs('0.1.5');
    // One bot commit, naming who asked.
    const log = await git.log('release');
    expect(log).toHaveLength(commits + 1);
    expect(log[0].message).toContain('Requested-by: user:default/alice');
    await historyRow(page, '0.1.6 → 0.1.5')
      .getByText('rollback by user:default/alice: 0.1.6 breaks the login')
      .waitFor();
    await page
      .getByRole('row')
      .filter({ has: page.getByText('roll back image', { exact: true }) })
      .getByText('user:default/alice', { exact: true })
      .waitFor();
    // A scan while held records what the policy would pick, and commits nothing.
    await page
      .getByRole('button', { name: 'Sync default/release now' })
      .click();
    await banner
      .filter({ hasText: 'The policy would pick 0.1.6 now' })
      .waitFor({ timeout: 120_000 });
    expect(await git.log('release')).toHaveLength(commits + 1);
    await runs('0.1.5');
    await page.screenshot({
      path: path.join(ARTIFACTS, 'gitops-tab-hold.png'),
      fullPage: true,
    });
    // Release: automation picks the newest tag again.
    await banner
      .getByRole('button', { name: 'Release the hold on release' })
      .click();
    const release = page.getByRole('dialog', {
      name: 'Release the hold on release?',
    });
    await release.getByRole('button', { name: 'Release hold' }).click();
    await banner.waitFor({ state: 'hidden', timeout: 120_000 });
    await runs('0.1.6');

    // The applications page lists every Application, like `vela ls`,
    // linked to the catalog, and fits 1280 px.
    await open(page, `${backend.url}/gitops`, 'default/first-vela-workflow');
    const listed = page.getByRole('row', { name: /default\/git-app/ });
    expect(
      await listed.getByRole('link', { name: /git-app/ }).getAttribute('href'),
    ).toBe('/catalog/default/component/git-app');
    await page.screenshot({
      path: path.join(ARTIFACTS, 'gitops-applications.png'),
      fullPage: true,
    });
    expect(await brokenWords(page)).toEqual([]);
    expect(await overflowingTables(page)).toEqual([]);

    // Alice may roll back too: past the policy, the workflow answers (no such
    // revision, so nothing changes).
    const alice = await signIn(backend);
    expect(alice.userEntityRef).toBe(ALICE.userEntityRef);
    expect(
      (
        await alice.post('/applications/default/git-app/rollback', {
          revision: 999,
        })
      ).status,
    ).toBe(404);

    // A guest who does not own the entity may look, not act: the API says 403
    // and the tab shows each action disabled, with the reason. One backend at
    // a time reconciles the cluster and the repo.
    await backend.stop();
    const notOwner = await start('not-owner', {}, GUEST);
    await open(
      page,
      `${notOwner.url}/catalog/default/component/git-app/gitops`,
      'Application default/git-app',
    );
    await page
      .getByText(
        'You are not allowed to sync default/git-app (permission gitops.application.sync on component:default/git-app). Ask an owner of component:default/git-app or an administrator.',
      )
      .waitFor();
    await page
      .getByText(
        /You are not allowed to suspend automation of default\/git-app \(permission gitops.application.suspend on component:default\/git-app\)/,
      )
      .waitFor();
    const guestSync = page.getByRole('button', {
      name: 'Sync default/git-app now',
    });
    const guestSuspend = page.getByRole('button', {
      name: 'Suspend automation of default/git-app',
    });
    expect(await guestSync.isDisabled()).toBe(true);
    expect(await guestSuspend.isDisabled()).toBe(true);
    // The tooltip on the disabled button says why.
    await guestSync.locator('xpath=..').hover();
    await page
      .getByRole('tooltip')
      .getByText(
        /permission gitops.application.sync on component:default\/git-app/,
      )
      .waitFor();
    await page.screenshot({
      path: path.join(ARTIFACTS, 'gitops-tab-not-owner.png'),
      fullPage: true,
    });
    const guest = await signIn(notOwner);
    expect(guest.userEntityRef).toBe('user:development/guest');
    for (const [route, permission] of [
      ['sync', 'gitops.application.sync'],
      ['rollback', 'gitops.application.rollback'],
      ['suspend', 'gitops.application.suspend'],
      ['resume', 'gitops.application.suspend'],
    ]) {
      expect(
        await guest.post(`/applications/default/git-app/${route}`, {
          revision: 999,
        }),
      ).toEqual({
        status: 403,
        message: `Missing permission ${permission} on component:default/git-app`,
      });
    }
    // Reading stays open to everyone.
    expect(await guest.get('/applications/default/git-app')).toBe(200);

    // Alice again, with gitops.application.sync in permission.denyPermissions:
    // the deny list wins over ownership, the other actions stay hers.
    await notOwner.stop();
    const denied = await start(
      'denied',
      {
        permission: {
          enabled: true,
          denyPermissions: ['gitops.application.sync'],
        },
      },
      ALICE,
    );
    await open(
      page,
      `${denied.url}/catalog/default/component/git-app/gitops`,
      'Application default/git-app',
    );
    const deniedSync = page.getByRole('button', {
      name: 'Sync default/git-app now',
    });
    await page
      .getByText(
        /You are not allowed to sync default\/git-app \(permission gitops.application.sync on component:default\/git-app\)/,
      )
      .waitFor();
    expect(await deniedSync.isDisabled()).toBe(true);
    await waitUntil(
      'Suspend automation to be enabled for the owner',
      async () =>
        (await page
          .getByRole('button', {
            name: 'Suspend automation of default/git-app',
          })
          .isEnabled())
          ? true
          : undefined,
    );
    await page.screenshot({
      path: path.join(ARTIFACTS, 'gitops-tab-denied.png'),
      fullPage: true,
    });
    unfinished.delete('tab');
  }, 900_000);
  it('shows a canary in progress; Promote works for an owner and is disabled, with the reason, for others', async () => {
    unfinished.add('canary');
    await installCrd(cluster);
    // kwok runs no containers: the image need not exist.
    const image = `${registry.host}/canary-web`;
    const applyVersion = (tag: string) =>
      cluster.kubectl(['apply', '-f', '-'], {
        input: JSON.stringify(canaryApp(`${image}:${tag}`)),
      });
    const kubeGet = async (kind: string, name: string) => {
      const found = await cluster
        .kubectl(['get', kind, name, '-o', 'json'])
        .catch(() => undefined);
      return found ? JSON.parse(found) : undefined;
    };
    /** The live pod template image of a Deployment, and the canary Ingress' weight. */
    const live = async () => ({
      stable: (await kubeGet('deployment', 'canary-web'))?.spec.template.spec
        .containers[0].image,
      canary: (await kubeGet('deployment', 'canary-web-canary'))?.spec.template
        .spec.containers[0].image,
      weight: (await kubeGet('ingress', 'canary-web-canary'))?.metadata
        .annotations['nginx.ingress.kubernetes.io/canary-weight'],
    });
    const cardOf = (page: Page) =>
      page.getByRole('region', { name: 'Rollout of canary-web on local' });
    const promote = (page: Page) =>
      cardOf(page).getByRole('button', {
        name: 'Promote the rollout of canary-web on local',
      });
    const waitingAtHalf = async (page: Page) => {
      await cardOf(page)
        .getByText('step 1 of 2 at 50% of traffic on the canary')
        .waitFor({ timeout: 120_000 });
      await cardOf(page)
        .getByText('waiting for someone to promote or abort the canary')
        .waitFor();
    };
    /** Applies `tag` once the backend runs `stable` as its stable version. */
    const rollOut = async (page: Page, stable: string, tag: string) => {
      await cardOf(page)
        .getByText('healthy: the new version is stable')
        .waitFor({ timeout: 120_000 });
      await waitUntil(
        `canary-web to run ${stable}`,
        async () =>
          (await live()).stable === `${image}:${stable}` ? true : undefined,
        async () => JSON.stringify(await live()),
        120_000,
      );
      await applyVersion(tag);
      await waitingAtHalf(page);
      // The cluster agrees: the canary runs the new version and takes half the traffic.
      await waitUntil(
        `the canary of ${tag} at 50%`,
        async () => {
          const now = await live();
          return now.canary === `${image}:${tag}` &&
            now.weight === '50' &&
            now.stable === `${image}:${stable}`
            ? true
            : undefined;
        },
        async () => JSON.stringify(await live()),
        120_000,
      );
    };

    await applyVersion('1.0.0');
    const owner = await start('rollouts', {}, ALICE);
    const page = await browserPage();
    await open(
      page,
      `${owner.url}/catalog/default/component/canary-web/gitops`,
      'Application default/canary-web',
    );
    await rollOut(page, '1.0.0', '1.0.1');
    await page.screenshot({
      path: path.join(ARTIFACTS, 'gitops-tab-canary.png'),
      fullPage: true,
    });

    // Alice owns the entity: she promotes, with a reason.
    await promote(page).click();
    const dialog = page.getByRole('dialog', {
      name: 'Promote the rollout of canary-web on local?',
    });
    await dialog.getByLabel(/Reason/).fill('the canary looks good');
    await dialog.getByRole('button', { name: 'Promote' }).click();
    await cardOf(page)
      .getByRole('status')
      .getByText('Promoted the rollout of canary-web on local')
      .waitFor();
    await cardOf(page)
      .getByText('healthy: the new version is stable')
      .waitFor({ timeout: 120_000 });
    await waitUntil(
      'the stable Deployment to run 1.0.1 with all the traffic',
      async () => {
        const now = await live();
        return now.stable === `${image}:1.0.1` && now.weight === '0'
          ? true
          : undefined;
      },
      async () => JSON.stringify(await live()),
      120_000,
    );
    await page
      .getByRole('row')
      .filter({ has: page.getByText('promote rollout', { exact: true }) })
      .filter({ hasText: 'the canary looks good' })
      .getByText('user:default/alice', { exact: true })
      .waitFor();

    // A guest who owns nothing sees the next canary, and may not decide:
    // both actions disabled with the reason, and the API says 403.
    const guestBackend = await start('rollouts-guest', {}, GUEST);
    await open(
      page,
      `${guestBackend.url}/catalog/default/component/canary-web/gitops`,
      'Application default/canary-web',
    );
    await rollOut(page, '1.0.1', '1.0.2');
    // Below the card's actions, and on hover over each.
    await page
      .getByText(
        'You are not allowed to promote or abort rollouts of default/canary-web (permission gitops.rollout.decide on component:default/canary-web). Ask an owner of component:default/canary-web or an administrator.',
      )
      .waitFor();
    expect(await promote(page).isDisabled()).toBe(true);
    expect(
      await cardOf(page)
        .getByRole('button', {
          name: 'Abort the rollout of canary-web on local',
        })
        .isDisabled(),
    ).toBe(true);
    await page.screenshot({
      path: path.join(ARTIFACTS, 'gitops-tab-canary-not-owner.png'),
      fullPage: true,
    });
    const guest = await signIn(guestBackend);
    for (const decision of ['promote', 'abort']) {
      expect(
        await guest.post(
          `/applications/default/canary-web/rollouts/canary-web/${decision}`,
        ),
      ).toEqual({
        status: 403,
        message:
          'Missing permission gitops.rollout.decide on component:default/canary-web',
      });
    }
    // Nothing changed: the canary still waits at half the traffic.
    await waitingAtHalf(page);
    expect(await live()).toEqual({
      stable: `${image}:1.0.1`,
      canary: `${image}:1.0.2`,
      weight: '50',
    });
    unfinished.delete('canary');
  }, 600_000);
  it('a terraform component with approve: manual waits in the tab with its plan until an owner approves it', async () => {
    unfinished.add('cloud');
    await installCrd(cluster);
    const password = crypto.randomBytes(12).toString('hex');
    await cluster.kubectl([
      'create',
      'secret',
      'generic',
      'orders-input',
      `--from-literal=password=${password}`,
    ]);
    await cluster.kubectl(['apply', '-f', '-'], {
      input: JSON.stringify(ordersApp()),
    });
    const owner = await start(
      'cloud',
      {
        gitops: {
          tofuPath: tofuBinary(),
          // Only a project that allows them may have terraform components.
          projects: [
            {
              name: 'data',
              applications: { namespaces: ['default'] },
              destinations: [{ cluster: 'local', namespace: 'default' }],
              terraform: true,
            },
          ],
        },
      },
      ALICE,
    );
    const page = await browserPage();
    await open(
      page,
      `${owner.url}/catalog/default/component/orders/gitops`,
      'Application default/orders',
    );
    const card = page.getByRole('region', {
      name: 'Cloud resource orders-db',
    });
    await card
      .getByText(
        'waiting for approval: the plan is applied once someone approves it',
      )
      .waitFor({ timeout: 180_000 });
    await card.getByText('+1 ~0 −0', { exact: true }).waitFor();
    const secret = () =>
      cluster
        .kubectl(['get', 'secret', 'orders-db-conn', '-o', 'json'])
        .then(out => JSON.parse(out) as { data: Record<string, string> })
        .catch(() => undefined);
    // Nothing is applied before the approval.
    expect(await secret()).toBeUndefined();
    await page.screenshot({
      path: path.join(ARTIFACTS, 'gitops-tab-cloud-waiting.png'),
      fullPage: true,
    });

    await card
      .getByRole('button', { name: 'Approve the plan of orders-db' })
      .click();
    const dialog = page.getByRole('dialog', {
      name: 'Approve the plan of orders-db?',
    });
    await dialog
      .getByText(
        'OpenTofu applies the plan: 1 to add, 0 to change, 0 to destroy.',
      )
      .waitFor();
    await dialog.getByLabel(/Reason/).fill('one database, as planned');
    await dialog.getByRole('button', { name: 'Approve' }).click();
    await card
      .getByRole('status')
      .getByText('Approved the plan of orders-db')
      .waitFor();
    await card
      .getByText('ready: applied, outputs written')
      .waitFor({ timeout: 180_000 });
    // Outputs by name; the sensitive one's value reaches the Secret, never the page.
    await card.getByText('orders-db-conn', { exact: true }).waitFor();
    expect(await card.getByRole('listitem').allInnerTexts()).toEqual([
      'database: orders',
      'password: sensitive',
    ]);
    const written = await waitUntil('the connection Secret', secret);
    expect(Buffer.from(written.data.password, 'base64').toString()).toBe(
      password,
    );
    expect(await page.content()).not.toContain(password);
    await page
      .getByRole('row')
      .filter({ has: page.getByText('approve cloud plan', { exact: true }) })
      .filter({ hasText: 'one database, as planned' })
      .getByText('user:default/alice', { exact: true })
      .waitFor();
    await page.screenshot({
      path: path.join(ARTIFACTS, 'gitops-tab-cloud-ready.png'),
      fullPage: true,
    });
    unfinished.delete('cloud');
  }, 600_000);
});
