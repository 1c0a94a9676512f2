/*
 * A real Kubernetes node beside a test cluster's control plane: containerd +
 * runc (Debian packages) with CNI (bridge, host-local, loopback, portmap) on a
 * private bridge, kubelet and kube-proxy built from the same Kubernetes
 * version as the control plane, a pause image built from Kubernetes'
 * pause.c, and Traefik serving Ingress and Gateway API HTTPRoutes on a
 * 127.0.0.1 port. Containers really run; Services really answer.
 *
 * One real node per machine at a time: kube-proxy owns the host's iptables
 * service chains and kubelet the /kubepods cgroups, so a second node would
 * fight the first. A lock file serialises them (a waiting test starts when
 * the other stops); a node whose owner died is cleaned up by the next one.
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ociArchive } from './oci';
import {
  cacheDir,
  freePort,
  MissingToolError,
  repoRoot,
  ServiceHandle,
  sleep,
  unmountUnder,
  waitFor,
} from './process';

const run = promisify(execFile);

/** The pods' bridge and subnet: private, and only ever one node (see the lock). */
export const NODE_BRIDGE = 'gitops-br0';
export const POD_SUBNET = '10.89.0.0/24';
export const NODE_IP = '10.89.0.1';
const POD_SUBNET_BITS = 24;

const CONTAINERD = '/usr/bin/containerd';
const CTR = '/usr/bin/ctr';
const RUNC = '/usr/sbin/runc';
const CNI_BIN_DIR = '/usr/lib/cni';
const CNI_PLUGINS = ['bridge', 'host-local', 'loopback', 'portmap'];
const SYSTEM_PACKAGES = 'containerd runc containernetworking-plugins iptables';
const INSTALL_HINT = `run scripts/ensure-system-deps.sh (as root: apt-get install -y ${SYSTEM_PACKAGES})`;

export interface NodeBinaries {
  kubelet: string;
  kubeProxy: string;
  traefik: string;
  /** The static pause binary built from Kubernetes' pause.c. */
  pause: string;
  pauseVersion: string;
  /** The standard-channel Gateway API CRDs Traefik is built against. */
  gatewayApiCrds: string;
}

let builtNodeDir: string | undefined;

/** Builds (once, cached by version) and returns the node's binaries. */
export function nodeBinaries(): NodeBinaries {
  if (!builtNodeDir) {
    const script = path.join(repoRoot(), 'scripts', 'build-k8s.sh');
    try {
      // stderr stays attached so a cold build shows its progress.
      const out = execFileSync('bash', [script, '--node'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      builtNodeDir = out.toString().trim().split('\n').pop()!;
    } catch (e) {
      throw new MissingToolError(
        `scripts/build-k8s.sh --node failed (${
          (e as Error).message.split('\n')[0]
        }); see its output above`,
      );
    }
  }
  const dir = builtNodeDir;
  return {
    kubelet: path.join(dir, 'kubelet'),
    kubeProxy: path.join(dir, 'kube-proxy'),
    traefik: path.join(dir, 'traefik'),
    pause: path.join(dir, 'pause'),
    pauseVersion: fs
      .readFileSync(path.join(dir, 'pause.version'), 'utf8')
      .trim(),
    gatewayApiCrds: path.join(dir, 'gateway-api-crds.yaml'),
  };
}

/**
 * Why this machine cannot run a real node, in one line, or undefined when it
 * can. Checks what a build cannot fix: root, the system packages, cgroups
 * and iptables.
 */
export function realNodeUnsupported(): string | undefined {
  if (process.platform !== 'linux') return 'a real node needs Linux';
  if (process.getuid?.() !== 0) {
    return 'a real node needs root (kubelet and containerd manage cgroups, mounts and the network)';
  }
  const missing = [
    CONTAINERD,
    CTR,
    RUNC,
    ...CNI_PLUGINS.map(p => path.join(CNI_BIN_DIR, p)),
  ].filter(f => !fs.existsSync(f));
  if (missing.length > 0) {
    return `missing ${missing.join(', ')}: ${INSTALL_HINT}`;
  }
  try {
    execFileSync('iptables', ['-w', '-S', 'INPUT'], { stdio: 'ignore' });
  } catch {
    return `iptables does not work here (kube-proxy needs it): ${INSTALL_HINT}`;
  }
  const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  if (!/ - cgroup2? /.test(mounts)) return 'no cgroup filesystem is mounted';
  if (
    !/ - cgroup cgroup \S*memory/.test(mounts) &&
    !/ - cgroup2 /.test(mounts)
  ) {
    return 'the memory cgroup controller is not mounted';
  }
  if (!fs.existsSync('/proc/sys/net/bridge')) {
    return 'bridge netfilter (br_netfilter) is not available: kube-proxy could not see bridged pod traffic';
  }
  return undefined;
}

export interface RealNode {
  name: string;
  /** The node's address: the gateway of the pods' bridge. */
  ip: string;
  /** Pods get their IPs here (host-local IPAM on the bridge). */
  podSubnet: string;
  /** `http://127.0.0.1:<port>`: Traefik, serving Ingress (class nginx) and HTTPRoutes. */
  ingressUrl: string;
  /** The Gateway HTTPRoutes attach to (`parentRefs`). */
  gateway: { namespace: string; name: string };
  /** Lets containerd pull from a registry over plain HTTP (it still sends the pod's imagePullSecrets). */
  trustRegistry(host: string): void;
  dir: string;
  stop(): Promise<void>;
}

/** What the node needs from the control plane it joins. */
export interface ControlPlaneAccess {
  server: string;
  caFile: string;
  /** Bearer tokens the API server accepts (system:masters), one per component. */
  tokens: { kubelet: string; kubeProxy: string; traefik: string };
  kubectl(args: string[], options?: { input?: string }): Promise<string>;
}

const lockFile = () => path.join(cacheDir(), 'real-node.lock');

function lockOwner(): number | undefined {
  try {
    return Number(fs.readFileSync(lockFile(), 'utf8').trim()) || undefined;
  } catch {
    return undefined;
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * Takes the machine's real-node lock, waiting while another live process
 * holds it; a lock left by a dead process is taken over after cleaning up
 * what that process's node left behind.
 */
async function acquireLock(timeoutMs: number): Promise<void> {
  fs.mkdirSync(cacheDir(), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      fs.writeFileSync(lockFile(), `${process.pid}\n`, { flag: 'wx' });
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const owner = lockOwner();
    if (owner === process.pid) {
      throw new Error(
        'this process already runs a real node: one per machine (stop it first)',
      );
    }
    if (owner === undefined || !alive(owner)) {
      await reclaimRealNode();
      fs.rmSync(lockFile(), { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `another process (pid ${owner}) runs this machine's real node; only one can run at a time`,
      );
    }
    await sleep(1_000);
  }
}

/** The pid of the live process running this machine's real node, if any. */
export function realNodeHolder(): number | undefined {
  const owner = lockOwner();
  return owner !== undefined && alive(owner) ? owner : undefined;
}

/** Every cgroup v1 hierarchy (and the v2 one) mounted here. */
function cgroupMounts(): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(l => / - cgroup2? /.test(l))
    .map(l => l.split(' ')[4]);
}

/** Cgroup dirs under `rel` in every hierarchy, deepest first. */
function cgroupTree(rel: string): string[] {
  const dirs: string[] = [];
  const walk = (dir: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory()) walk(path.join(dir, e.name));
    dirs.push(dir);
  };
  for (const mount of cgroupMounts()) walk(path.join(mount, rel));
  return dirs;
}

/** Kills every process of the node's pods (the /kubepods cgroups kubelet made) and removes those cgroups. */
async function killPods(): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const dirs = cgroupTree('kubepods');
    if (dirs.length === 0) return;
    for (const dir of dirs) {
      let pids: string[] = [];
      try {
        pids = fs
          .readFileSync(path.join(dir, 'cgroup.procs'), 'utf8')
          .split('\n');
      } catch {
        // already gone
      }
      for (const pid of pids.filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // exited meanwhile
        }
      }
      try {
        fs.rmdirSync(dir); // fails while the group still has processes or children
      } catch {
        // next round
      }
    }
    await sleep(100);
  }
  throw new Error(
    `could not remove the pods' cgroups: ${cgroupTree('kubepods').join(', ')}`,
  );
}

/** containerd shims outlive containerd (they daemonise): kill those serving containerd at `address`. */
function killShims(addressPrefix: string): void {
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (!path.basename(argv[0] ?? '').startsWith('containerd-shim')) continue;
    const address = argv[argv.indexOf('-address') + 1] ?? '';
    if (argv.includes('-address') && address.startsWith(addressPrefix)) {
      try {
        process.kill(Number(entry), 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
}

/** Removes the host-level state a node leaves outside its temp dir: pods, shims, bridge, kube-proxy's rules. */
async function reclaimRealNode(kubeProxy?: string): Promise<void> {
  await killPods();
  killShims(path.join(os.tmpdir(), 'gitops-real-node-'));
  for (const dir of fs
    .readdirSync(os.tmpdir())
    .filter(d => d.startsWith('gitops-real-node-'))) {
    unmountUnder(path.join(os.tmpdir(), dir));
  }
  await deleteBridge();
  const proxy = kubeProxy ?? safeNodeBinary('kubeProxy');
  if (proxy) await run(proxy, ['--cleanup']).catch(() => {});
  await removeKubeletChains();
}

/** The chains the kubelet itself adds (`kube-proxy --cleanup` leaves them), per table. */
const KUBELET_CHAINS: Record<string, string[]> = {
  filter: ['KUBE-FIREWALL', 'KUBE-KUBELET-CANARY'],
  nat: ['KUBE-KUBELET-CANARY'],
  mangle: ['KUBE-KUBELET-CANARY', 'KUBE-IPTABLES-HINT'],
};

async function removeKubeletChains(): Promise<void> {
  const ipt = (bin: string, args: string[]) =>
    run(bin, ['-w', ...args]).then(
      () => true,
      () => false,
    );
  for (const bin of ['iptables', 'ip6tables']) {
    for (const [table, chains] of Object.entries(KUBELET_CHAINS)) {
      for (const chain of chains) {
        for (const from of ['INPUT', 'OUTPUT']) {
          while (await ipt(bin, ['-t', table, '-D', from, '-j', chain])) {
            // one jump removed per call
          }
        }
        await ipt(bin, ['-t', table, '-F', chain]);
        await ipt(bin, ['-t', table, '-X', chain]);
      }
    }
  }
}

function safeNodeBinary(key: keyof NodeBinaries): string | undefined {
  try {
    const file = nodeBinaries()[key];
    return fs.existsSync(file) ? file : undefined;
  } catch {
    return undefined;
  }
}

async function deleteBridge(): Promise<void> {
  await run('ip', ['link', 'del', NODE_BRIDGE]).catch(() => {});
}

/** A pod CIDR's bridge exists before kubelet starts, so the node IP is a real address of this host. */
async function createBridge(): Promise<void> {
  await deleteBridge();
  await run('ip', ['link', 'add', NODE_BRIDGE, 'type', 'bridge']);
  await run('ip', [
    'addr',
    'add',
    `${NODE_IP}/${POD_SUBNET_BITS}`,
    'dev',
    NODE_BRIDGE,
  ]);
  await run('ip', ['link', 'set', NODE_BRIDGE, 'up']);
}

const toml = (value: string) => JSON.stringify(value);

function containerdConfig(dir: string, pauseImage: string): string {
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return [
    'version = 2',
    `root = ${toml(path.join(dir, 'containerd', 'root'))}`,
    `state = ${toml(path.join(dir, 'containerd', 'state'))}`,
    // Snapshotters this host cannot use, and the plugin that would write /opt.
    'disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.internal.v1.opt", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]',
    '[grpc]',
    `  address = ${toml(path.join(dir, 'containerd.sock'))}`,
    '[ttrpc]',
    `  address = ${toml(path.join(dir, 'containerd.ttrpc.sock'))}`,
    `[${cri}]`,
    `  sandbox_image = ${toml(pauseImage)}`,
    // The pods' network namespaces are mounted in the temp dir, not /run/netns.
    '  netns_mounts_under_state_dir = true',
    '  stream_server_address = "127.0.0.1"',
    '  disable_apparmor = true',
    // Root here lacks CAP_SYS_RESOURCE, so no process may lower its OOM score
    // (kubelet asks -998 for sandboxes): keep every container at or above ours.
    '  restrict_oom_score_adj = true',
    `[${cri}.containerd]`,
    '  snapshotter = "overlayfs"',
    '  default_runtime_name = "runc"',
    `[${cri}.containerd.runtimes.runc]`,
    '  runtime_type = "io.containerd.runc.v2"',
    `[${cri}.containerd.runtimes.runc.options]`,
    // No systemd on these machines: kubelet uses the cgroupfs driver too.
    '  SystemdCgroup = false',
    `  BinaryName = ${toml(RUNC)}`,
    `  Root = ${toml(path.join(dir, 'runc'))}`,
    `[${cri}.cni]`,
    `  bin_dir = ${toml(CNI_BIN_DIR)}`,
    `  conf_dir = ${toml(path.join(dir, 'cni', 'net.d'))}`,
    `[${cri}.registry]`,
    // One hosts.toml per registry (trustRegistry), read at each pull.
    `  config_path = ${toml(path.join(dir, 'certs.d'))}`,
    '',
  ].join('\n');
}

function cniConfig(dir: string): string {
  return JSON.stringify(
    {
      cniVersion: '1.0.0',
      name: 'gitops-pods',
      plugins: [
        {
          type: 'bridge',
          bridge: NODE_BRIDGE,
          isGateway: true,
          // Pods talk to each other and to this host only: no masquerading rules to leave behind.
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            ranges: [[{ subnet: POD_SUBNET, gateway: NODE_IP }]],
            dataDir: path.join(dir, 'cni', 'ipam'),
          },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  );
}

function kubeconfigFor(server: string, caFile: string, token: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: c',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority: ${caFile}`,
    'users:',
    '- name: u',
    '  user:',
    `    token: ${token}`,
    'contexts:',
    '- name: c',
    '  context: {cluster: c, user: u}',
    'current-context: c',
    '',
  ].join('\n');
}

function kubeletConfig(
  dir: string,
  ports: { kubelet: number; healthz: number },
  socket: string,
): string {
  return JSON.stringify(
    {
      apiVersion: 'kubelet.config.k8s.io/v1beta1',
      kind: 'KubeletConfiguration',
      // This machine's cgroup layout is hybrid v1 (cgroup v1 controllers, an
      // empty unified hierarchy beside them). Kubernetes deprecated v1 and the
      // kubelet refuses it unless told otherwise; it still works.
      failCgroupV1: false,
      cgroupDriver: 'cgroupfs',
      containerRuntimeEndpoint: `unix://${socket}`,
      address: NODE_IP,
      port: ports.kubelet,
      readOnlyPort: 0,
      healthzBindAddress: '127.0.0.1',
      healthzPort: ports.healthz,
      authentication: {
        anonymous: { enabled: false },
        webhook: { enabled: false },
        x509: {},
      },
      authorization: { mode: 'AlwaysAllow' },
      podLogsDir: path.join(dir, 'pod-logs'),
      resolvConf: '/etc/resolv.conf',
      // Shared CI machines have no swap rule and a busy disk: no eviction
      // or swap check should take the node away mid-test.
      failSwapOn: false,
      // Without CAP_SYS_RESOURCE (see containerd's restrict_oom_score_adj) the
      // default -999 cannot be set; say so instead of logging a failure.
      oomScoreAdj: 0,
      evictionHard: {
        'memory.available': '50Mi',
        'nodefs.available': '1%',
        'imagefs.available': '1%',
        'nodefs.inodesFree': '1%',
      },
      imageGCHighThresholdPercent: 100,
      imageGCLowThresholdPercent: 99,
      // Status reaches the API server quickly, so tests see Ready soon.
      nodeStatusUpdateFrequency: '2s',
      syncFrequency: '10s',
      serializeImagePulls: false,
      registerNode: true,
      maxPods: 30,
    },
    null,
    2,
  );
}

function kubeProxyConfig(
  kubeconfig: string,
  nodeName: string,
  ports: { healthz: number; metrics: number },
): string {
  return JSON.stringify(
    {
      apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
      kind: 'KubeProxyConfiguration',
      mode: 'iptables',
      oomScoreAdj: 0, // as the kubelet's
      clientConnection: { kubeconfig },
      hostnameOverride: nodeName,
      clusterCIDR: POD_SUBNET,
      healthzBindAddress: `127.0.0.1:${ports.healthz}`,
      metricsBindAddress: `127.0.0.1:${ports.metrics}`,
      // NodePorts on the node's bridge address only, never on the host's interfaces.
      nodePortAddresses: [`${NODE_IP}/32`],
      // Leave the host's conntrack sysctls alone (0 = do not set).
      conntrack: {
        maxPerCore: 0,
        min: 0,
        tcpEstablishedTimeout: '0s',
        tcpCloseWaitTimeout: '0s',
      },
    },
    null,
    2,
  );
}

/** Traefik's file-provider config: what the Kubernetes providers cannot say. */
const TRAEFIK_DYNAMIC = [
  'http:',
  '  middlewares:',
  '    retry-connect:',
  '      retry:',
  // A pod that just exited (rollouts) refuses the connection before its
  // endpoint is withdrawn; ingress-nginx retries such a request on the next
  // endpoint by default (proxy_next_upstream error), so the seed's Ingress
  // did not fail requests during a rollout. Same behaviour here.
  '        attempts: 3',
  '        initialInterval: 50ms',
  '',
].join('\n');

export interface StartRealNodeOptions {
  name?: string;
  /** How long to wait for another process's real node to stop (default 10 min). */
  lockTimeoutMs?: number;
}

/** Starts the node and joins it to the control plane; resolves once it is Ready and Traefik answers. */
export async function startRealNode(
  cp: ControlPlaneAccess,
  options: StartRealNodeOptions = {},
): Promise<RealNode> {
  const unsupported = realNodeUnsupported();
  if (unsupported) throw new MissingToolError(unsupported);
  const bins = nodeBinaries();
  const name = options.name ?? 'real-node-0';
  await acquireLock(options.lockTimeoutMs ?? 10 * 60_000);
  const handle = new ServiceHandle('real-node');
  const teardown = async () => {
    // Clients first (they would log errors about a vanishing node), then the
    // kubelet and the runtime; then the pods' processes and the host-level state.
    await handle.stopProcesses(3_000);
    await reclaimRealNode(bins.kubeProxy);
    await handle.stop();
    fs.rmSync(lockFile(), { force: true });
  };
  try {
    // Under /tmp with a short name: containerd's socket paths must fit 108 bytes.
    const dir = handle.addDir(
      fs.mkdtempSync(path.join(os.tmpdir(), 'gitops-real-node-')),
    );
    return await boot(handle, dir, cp, bins, name, teardown);
  } catch (e) {
    await teardown();
    throw e;
  }
}

async function boot(
  handle: ServiceHandle,
  dir: string,
  cp: ControlPlaneAccess,
  bins: NodeBinaries,
  name: string,
  teardown: () => Promise<void>,
): Promise<RealNode> {
  const logs = path.join(dir, 'logs');
  for (const d of [
    logs,
    'cni/net.d',
    'cni/ipam',
    'certs.d',
    'kubelet',
    'pod-logs',
  ]) {
    fs.mkdirSync(path.resolve(dir, d), { recursive: true });
  }
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => k !== 'KUBECONFIG'),
  );
  await createBridge();

  // containerd, with the pause image imported before kubelet asks for it.
  const socket = path.join(dir, 'containerd.sock');
  const pauseImage = `gitops.local/pause:${bins.pauseVersion}`;
  fs.writeFileSync(
    path.join(dir, 'containerd.toml'),
    containerdConfig(dir, pauseImage),
  );
  fs.writeFileSync(
    path.join(dir, 'cni', 'net.d', '10-gitops-pods.conflist'),
    cniConfig(dir),
  );
  const containerd = handle.spawn(
    'containerd',
    CONTAINERD,
    ['--config', path.join(dir, 'containerd.toml'), '--log-level', 'warn'],
    { logFile: path.join(logs, 'containerd.log'), env },
  );
  await waitFor('containerd to listen', async () => fs.existsSync(socket), {
    timeoutMs: 30_000,
    intervalMs: 50,
    abort: containerd.deathError,
  });
  const archive = path.join(dir, 'pause.tar');
  fs.writeFileSync(
    archive,
    ociArchive(pauseImage, {
      files: [
        { name: 'pause', content: fs.readFileSync(bins.pause), mode: 0o755 },
      ],
      config: { Entrypoint: ['/pause'], User: '65535:65535' },
    }),
  );
  await run(CTR, [
    '--address',
    socket,
    '--namespace',
    'k8s.io',
    'images',
    'import',
    archive,
  ]).catch((e: { stderr?: string; message: string }) => {
    throw new Error(
      `importing the pause image: ${(e.stderr || e.message).trim()}`,
    );
  });

  const writeKubeconfig = (file: string, token: string) => {
    const full = path.join(dir, file);
    fs.writeFileSync(full, kubeconfigFor(cp.server, cp.caFile, token), {
      mode: 0o600,
    });
    return full;
  };

  const [
    kubeletPort,
    kubeletHealthz,
    proxyHealthz,
    proxyMetrics,
    webPort,
    pingPort,
  ] = await Promise.all(Array.from({ length: 6 }, () => freePort()));
  fs.writeFileSync(
    path.join(dir, 'kubelet.json'),
    kubeletConfig(
      dir,
      { kubelet: kubeletPort, healthz: kubeletHealthz },
      socket,
    ),
  );
  const kubelet = handle.spawn(
    'kubelet',
    bins.kubelet,
    [
      `--config=${path.join(dir, 'kubelet.json')}`,
      `--kubeconfig=${writeKubeconfig(
        'kubelet.kubeconfig',
        cp.tokens.kubelet,
      )}`,
      `--root-dir=${path.join(dir, 'kubelet')}`,
      `--cert-dir=${path.join(dir, 'kubelet', 'pki')}`,
      `--hostname-override=${name}`,
      `--node-ip=${NODE_IP}`,
      `--node-labels=type=real`,
      '--v=1',
    ],
    { logFile: path.join(logs, 'kubelet.log'), env },
  );
  fs.writeFileSync(
    path.join(dir, 'kube-proxy.json'),
    kubeProxyConfig(
      writeKubeconfig('kube-proxy.kubeconfig', cp.tokens.kubeProxy),
      name,
      {
        healthz: proxyHealthz,
        metrics: proxyMetrics,
      },
    ),
  );
  const kubeProxy = handle.spawn(
    'kube-proxy',
    bins.kubeProxy,
    [`--config=${path.join(dir, 'kube-proxy.json')}`, '--v=1'],
    { logFile: path.join(logs, 'kube-proxy.log'), env },
  );

  // Meanwhile: the Gateway API, the classes Traefik serves and its Gateway.
  await cp.kubectl(['apply', '--server-side', '-f', bins.gatewayApiCrds]);
  await cp.kubectl([
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    'crd',
    '--all',
  ]);
  const gateway = { namespace: 'kube-system', name: 'traefik' };
  await cp.kubectl(['apply', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        {
          // The seed's Ingress has class nginx (KubeVela's default); Traefik stands in for ingress-nginx.
          apiVersion: 'networking.k8s.io/v1',
          kind: 'IngressClass',
          metadata: { name: 'nginx' },
          spec: { controller: 'traefik.io/ingress-controller' },
        },
        {
          apiVersion: 'gateway.networking.k8s.io/v1',
          kind: 'GatewayClass',
          metadata: { name: 'traefik' },
          spec: { controllerName: 'traefik.io/gateway-controller' },
        },
        {
          apiVersion: 'gateway.networking.k8s.io/v1',
          kind: 'Gateway',
          metadata: gateway,
          spec: {
            gatewayClassName: 'traefik',
            // Traefik binds a listener to the entry point with the same port.
            listeners: [
              {
                name: 'web',
                protocol: 'HTTP',
                port: webPort,
                allowedRoutes: { namespaces: { from: 'All' } },
              },
            ],
          },
        },
      ],
    }),
  });
  fs.writeFileSync(path.join(dir, 'traefik-dynamic.yaml'), TRAEFIK_DYNAMIC);
  const traefikKubeconfig = (provider: string) => [
    `--providers.${provider}.endpoint=${cp.server}`,
    `--providers.${provider}.token=${cp.tokens.traefik}`,
    `--providers.${provider}.certauthfilepath=${cp.caFile}`,
  ];
  const traefik = handle.spawn(
    'traefik',
    bins.traefik,
    [
      '--global.checknewversion=false',
      '--global.sendanonymoususage=false',
      `--entrypoints.web.address=127.0.0.1:${webPort}`,
      '--entrypoints.web.http.middlewares=retry-connect@file',
      `--entrypoints.traefik.address=127.0.0.1:${pingPort}`,
      '--ping=true',
      '--providers.kubernetesingress.ingressclass=nginx',
      ...traefikKubeconfig('kubernetesingress'),
      ...traefikKubeconfig('kubernetesgateway'),
      `--providers.file.filename=${path.join(dir, 'traefik-dynamic.yaml')}`,
      '--log.level=WARN',
    ],
    { logFile: path.join(logs, 'traefik.log'), env },
  );

  const anyDied = () =>
    [containerd, kubelet, kubeProxy, traefik]
      .map(p => p.deathError())
      .find(Boolean);
  await waitFor(
    `node ${name} to be Ready`,
    async () => {
      const out = await cp.kubectl(['get', 'node', name, '-o', 'json']);
      const node = JSON.parse(out);
      return node.status?.conditions?.some(
        (c: { type: string; status: string }) =>
          c.type === 'Ready' && c.status === 'True',
      );
    },
    { timeoutMs: 120_000, intervalMs: 250, abort: anyDied },
  );
  await waitFor(
    'Traefik to answer',
    async () => (await fetch(`http://127.0.0.1:${pingPort}/ping`)).ok,
    { timeoutMs: 60_000, intervalMs: 100, abort: anyDied },
  );
  await waitFor(
    'kube-proxy to be healthy',
    async () => (await fetch(`http://127.0.0.1:${proxyHealthz}/healthz`)).ok,
    { timeoutMs: 60_000, intervalMs: 100, abort: anyDied },
  );

  return {
    name,
    ip: NODE_IP,
    podSubnet: POD_SUBNET,
    ingressUrl: `http://127.0.0.1:${webPort}`,
    gateway,
    dir,
    trustRegistry(host) {
      const hostDir = path.join(dir, 'certs.d', host);
      fs.mkdirSync(hostDir, { recursive: true });
      fs.writeFileSync(
        path.join(hostDir, 'hosts.toml'),
        [
          `server = ${toml(`http://${host}`)}`,
          `[host.${toml(`http://${host}`)}]`,
          '  capabilities = ["pull", "resolve"]',
          '',
        ].join('\n'),
      );
    },
    stop: teardown,
  };
}

/**
 * One plain HTTP GET, with a Host header of choice (what `curl -H "Host: …"`
 * does; fetch cannot set it). Never rejects on an HTTP status, only on a
 * connection error.
 */
export function httpGet(
  url: string,
  host?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      url,
      { headers: host ? { host } : {}, timeout: 10_000, agent: false },
      res => {
        const chunks: Buffer[] = [];
        res.on('data', c => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString(),
          }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}
