/*
 * `./run start`: the seed's story on this machine. Starts and seeds the demo
 * stack (./stack.ts), points Backstage at it through app-config.local.yaml,
 * runs `yarn start`, and prints where to look and what to try. Ctrl-C stops
 * Backstage, then every server. `yarn demo:release` finds this process
 * through the state file written here.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { AddressInfo } from 'node:net';
import path from 'node:path';
import {
  k8sBinaries,
  MissingToolError,
  nodeBinaries,
  realNodeHolder,
  realNodeUnsupported,
  reapOrphans,
} from '../infra';
import { repoRoot } from '../infra/process';
import {
  Backstage,
  demoGitopsConfig,
  startBackstage,
  writeConfigFile,
} from './backstage';
import {
  DemoState,
  demoStateFile,
  isDemoRunning,
  readDemoState,
} from './state';
import { BRANCH, REPO, startDemoStack } from './stack';

const BACKEND = 'http://localhost:7007';
const FRONTEND = 'http://localhost:3000';
const LOCAL_CONFIG = path.join(repoRoot(), 'app-config.local.yaml');
const LOCAL_CONFIG_HEADER =
  'Written by ./run start for the servers it runs; removed when it stops.';
const say = (line: string) => process.stderr.write(`demo: ${line}\n`);
let stopEverything: (() => Promise<void>) | undefined;
/** A problem the person can fix, said in one line without a stack. */
class DemoError extends Error {}

async function main() {
  const running = readDemoState();
  if (running && isDemoRunning(running)) {
    throw new DemoError(
      `a demo is already running (pid ${running.pid}); stop it with Ctrl-C in its terminal first`,
    );
  }
  if (
    fs.existsSync(LOCAL_CONFIG) &&
    !fs
      .readFileSync(LOCAL_CONFIG, 'utf8')
      .startsWith(`# ${LOCAL_CONFIG_HEADER}`)
  ) {
    throw new DemoError(
      `${LOCAL_CONFIG} is yours, not the demo's: move it aside, the demo writes its own`,
    );
  }
  for (const what of reapOrphans()) say(`cleaned up ${what} of an earlier run`);

  const noRealNode = whyNoRealNode();
  if (noRealNode) {
    say(
      `no real node: ${noRealNode}; kwok simulates the node (containers do not run, no curl)`,
    );
  }

  const startedAt = Date.now();
  // Registry notifications make a pushed tag a bot commit within seconds instead of at the next minute's poll.
  const webhookSecret = crypto.randomBytes(24).toString('hex');
  say('starting a cluster, a registry and a Git server, and seeding them');
  const stack = await startDemoStack({
    nodes: noRealNode ? 'kwok' : 'real',
    notifications: {
      url: 'http://127.0.0.1:7007/api/gitops/webhooks/registry',
      secret: webhookSecret,
    },
    log: say,
  });

  // Set once Backstage starts; Ctrl-C may come before.
  const started: { backstage?: Backstage } = {};
  let stopping: Promise<void> | undefined;
  const token = crypto.randomBytes(24).toString('hex');
  // What `yarn demo:release` asks of the servers only this process holds.
  const control = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const version = url.searchParams.get('version');
    const answer = (work: Promise<unknown>) =>
      work.then(
        body => res.writeHead(200).end(JSON.stringify(body ?? {})),
        e => res.writeHead(500).end((e as Error).message),
      );
    if (
      req.method !== 'POST' ||
      req.headers.authorization !== `Bearer ${token}`
    ) {
      res.writeHead(404).end();
    } else if (url.pathname === '/release' && version) {
      say(`release ${version} asked for`);
      answer(stack.release(version));
    } else if (url.pathname === '/settled') {
      answer(stack.settled());
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>(r => control.listen(0, '127.0.0.1', r));

  const stopAll = () => {
    stopping ??= (async () => {
      say('stopping Backstage and the servers');
      await started.backstage?.stop();
      control.close();
      await stack.stop();
      fs.rmSync(demoStateFile(), { force: true });
      // Its cluster is gone: a plain `yarn start` must not pick it up.
      fs.rmSync(LOCAL_CONFIG, { force: true });
      say('stopped');
    })();
    return stopping;
  };
  stopEverything = stopAll;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      stopAll().then(() => process.exit(0));
    });
  }

  writeConfigFile(LOCAL_CONFIG, LOCAL_CONFIG_HEADER, {
    gitops: demoGitopsConfig(stack, webhookSecret),
  });
  const state: DemoState = {
    pid: process.pid,
    controlUrl: `http://127.0.0.1:${(control.address() as AddressInfo).port}`,
    token,
    kubeconfig: stack.cluster.kubeconfigPath,
    kubectl: k8sBinaries().kubectl,
    gitUrl: stack.git.repoUrl(REPO),
    gitRoot: stack.git.root,
    image: stack.image,
    ingress: stack.ingress,
  };
  fs.mkdirSync(path.dirname(demoStateFile()), { recursive: true });
  fs.writeFileSync(demoStateFile(), JSON.stringify(state, null, 2), {
    mode: 0o600,
  });
  say(
    `servers seeded in ${((Date.now() - startedAt) / 1000).toFixed(
      1,
    )} s; starting Backstage`,
  );

  const backstage = startBackstage({
    configFiles: ['app-config.yaml', LOCAL_CONFIG],
    frontendUrl: FRONTEND,
    backendUrl: BACKEND,
    stdio: 'inherit',
  });
  started.backstage = backstage;
  backstage.process.once('exit', code => {
    if (stopping) return;
    say(`Backstage exited (${code})`);
    stopAll().then(() => process.exit(code ?? 1));
  });
  await backstage.ready({
    abort: () => (stopping ? new Error('stopping') : undefined),
  });
  say('Backstage is up; waiting for git-app to apply first-vela-workflow');
  await stack.settled(5 * 60_000);
  const entity = (name: string) =>
    `${FRONTEND}/catalog/default/component/${name}/gitops`;
  process.stderr.write(`
================================================================
 The seed's GitOps demo is up (${((Date.now() - startedAt) / 1000).toFixed(
   0,
 )} s)

   git-app              ${entity('git-app')}
   first-vela-workflow  ${entity('first-vela-workflow')}

 Git repository  ${state.gitUrl} (branch ${BRANCH})
 Image           ${stack.image}:${stack.initial.tag} (Version 0.1.5)
${
  stack.ingress
    ? `
 The seed's last step, through its Ingress (Traefik on a real node):
   ${stack.ingress.curl}
`
    : ''
}
 Try next, in another terminal:
   ./run yarn demo:release 0.1.6     commit Version 0.1.6; the CI pushes its image,
                                     the bot commits it and the Deployment rolls out
   ./run yarn gitops ls --kubeconfig ${state.kubeconfig}
   ${state.kubectl} --kubeconfig ${
    state.kubeconfig
  } get deployment test-server -o wide

 Ctrl-C stops Backstage and every server.
================================================================
`);
}

/** Why this machine cannot run a real node now, in one line; undefined when it can. */
function whyNoRealNode(): string | undefined {
  const unsupported = realNodeUnsupported();
  if (unsupported) return unsupported;
  const holder = realNodeHolder();
  if (holder) {
    return `this machine's real node is in use by pid ${holder} (one at a time)`;
  }
  try {
    nodeBinaries();
  } catch (e) {
    return (e as Error).message;
  }
  return undefined;
}

main().catch(async e => {
  process.stderr.write(
    e instanceof MissingToolError || e instanceof DemoError
      ? `demo: ${e.message}\n`
      : `demo: ${(e as Error).stack ?? e}\n`,
  );
  await stopEverything?.();
  process.exit(1);
});
