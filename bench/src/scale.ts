/*
 * Scale benchmark (issue #22): N Applications (webservice + ingress, one
 * replica) created with `kubectl apply --server-side` on a kwok cluster and delivered by the real
 * backend, 1 or 2 replicas as processes of their own on one PostgreSQL, with
 * the defaults a user has (ticks, shards, concurrency, client rate limit).
 *
 * Reports our converge time against the floor measured in the same run:
 * `kubectl apply --server-side` of the same rendered objects (read back from
 * the cluster, renamed into a namespace of their own) until every Deployment
 * is Available. Beside it: the backend's CPU and memory, the API requests it
 * made by verb and resource (from the API server's audit log) during
 * converge and per minute in steady state, and how long a changed image
 * takes to report `running`.
 *
 *   yarn workspace @gitops-workflow/bench bench:scale --apps N [--replicas 1|2] [--kcm-qps Q]
 *     [--batch 100]           Applications per `kubectl apply` (the floor's batches hold theirs)
 *     [--steady-seconds 120]  how long steady state is measured after converge
 *     [--changes 3]           changed images timed one after another (the median is reported)
 *     [--timeout-seconds 1200]
 *
 * --kcm-qps sets kube-controller-manager's --kube-api-qps (and twice it as
 * --kube-api-burst); without it, its defaults 20/30 cap rollouts at about
 * 5 Deployments a second, for us and the floor alike.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import {
  Informer,
  KubeClient,
  LABEL_APP_NAME,
  type CacheEvent,
  type KubeObject,
} from '@gitops-workflow/plugin-gitops-node';
import {
  installCrd,
  startReplica,
  webserviceApp,
} from '@gitops-workflow/test/src/backend/support';
import {
  startCluster,
  startPostgres,
  type AuditEvent,
  type Cluster,
} from '@gitops-workflow/test/src/infra';
import {
  makeTempDir,
  ServiceHandle,
  type ManagedProcess,
} from '@gitops-workflow/test/src/infra/process';

/** The static-token user the backend connects as: only its requests are audited. */
const BACKEND_USER = 'gitops-backend';
const NAMESPACE = 'default';
const FLOOR_NAMESPACE = 'bench-floor';
const IMAGE = 'registry.local/hello';
/** The kinds a webservice + ingress Application renders, as the audit log names them. */
const RENDERED = ['deployments', 'services', 'ingresses'];
const DEPLOYMENT = { group: 'apps', version: 'v1', kind: 'Deployment' };
const RENDERED_KINDS = [
  DEPLOYMENT,
  { group: '', version: 'v1', kind: 'Service' },
  { group: 'networking.k8s.io', version: 'v1', kind: 'Ingress' },
];
const APPLICATION = {
  group: 'core.oam.dev',
  version: 'v1beta1',
  kind: 'Application',
};
/** Pods one kwok node takes (it offers 250: room for surges). */
const PODS_PER_NODE = 200;

function flag(name: string, fallback?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

function intFlag(name: string, fallback: number): number {
  const value = Number(flag(name, String(fallback)));
  if (!Number.isInteger(value) || value < 0) {
    throw new Error(`--${name} takes a whole number, got ${flag(name)}`);
  }
  return value;
}

const appName = (i: number) => `app-${String(i).padStart(4, '0')}`;
const seconds = (ms: number) => ms / 1000;
const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** Everything started, stopped in reverse order once: at the end, on an error, or on Ctrl-C. */
class Teardown {
  private readonly steps: Array<() => Promise<void>> = [];
  private done?: Promise<void>;

  add<T>(started: T, stop: (started: T) => Promise<void>): T {
    this.steps.push(() => stop(started));
    return started;
  }

  run(): Promise<void> {
    this.done ??= (async () => {
      for (const step of this.steps.reverse()) {
        await step().catch(error =>
          process.stderr.write(`bench scale: stopping: ${error}\n`),
        );
      }
    })();
    return this.done;
  }
}

/** CPU seconds (own and waited-for children) and memory of one process, from /proc. */
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString());

function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (in parentheses, may hold spaces): utime is the 14th of the line.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const [utime, stime, cutime, cstime] = fields.slice(11, 15).map(Number);
  return (utime + stime + cutime + cstime) / CLOCK_TICKS;
}

function memoryMiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = Number(
    new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1],
  );
  return kib / 1024;
}

/** Lets VmHWM report the peak from now on rather than the start-up's. */
function resetPeakMemory(pid: number): void {
  fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
}

/** The machine's busy jiffies and all jiffies, to tell how many cores were busy over a span. */
function machineJiffies(): { busy: number; total: number } {
  const cpu = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const values = cpu.split(/\s+/).slice(1).map(Number);
  const total = values.reduce((a, b) => a + b, 0);
  // idle and iowait
  return { busy: total - values[3] - values[4], total };
}

/** The control plane's processes (their command lines name the cluster's dir), by program. */
function controlPlanePids(cluster: Cluster): Map<string, number> {
  const pids = new Map<string, number>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = fs
        .readFileSync(`/proc/${entry}/cmdline`, 'utf8')
        .split('\0');
      const program = argv[0].split('/').pop()!;
      // kubectl comes and goes; the bench counts its own (its children).
      if (program !== 'kubectl' && argv.some(a => a.includes(cluster.dir))) {
        pids.set(program, Number(entry));
      }
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** CPU seconds per process over spans of the run. */
class CpuMeter {
  constructor(private readonly processes: Map<string, number[]>) {}

  read(): {
    byProcess: Record<string, number>;
    machine: ReturnType<typeof machineJiffies>;
  } {
    const byProcess: Record<string, number> = {};
    for (const [name, pids] of this.processes) {
      byProcess[name] = pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
    }
    return { byProcess, machine: machineJiffies() };
  }

  static since(
    before: ReturnType<CpuMeter['read']>,
    after: ReturnType<CpuMeter['read']>,
  ) {
    const byProcess = Object.fromEntries(
      Object.entries(after.byProcess).map(([name, s]) => [
        name,
        s - before.byProcess[name],
      ]),
    );
    const busyCores =
      ((after.machine.busy - before.machine.busy) /
        (after.machine.total - before.machine.total)) *
      os.cpus().length;
    return { byProcess, busyCores };
  }
}

const status = (object: KubeObject | undefined) =>
  (object?.status ?? {}) as Record<string, any>;

/** Rolled out as kstatus says (with `image`: that image): every replica updated and available. */
function rolledOut(deployment: KubeObject | undefined, image?: string) {
  if (!deployment) return false;
  const spec = deployment.spec as Record<string, any>;
  const s = status(deployment);
  const replicas = spec.replicas ?? 1;
  return (
    (image === undefined ||
      spec.template?.spec?.containers?.[0]?.image === image) &&
    (s.observedGeneration ?? 0) >= (deployment.metadata.generation ?? 0) &&
    s.updatedReplicas === replicas &&
    s.availableReplicas === replicas &&
    (s.replicas ?? 0) === replicas &&
    (s.conditions ?? []).some(
      (c: any) => c.type === 'Available' && c.status === 'True',
    )
  );
}

/** Reports `running` for its current generation. */
function running(app: KubeObject | undefined): boolean {
  const s = status(app);
  return (
    !!app &&
    s.status === 'running' &&
    s.observedGeneration === app.metadata.generation
  );
}

/**
 * Resolves with the time `check` first holds, evaluated now and on every
 * change the informers see (so a state is noticed when it arrives, with no
 * polling); rejects after `timeoutMs` with `progress()`.
 */
function until(
  informers: Informer[],
  check: (event?: CacheEvent) => boolean,
  what: string,
  timeoutMs: number,
  progress: () => string,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const unsubscribe: Array<() => void> = [];
    let timer: NodeJS.Timeout | undefined = undefined;
    const finish = (outcome: () => void) => {
      clearTimeout(timer);
      unsubscribe.forEach(u => u());
      outcome();
    };
    timer = setTimeout(
      () =>
        finish(() =>
          reject(
            new Error(
              `${what} did not happen within ${seconds(
                timeoutMs,
              )} s: ${progress()}`,
            ),
          ),
        ),
      timeoutMs,
    );
    const evaluate = (event?: CacheEvent) => {
      if (check(event)) finish(() => resolve(Date.now()));
    };
    for (const informer of informers) {
      unsubscribe.push(informer.subscribe(evaluate));
    }
    evaluate();
  });
}

type Window = { start: number; end: number };

/** Requests per `verb resource` in a window: watches when they start, others when answered. */
function requestsIn(events: AuditEvent[], window: Window): Map<string, number> {
  const counts = new Map<string, number>();
  for (const event of events) {
    const counted =
      event.verb === 'watch'
        ? event.stage === 'ResponseStarted'
        : event.stage === 'ResponseComplete';
    const at = Date.parse(event.requestReceivedTimestamp);
    if (!counted || at < window.start || at > window.end) continue;
    const ref = event.objectRef;
    const resource = ref?.resource
      ? `${ref.resource}${ref.subresource ? `/${ref.subresource}` : ''}`
      : event.requestURI.split('?')[0];
    const verb =
      event.verb === 'patch' && /[?&]dryRun=All/.test(event.requestURI)
        ? 'patch (dry-run)'
        : event.verb;
    const key = `${verb} ${resource}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

const total = (counts: Map<string, number>) =>
  [...counts.values()].reduce((a, b) => a + b, 0);

/** GETs, LISTs and watch starts of the rendered kinds. */
const renderedReads = (counts: Map<string, number>) =>
  [...counts]
    .filter(([key]) => {
      const [verb, resource] = key.split(' ');
      return (
        ['get', 'list', 'watch'].includes(verb) && RENDERED.includes(resource)
      );
    })
    .reduce((sum, [, n]) => sum + n, 0);

/**
 * One of the backend's objects as a person would apply it with kubectl:
 * without what the server filled in, in the floor's namespace, its
 * `app.oam.dev/` labels renamed (same length) so the backend's caches, which
 * select on them, leave the floor alone.
 */
function floorObject(object: KubeObject): string {
  const { name, labels, annotations } = object.metadata;
  const { status: _status, ...rest } = object;
  const kept = { ...annotations };
  delete kept['deployment.kubernetes.io/revision'];
  const copy: KubeObject = {
    ...rest,
    metadata: { name, namespace: FLOOR_NAMESPACE, labels, annotations: kept },
  };
  if (object.kind === 'Service') {
    const {
      clusterIP: _ip,
      clusterIPs: _ips,
      ...spec
    } = object.spec as Record<string, unknown>;
    copy.spec = spec;
  }
  return JSON.stringify(copy).replace(/"app\.oam\.dev\//g, '"floor.bench/');
}

/** `---`-separated JSON documents, in batches of `size`, for `kubectl apply -f -`. */
function batches<T>(items: T[], size: number, text: (item: T) => string) {
  const out: string[] = [];
  for (let i = 0; i < items.length; i += size) {
    out.push(
      items
        .slice(i, i + size)
        .map(item => `---\n${text(item)}\n`)
        .join(''),
    );
  }
  return out;
}

async function main() {
  const apps = intFlag('apps', 100);
  const replicaCount = intFlag('replicas', 1);
  const kcmQps =
    flag('kcm-qps') === undefined ? undefined : intFlag('kcm-qps', 20);
  const batch = Math.max(1, intFlag('batch', 100));
  const steadyMs = intFlag('steady-seconds', 120) * 1000;
  const changes = intFlag('changes', 3);
  const timeoutMs = intFlag('timeout-seconds', 1200) * 1000;
  if (apps < 1 || apps > 9999) throw new Error('--apps takes 1 to 9999');
  if (replicaCount !== 1 && replicaCount !== 2) {
    throw new Error('--replicas takes 1 or 2');
  }
  if (changes > apps) throw new Error('--changes takes at most --apps');
  const kcmLimits =
    kcmQps === undefined
      ? '--kube-api-qps=20 --kube-api-burst=30 (its defaults)'
      : `--kube-api-qps=${kcmQps} --kube-api-burst=${2 * kcmQps}`;

  const teardown = new Teardown();
  const interrupted = (signal: NodeJS.Signals) => {
    process.stderr.write(`bench scale: ${signal}, stopping what it started\n`);
    teardown.run().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);

  try {
    const log = (line: string) =>
      process.stderr.write(`[${new Date().toISOString()}] ${line}\n`);
    log(
      `starting a cluster (kube-controller-manager ${kcmLimits}) and PostgreSQL`,
    );
    const [cluster, postgres] = await Promise.all([
      startCluster({
        name: 'bench-scale',
        // Ours and the floor's pods, with room for the surge of a rollout.
        kwokNodes: Math.ceil((2 * apps + changes) / PODS_PER_NODE),
        controllerManagerQps: kcmQps,
        auditUsers: [BACKEND_USER],
      }).then(c => teardown.add(c, s => s.stop())),
      startPostgres().then(p => teardown.add(p, s => s.stop())),
    ]);
    await installCrd(cluster);

    const handle = teardown.add(new ServiceHandle('bench-scale'), h =>
      h.stop(),
    );
    const dir = handle.addDir(await makeTempDir('bench-scale'));
    log(`starting ${replicaCount} backend replica(s)`);
    const replicas: ManagedProcess[] = await Promise.all(
      Array.from({ length: replicaCount }, (_, i) =>
        startReplica(handle, dir, `replica-${i}`, postgres.connection, {
          clusters: [
            {
              name: 'local',
              kubeconfig: cluster.userKubeconfigs[BACKEND_USER],
            },
          ],
        }),
      ),
    );
    const backendPids = replicas.map(r => r.pid);

    // The bench's own reads go as the admin, whom the audit log leaves out.
    const client = teardown.add(
      KubeClient.fromKubeconfigFile(cluster.kubeconfigPath, undefined, {
        qps: 0,
      }),
      async c => c.close(),
    );
    const informer = (kind: typeof DEPLOYMENT, namespace?: string) =>
      teardown.add(new Informer(client, { kind, namespace }).start(), i =>
        i.stop(),
      );
    const applications = informer(APPLICATION, NAMESPACE);
    const deployments = informer(DEPLOYMENT);
    for (const i of [applications, deployments]) {
      if (!(await i.waitForSync(60_000))) {
        throw new Error(`Could not list ${i.description}`);
      }
    }
    // Which Deployment is whose, and which are the floor's: kept from the
    // informer's events, so a check on each event costs no scan of them all.
    const deploymentNames = new Map<string, string>();
    const floorNames = new Set<string>();
    deployments.subscribe(({ type, object }) => {
      const { namespace, name, labels } = object.metadata;
      const owner = labels?.[LABEL_APP_NAME];
      if (type === 'DELETED') return;
      if (namespace === NAMESPACE && owner) deploymentNames.set(owner, name);
      if (namespace === FLOOR_NAMESPACE) floorNames.add(name);
    });
    const deploymentOf = (app: string) => {
      const name = deploymentNames.get(app);
      return name === undefined ? undefined : deployments.get(NAMESPACE, name);
    };

    // Idle: started, with nothing to do for a while.
    await new Promise(r => setTimeout(r, 15_000));
    const idleRssMiB = backendPids.reduce(
      (sum, pid) => sum + memoryMiB(pid, 'VmRSS'),
      0,
    );
    backendPids.forEach(resetPeakMemory);
    const controlPlane = controlPlanePids(cluster);
    const meter = new CpuMeter(
      new Map([
        ['backend', backendPids],
        // Its own CPU includes the kubectl processes it ran and waited for.
        ['bench and its kubectl', [process.pid]],
        ...[...controlPlane].map(
          ([name, pid]) => [name, [pid]] as [string, number[]],
        ),
      ]),
    );

    // Converge: from the first `kubectl apply` until every Application runs
    // its generation and its Deployment is rolled out.
    const names = Array.from({ length: apps }, (_, i) => appName(i));
    const done = new Set<string>();
    const evaluate = (name: string) => {
      if (
        running(applications.get(NAMESPACE, name)) &&
        rolledOut(deploymentOf(name))
      ) {
        done.add(name);
      } else done.delete(name);
    };
    let deploymentsCreatedAt: number | undefined;
    const cpuBefore = meter.read();
    const start = Date.now();
    log(`creating ${apps} Applications in batches of ${batch}`);
    const converged = until(
      [applications, deployments],
      event => {
        if (!event) names.forEach(evaluate);
        else if (event.object.metadata.namespace === NAMESPACE) {
          const name =
            event.object.kind === 'Application'
              ? event.object.metadata.name
              : event.object.metadata.labels?.[LABEL_APP_NAME];
          if (name) evaluate(name);
        }
        if (
          deploymentsCreatedAt === undefined &&
          deploymentNames.size >= apps
        ) {
          deploymentsCreatedAt = Date.now();
        }
        return done.size === apps;
      },
      `${apps} Applications converging`,
      timeoutMs,
      () => `${done.size} of ${apps} running and rolled out`,
    );
    for (const input of batches(names, batch, name =>
      JSON.stringify(webserviceApp(name)),
    )) {
      // Applied as the floor applies its objects: one request per object.
      await cluster.kubectl(
        ['apply', '--server-side', '--field-manager=bench', '-f', '-'],
        { input },
      );
    }
    const createdAt = Date.now();
    const convergedAt = await converged;
    const cpuConverge = CpuMeter.since(cpuBefore, meter.read());
    const peakRssMiB = backendPids.reduce(
      (sum, pid) => sum + memoryMiB(pid, 'VmHWM'),
      0,
    );
    log(
      `converged in ${seconds(
        convergedAt - start,
      )} s; steady state for ${seconds(steadyMs)} s`,
    );

    // Steady state: nothing changes; what does the backend still do?
    const steadyStart = Date.now();
    const cpuSteadyBefore = meter.read();
    await new Promise(r => setTimeout(r, steadyMs));
    const cpuSteady = CpuMeter.since(cpuSteadyBefore, meter.read());
    const steadyEnd = Date.now();

    // One change at a time: a new image in one Application's spec.
    const changeRuns: Array<{ latencyMs: number; afterRolloutMs: number }> = [];
    for (let i = 0; i < changes; i++) {
      const name = appName(i);
      const image = `${IMAGE}:1.0.${i + 1}`;
      const patchedAt = Date.now();
      const generation = Number(
        await cluster.kubectl([
          'patch',
          'application',
          name,
          '-n',
          NAMESPACE,
          '--type=json',
          `-p=${JSON.stringify([
            {
              op: 'replace',
              path: '/spec/components/0/properties/image',
              value: image,
            },
          ])}`,
          '-o=jsonpath={.metadata.generation}',
        ]),
      );
      let rolledOutAt: number | undefined;
      let reportedAt: number | undefined;
      const changed = await until(
        [applications, deployments],
        () => {
          const now = Date.now();
          if (
            rolledOutAt === undefined &&
            rolledOut(deploymentOf(name), image)
          ) {
            rolledOutAt = now;
          }
          const app = applications.get(NAMESPACE, name);
          if (
            reportedAt === undefined &&
            running(app) &&
            app!.metadata.generation === generation
          ) {
            reportedAt = now;
          }
          return rolledOutAt !== undefined && reportedAt !== undefined;
        },
        `${name} running ${image}`,
        timeoutMs,
        () =>
          `rolled out: ${
            rolledOutAt !== undefined
          }, running at generation ${generation}: ${reportedAt !== undefined}`,
      );
      changeRuns.push({
        latencyMs: changed - patchedAt,
        // Negative: it said `running` before the rollout was done.
        afterRolloutMs: reportedAt! - rolledOutAt!,
      });
    }

    // The floor: the same objects, applied by kubectl and rolled out by the
    // same controller-manager, while the backend idles beside them.
    const rendered = (
      await Promise.all(
        RENDERED_KINDS.map(kind =>
          client.list(kind, {
            namespace: NAMESPACE,
            labelSelector: LABEL_APP_NAME,
          }),
        ),
      )
    ).flat();
    // Each Application's three together, in the order it applies them.
    const byApp = names.map(name =>
      rendered
        .filter(o => o.metadata.labels?.[LABEL_APP_NAME] === name)
        .map(floorObject)
        .join('\n---\n'),
    );
    await cluster.kubectl(['create', 'namespace', FLOOR_NAMESPACE]);
    const floorRolledOut = new Set<string>();
    let floorCreatedAt: number | undefined;
    const cpuFloorBefore = meter.read();
    const floorStart = Date.now();
    log(`floor: kubectl apply --server-side of ${rendered.length} objects`);
    const floorDone = until(
      [deployments],
      event => {
        const object = event?.object;
        if (object?.metadata.namespace === FLOOR_NAMESPACE) {
          if (rolledOut(object)) floorRolledOut.add(object.metadata.name);
          else floorRolledOut.delete(object.metadata.name);
        }
        if (floorCreatedAt === undefined && floorNames.size >= apps) {
          floorCreatedAt = Date.now();
        }
        return floorRolledOut.size >= apps;
      },
      `the floor's ${apps} Deployments rolling out`,
      timeoutMs,
      () => `${floorRolledOut.size} of ${apps} rolled out`,
    );
    for (const input of batches(byApp, batch, text => text)) {
      await cluster.kubectl(
        ['apply', '--server-side', '--field-manager=bench-floor', '-f', '-'],
        { input },
      );
    }
    const floorAppliedAt = Date.now();
    const floorEnd = await floorDone;
    const cpuFloor = CpuMeter.since(cpuFloorBefore, meter.read());

    const events = await cluster.auditEvents();
    const during = requestsIn(events, { start, end: convergedAt });
    const steady = requestsIn(events, { start: steadyStart, end: steadyEnd });
    const perMinute = 60_000 / (steadyEnd - steadyStart);

    const result = {
      bench: 'scale',
      apps,
      replicas: replicaCount,
      kcmQps: kcmQps ?? 20,
      kcmBurst: kcmQps === undefined ? 30 : 2 * kcmQps,
      kwokNodes: cluster.nodeNames.length,
      cores: os.cpus().length,
      convergeS: seconds(convergedAt - start),
      createS: seconds(createdAt - start),
      deploymentsCreatedS: seconds(
        (deploymentsCreatedAt ?? convergedAt) - start,
      ),
      floorS: seconds(floorEnd - floorStart),
      floorApplyS: seconds(floorAppliedAt - floorStart),
      floorDeploymentsCreatedS: seconds(
        (floorCreatedAt ?? floorEnd) - floorStart,
      ),
      ratio: (convergedAt - start) / (floorEnd - floorStart),
      backendCpuS: cpuConverge.byProcess.backend,
      cpuDuringConvergeS: cpuConverge.byProcess,
      busyCoresDuringConverge: cpuConverge.busyCores,
      cpuDuringFloorS: cpuFloor.byProcess,
      busyCoresDuringFloor: cpuFloor.busyCores,
      idleRssMiB,
      peakRssMiB,
      peakAboveIdleMiB: peakRssMiB - idleRssMiB,
      renderedObjects: rendered.length,
      requestsDuringConverge: Object.fromEntries(during),
      readsPerObject: renderedReads(during) / rendered.length,
      steadySeconds: seconds(steadyEnd - steadyStart),
      steadyRequestsPerMin: total(steady) * perMinute,
      steadyRequestsPerMinByKind: Object.fromEntries(
        [...steady].map(([k, n]) => [k, n * perMinute]),
      ),
      steadyBackendCpuSPerMin: cpuSteady.byProcess.backend * perMinute,
      oneChangeS: changes
        ? seconds(median(changeRuns.map(c => c.latencyMs)))
        : undefined,
      oneChangeAfterRolloutS: changes
        ? seconds(median(changeRuns.map(c => c.afterRolloutMs)))
        : undefined,
      changes: changeRuns,
    };
    report(result, kcmLimits);
  } finally {
    await teardown.run();
  }
}

function report(r: Record<string, any>, kcmLimits: string) {
  const out = (line = '') => process.stdout.write(`${line}\n`);
  const f = (n: number | undefined, digits = 1) =>
    n === undefined ? '-' : n.toFixed(digits);
  out(
    `scale benchmark: ${r.apps} Applications (webservice + ingress, 1 replica), ${r.replicas} backend replica(s) on PostgreSQL with default settings;`,
  );
  out(
    `  kube-controller-manager ${kcmLimits}; ${r.kwokNodes} kwok node(s); ${r.cores} cores shared by everything`,
  );
  out();
  const columns: Array<[string, string]> = [
    ['apps', String(r.apps)],
    ['replicas', String(r.replicas)],
    ['kcm qps/burst', `${r.kcmQps}/${r.kcmBurst}`],
    ['converge s', f(r.convergeS)],
    ['floor s', f(r.floorS)],
    ['ratio', `${f(r.ratio, 2)}x`],
    ['Deployments created s', f(r.deploymentsCreatedS)],
    ['backend CPU s', f(r.backendCpuS)],
    ['peak RSS MiB', f(r.peakRssMiB, 0)],
    ['idle RSS MiB', f(r.idleRssMiB, 0)],
    ['reads/object', f(r.readsPerObject, 2)],
    ['steady req/min', f(r.steadyRequestsPerMin)],
    ['steady CPU s/min', f(r.steadyBackendCpuSPerMin, 2)],
    ['one change s', f(r.oneChangeS)],
  ];
  out(`| ${columns.map(c => c[0]).join(' | ')} |`);
  out(`| ${columns.map(() => '---').join(' | ')} |`);
  out(`| ${columns.map(c => c[1]).join(' | ')} |`);
  out();
  out(
    `  converge: ${f(r.convergeS)} s = ${f(
      r.ratio,
      2,
    )}x the floor (kubectl apply --server-side of the same ${
      r.renderedObjects
    } objects and their rollout: ${f(r.floorS)} s, of which apply ${f(
      r.floorApplyS,
    )} s)`,
  );
  out(
    `  Deployments all created: ours ${f(
      r.deploymentsCreatedS,
    )} s (creating the Applications took ${f(r.createS)} s), the floor's ${f(
      r.floorDeploymentsCreatedS,
    )} s`,
  );
  const cpu = (byProcess: Record<string, number>) =>
    Object.entries(byProcess)
      .sort((a, b) => b[1] - a[1])
      .map(([name, s]) => `${name} ${f(s)}`)
      .join(', ');
  out(
    `  CPU s during converge: ${cpu(r.cpuDuringConvergeS)}; the machine's ${
      r.cores
    } cores ${f(r.busyCoresDuringConverge, 2)} busy`,
  );
  out(
    `  CPU s during the floor:  ${cpu(r.cpuDuringFloorS)}; ${f(
      r.busyCoresDuringFloor,
      2,
    )} cores busy`,
  );
  out(
    `  backend: ${f(
      r.backendCpuS / r.apps,
      3,
    )} CPU s per Application; RSS idle ${f(r.idleRssMiB, 0)} MiB, peak ${f(
      r.peakRssMiB,
      0,
    )} MiB (+${f(r.peakAboveIdleMiB, 0)})`,
  );
  out(
    `  one change (median of ${
      r.changes.length
    }): running at the new generation, new image rolled out ${f(
      r.oneChangeS,
    )} s after the patch; running reported ${f(
      r.oneChangeAfterRolloutS,
      2,
    )} s after the rollout completed`,
  );
  const table = (counts: Record<string, number>, digits: number) =>
    Object.entries(counts)
      .sort((a, b) => b[1] - a[1])
      .forEach(([key, n]) =>
        out(`    ${key.padEnd(44)} ${f(n, digits).padStart(8)}`),
      );
  out(
    `  requests by the backend during converge (audit log; reads of deployments, services, ingresses: ${f(
      r.readsPerObject,
      2,
    )} per object):`,
  );
  table(r.requestsDuringConverge, 0);
  out(
    `  requests per minute in steady state (${f(
      r.steadySeconds,
      0,
    )} s after converge): ${f(r.steadyRequestsPerMin)}; backend CPU ${f(
      r.steadyBackendCpuSPerMin,
      2,
    )} s/min`,
  );
  table(r.steadyRequestsPerMinByKind, 1);
  out(JSON.stringify(r));
}

main().catch(error => {
  process.stderr.write(
    `bench scale: ${error instanceof Error ? error.message : error}\n`,
  );
  process.exit(1);
});
