/*
 * `yarn infra up [--clusters N] [--no-postgres]`: starts the real servers
 * (N Kubernetes clusters, registry, Git server, PostgreSQL), prints how to
 * reach them as KEY=value lines (also written to <state dir>/infra.env), and
 * stays up until Ctrl-C / SIGTERM, which stops everything.
 * `yarn infra down`: stops a running `infra up` and cleans up whatever a dead
 * run left behind (processes and temp dirs recorded in the state dir).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { k8sBinaries } from './binaries';
import { Cluster, startCluster } from './cluster';
import { GitServer, startGitServer } from './git-server';
import { Postgres, startPostgres } from './postgres';
import {
  MissingToolError,
  reapOrphans,
  repoRoot,
  sleep,
  stateDir,
} from './process';
import { Registry, startRegistry } from './registry';

const upMarker = (pid: number) => path.join(stateDir(), `up-${pid}.pid`);
const envFile = () => path.join(stateDir(), 'infra.env');

function usage(): never {
  process.stderr.write(
    'usage: yarn infra up [--clusters N] [--no-postgres] | yarn infra down\n',
  );
  process.exit(2);
}

async function up(args: string[]): Promise<void> {
  let clusters = 1;
  let postgres = true;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--clusters') clusters = Number(args[++i]);
    else if (args[i].startsWith('--clusters='))
      clusters = Number(args[i].split('=')[1]);
    else if (args[i] === '--no-postgres') postgres = false;
    else usage();
  }
  if (!Number.isInteger(clusters) || clusters < 0) usage();

  execFileSync(
    'bash',
    [path.join(repoRoot(), 'scripts', 'ensure-system-deps.sh')],
    {
      stdio: 'inherit',
    },
  );
  const bins = k8sBinaries();

  const started = Date.now();
  const stoppers: Array<() => Promise<void>> = [];
  let stopping: Promise<void> | undefined;
  const stopAll = () => {
    stopping ??= (async () => {
      await Promise.allSettled(stoppers.map(stop => stop()));
      fs.rmSync(upMarker(process.pid), { force: true });
      fs.rmSync(envFile(), { force: true });
    })();
    return stopping;
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      process.stderr.write(`infra: ${signal}, stopping everything\n`);
      stopAll().then(() => process.exit(0));
    });
  }
  fs.mkdirSync(stateDir(), { recursive: true });
  fs.writeFileSync(upMarker(process.pid), String(process.pid));

  const track = <T extends { stop(): Promise<void> }>(
    p: Promise<T>,
  ): Promise<T> =>
    p.then(server => {
      stoppers.push(() => server.stop());
      return server;
    });
  let servers: [Cluster[], Registry, GitServer, Postgres | undefined];
  try {
    servers = await Promise.all([
      Promise.all(
        Array.from({ length: clusters }, (_, i) =>
          track(startCluster({ name: `gitops-${i + 1}` })),
        ),
      ),
      track(startRegistry()),
      track(startGitServer()),
      postgres ? track(startPostgres()) : Promise.resolve(undefined),
    ]);
  } catch (e) {
    await stopAll();
    throw e;
  }
  const [clusterList, registry, git, pg] = servers;

  const lines: Array<[string, string | number]> = [
    ['GITOPS_KUBECTL', bins.kubectl],
    ['GITOPS_KUSTOMIZE', bins.kustomize],
  ];
  clusterList.forEach((c, i) => {
    const n = i + 1;
    if (n === 1) lines.push(['KUBECONFIG', c.kubeconfigPath]);
    lines.push(
      [`GITOPS_CLUSTER_${n}_NAME`, c.name],
      [`GITOPS_CLUSTER_${n}_SERVER`, c.server],
      [`GITOPS_CLUSTER_${n}_KUBECONFIG`, c.kubeconfigPath],
      [`GITOPS_CLUSTER_${n}_TOKEN`, c.token],
      [`GITOPS_CLUSTER_${n}_CA_FILE`, c.caFile],
    );
  });
  lines.push(
    ['GITOPS_REGISTRY_URL', registry.url],
    ['GITOPS_REGISTRY_HOST', registry.host],
    ['GITOPS_REGISTRY_USERNAME', registry.username],
    ['GITOPS_REGISTRY_PASSWORD', registry.password],
    ['GITOPS_GIT_URL', git.url],
    ['GITOPS_GIT_ROOT', git.root],
    ['GITOPS_GIT_USERNAME', git.username],
    ['GITOPS_GIT_PASSWORD', git.password],
  );
  if (pg) {
    lines.push(
      ['GITOPS_POSTGRES_HOST', pg.connection.host],
      ['GITOPS_POSTGRES_PORT', pg.connection.port],
      ['GITOPS_POSTGRES_USER', pg.connection.user],
      ['GITOPS_POSTGRES_PASSWORD', pg.connection.password],
      ['GITOPS_POSTGRES_DATABASE', pg.connection.database],
    );
  }
  const text = lines.map(([k, v]) => `${k}=${v}`).join('\n');
  fs.writeFileSync(envFile(), `${text}\n`, { mode: 0o600 });
  process.stdout.write(`${text}\n`);
  process.stderr.write(
    `infra: up in ${((Date.now() - started) / 1000).toFixed(1)}s; ` +
      `these lines are also in ${envFile()}; Ctrl-C or \`yarn infra down\` stops everything\n`,
  );
  // Servers are child processes and an HTTP listener: the event loop stays alive.
}

function isInfraUp(pid: number): boolean {
  try {
    return fs
      .readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      .includes('infra/cli');
  } catch {
    return false;
  }
}

async function down(): Promise<void> {
  let markers: string[] = [];
  try {
    markers = fs.readdirSync(stateDir()).filter(f => /^up-\d+\.pid$/.test(f));
  } catch {
    // nothing was ever started
  }
  for (const marker of markers) {
    const pid = Number(marker.slice(3, -4));
    if (isInfraUp(pid)) {
      process.kill(pid, 'SIGTERM');
      const deadline = Date.now() + 20_000;
      while (isInfraUp(pid) && Date.now() < deadline) await sleep(100);
      if (isInfraUp(pid)) process.kill(pid, 'SIGKILL');
      process.stderr.write(`infra: stopped infra up (pid ${pid})\n`);
    }
    fs.rmSync(path.join(stateDir(), marker), { force: true });
  }
  const cleaned = reapOrphans();
  for (const what of cleaned)
    process.stderr.write(`infra: cleaned up ${what}\n`);
  fs.rmSync(envFile(), { force: true });
  if (markers.length === 0 && cleaned.length === 0)
    process.stderr.write('infra: nothing to stop\n');
}

async function main() {
  const [command, ...args] = process.argv.slice(2);
  if (command === 'up') await up(args);
  else if (command === 'down') await down();
  else usage();
}

main().catch(e => {
  process.stderr.write(
    e instanceof MissingToolError
      ? `infra: ${e.message}\n`
      : `infra: ${e.stack ?? e}\n`,
  );
  process.exit(1);
});
