/*
 * A real Kubernetes control plane on loopback: etcd, kube-apiserver,
 * kube-controller-manager, kube-scheduler and kwok simulating nodes. A
 * Deployment really gets a ReplicaSet and Pods, the scheduler binds them to a
 * kwok node, kwok reports them Running, and the Deployment becomes Available.
 * With `nodes: 'real'` a real node (./node.ts) replaces kwok: containers run,
 * Services and Ingresses answer.
 *
 * Each cluster has its own temp dir, CA, serving certificate, service-account
 * key pair and static tokens; any number of kwok clusters can run side by
 * side, and one cluster with a real node per machine.
 */
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { promisify } from 'node:util';
import { k8sBinaries, K8sBinaries } from './binaries';
import { createCA, createServingCert } from './certs';
import { RealNode, startRealNode } from './node';
import {
  freePort,
  makeTempDir,
  ManagedProcess,
  ServiceHandle,
  waitFor,
} from './process';

const run = promisify(execFile);
/** The real node's name (its kubelet's token names it too). */
const REAL_NODE = 'real-node-0';

export interface StartClusterOptions {
  /** Name of the cluster in its kubeconfig (context, cluster and user). */
  name?: string;
  /**
   * `kwok` (default): simulated nodes, for many-node and scale tests; no
   * container runs. `real`: one real node that runs the pods' containers,
   * with kube-proxy and Traefik (see `Cluster.node`).
   */
  nodes?: 'kwok' | 'real';
  /** How many kwok nodes to create (default 1; kwok only). */
  kwokNodes?: number;
  /**
   * kube-controller-manager's client limits: `--kube-api-qps` this and
   * `--kube-api-burst` twice this. Its defaults (20/30) roll Deployments out
   * at about 5 a second; real clusters raise them.
   */
  controllerManagerQps?: number;
  /**
   * Users, each with a static token (group system:masters) and a kubeconfig
   * of its own (`Cluster.userKubeconfigs`), whose requests the API server
   * records in an audit log at level Metadata (`Cluster.auditEvents`);
   * nobody else's requests are recorded.
   */
  auditUsers?: string[];
}

/** One audit log entry (audit.k8s.io/v1 Event at level Metadata), the fields we read. */
export interface AuditEvent {
  /** `ResponseStarted` (watches only) or `ResponseComplete`, or `Panic`. */
  stage: string;
  verb: string;
  requestURI: string;
  user: { username: string };
  objectRef?: {
    resource?: string;
    subresource?: string;
    namespace?: string;
    name?: string;
    apiGroup?: string;
  };
  responseStatus?: { code?: number };
  /** RFC 3339 with microseconds. */
  requestReceivedTimestamp: string;
  stageTimestamp: string;
}

export interface Cluster {
  name: string;
  /** `https://127.0.0.1:<port>` */
  server: string;
  /** Admin kubeconfig (bearer token, CA data inline): works with kubectl and @kubernetes/client-node. */
  kubeconfigPath: string;
  /** The admin kubeconfig's content, for `KubeConfig.loadFromString`. */
  kubeconfig: string;
  /** Admin bearer token (group system:masters). */
  token: string;
  /** Kubeconfig files of the `auditUsers`, by user name. */
  userKubeconfigs: Record<string, string>;
  /** The audit log so far: the requests of the `auditUsers` (none without). */
  auditEvents(): Promise<AuditEvent[]>;
  caFile: string;
  /** PEM of the cluster CA. */
  caData: string;
  nodeNames: string[];
  /** The real node, when started with `nodes: 'real'`. */
  node?: RealNode;
  binaries: K8sBinaries;
  dir: string;
  /** Runs the real kubectl against this cluster; rejects with its stderr on failure. */
  kubectl(args: string[], options?: { input?: string }): Promise<string>;
  /** Raw authenticated request to the API server; resolves with status and parsed JSON body. */
  request(
    method: string,
    apiPath: string,
    body?: unknown,
  ): Promise<{ status: number; body: any }>;
  /**
   * Stops kube-apiserver (SIGKILL: a crash, connections reset) and leaves it
   * down until {@link Cluster.startApiServer}: etcd and the other components
   * keep running, as when the API server's pod restarts.
   */
  stopApiServer(): Promise<void>;
  /** Starts kube-apiserver again on the same port, etcd and certificates; resolves once /readyz answers. */
  startApiServer(): Promise<void>;
  stop(): Promise<void>;
}

function kubeconfigYaml(
  name: string,
  server: string,
  caPem: string,
  token: string,
): string {
  const ca = Buffer.from(caPem).toString('base64');
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: ${name}`,
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${ca}`,
    'users:',
    `- name: ${name}-admin`,
    '  user:',
    `    token: ${token}`,
    'contexts:',
    `- name: ${name}`,
    '  context:',
    `    cluster: ${name}`,
    `    user: ${name}-admin`,
    `current-context: ${name}`,
    '',
  ].join('\n');
}

function apiRequest(
  server: string,
  caPem: string,
  token: string,
  method: string,
  apiPath: string,
  body?: unknown,
): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const payload =
      body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = https.request(
      `${server}${apiPath}`,
      {
        method,
        ca: caPem,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          ...(payload ? { 'content-type': 'application/json' } : {}),
        },
        timeout: 10_000,
      },
      res => {
        const chunks: Buffer[] = [];
        res.on('data', c => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // plain-text endpoints such as /readyz
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on('timeout', () =>
      req.destroy(new Error(`${method} ${apiPath} timed out`)),
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** A kwok-managed node with room for plenty of pods and no taints. */
function fakeNode(name: string) {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: {
        'kwok.x-k8s.io/node': 'fake',
        'node.alpha.kubernetes.io/ttl': '0',
      },
      labels: {
        'kubernetes.io/arch': 'amd64',
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/role': 'agent',
        'node-role.kubernetes.io/agent': '',
        type: 'kwok',
      },
    },
    status: {
      allocatable: { cpu: '32', memory: '256Gi', pods: '250' },
      capacity: { cpu: '32', memory: '256Gi', pods: '250' },
    },
  };
}

/** Starts a cluster; resolves once the API is ready, the nodes are Ready and pods can be created. */
export async function startCluster(
  options: StartClusterOptions = {},
): Promise<Cluster> {
  const bins = k8sBinaries();
  const name = options.name ?? 'gitops-test';
  const handle = new ServiceHandle(`cluster-${name}`);
  try {
    return await boot(
      handle,
      bins,
      name,
      options.nodes === 'real' ? 'real' : options.kwokNodes ?? 1,
      options,
    );
  } catch (e) {
    await handle.stop(1_000);
    throw e;
  }
}

async function boot(
  handle: ServiceHandle,
  bins: K8sBinaries,
  name: string,
  nodes: number | 'real',
  { controllerManagerQps, auditUsers = [] }: StartClusterOptions,
): Promise<Cluster> {
  const dir = handle.addDir(await makeTempDir(`cluster-${name}`));
  const pki = path.join(dir, 'pki');
  fs.mkdirSync(pki);
  const logs = path.join(dir, 'logs');
  fs.mkdirSync(logs);
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => k !== 'KUBECONFIG' && !k.startsWith('ETCD'),
    ),
  );

  const [etcdPort, etcdPeerPort, apiPort, kcmPort, schedPort] =
    await Promise.all(Array.from({ length: 5 }, () => freePort()));

  // Certificates and keys; etcd starts meanwhile (it needs none: loopback only).
  const etcdUrl = `http://127.0.0.1:${etcdPort}`;
  const etcd = handle.spawn(
    'etcd',
    bins.etcd,
    [
      `--name=${name}`,
      `--data-dir=${path.join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-cluster=${name}=http://127.0.0.1:${etcdPeerPort}`,
      // A throw-away test store: durability buys nothing and costs seconds.
      '--unsafe-no-fsync=true',
      '--log-level=warn',
    ],
    { logFile: path.join(logs, 'etcd.log'), env },
  );

  const ca = await createCA(pki, 'ca', `${name}-ca`);
  const serving = await createServingCert(pki, 'apiserver', ca, {
    ips: ['127.0.0.1', '10.96.0.1'],
    dnsNames: [
      'localhost',
      'kubernetes',
      'kubernetes.default',
      'kubernetes.default.svc',
    ],
  });
  const sa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const saKey = path.join(pki, 'sa.key');
  const saPub = path.join(pki, 'sa.pub');
  fs.writeFileSync(
    saKey,
    sa.privateKey.export({ type: 'pkcs8', format: 'pem' }),
  );
  fs.writeFileSync(saPub, sa.publicKey.export({ type: 'spki', format: 'pem' }));

  const token = () => crypto.randomBytes(24).toString('hex');
  const adminToken = token();
  const kcmToken = token();
  const schedulerToken = token();
  const kwokToken = token();
  const nodeTokens = {
    kubelet: token(),
    kubeProxy: token(),
    traefik: token(),
  };
  const userTokens = Object.fromEntries(auditUsers.map(u => [u, token()]));
  const tokensFile = path.join(pki, 'tokens.csv');
  // Components authenticate as their usual identities; system:masters spares
  // us the RBAC bootstrapping a production control plane does with certificates.
  fs.writeFileSync(
    tokensFile,
    [
      `${adminToken},admin,admin,"system:masters"`,
      `${kcmToken},system:kube-controller-manager,kcm,"system:masters"`,
      `${schedulerToken},system:kube-scheduler,scheduler,"system:masters"`,
      `${kwokToken},kwok,kwok,"system:masters"`,
      ...(nodes === 'real'
        ? [
            `${nodeTokens.kubelet},system:node:${REAL_NODE},kubelet,"system:nodes,system:masters"`,
            `${nodeTokens.kubeProxy},system:kube-proxy,kube-proxy,"system:masters"`,
            `${nodeTokens.traefik},traefik,traefik,"system:masters"`,
          ]
        : []),
      ...auditUsers.map(
        u => `${userTokens[u]},${u},user-${u},"system:masters"`,
      ),
      '',
    ].join('\n'),
  );

  const server = `https://127.0.0.1:${apiPort}`;
  const writeKubeconfig = (file: string, tok: string) => {
    const full = path.join(dir, file);
    fs.writeFileSync(full, kubeconfigYaml(name, server, ca.certPem, tok), {
      mode: 0o600,
    });
    return full;
  };
  const kubeconfigPath = writeKubeconfig('admin.kubeconfig', adminToken);
  const kcmKubeconfig = writeKubeconfig(
    'controller-manager.kubeconfig',
    kcmToken,
  );
  const schedulerKubeconfig = writeKubeconfig(
    'scheduler.kubeconfig',
    schedulerToken,
  );
  const kwokKubeconfig = writeKubeconfig('kwok.kubeconfig', kwokToken);
  const userKubeconfigs = Object.fromEntries(
    auditUsers.map(u => [u, writeKubeconfig(`${u}.kubeconfig`, userTokens[u])]),
  );
  const auditDir = path.join(dir, 'audit');
  const auditArgs: string[] = [];
  if (auditUsers.length > 0) {
    fs.mkdirSync(auditDir);
    const policyFile = path.join(dir, 'audit-policy.json');
    fs.writeFileSync(
      policyFile,
      JSON.stringify({
        apiVersion: 'audit.k8s.io/v1',
        kind: 'Policy',
        omitStages: ['RequestReceived'],
        rules: [{ level: 'Metadata', users: auditUsers }, { level: 'None' }],
      }),
    );
    auditArgs.push(
      `--audit-policy-file=${policyFile}`,
      `--audit-log-path=${path.join(auditDir, 'audit.log')}`,
      '--audit-log-format=json',
      // Blocking: an event is in the file once its response is sent.
      '--audit-log-mode=blocking',
      // Rotated files (kube-apiserver's default is 100 MB) are read too.
      '--audit-log-maxsize=1024',
    );
  }

  await waitFor('etcd', async () => (await fetch(`${etcdUrl}/health`)).ok, {
    timeoutMs: 30_000,
    intervalMs: 50,
    abort: etcd.deathError,
  });

  const apiserverArgs = [
    `--etcd-servers=${etcdUrl}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${apiPort}`,
    `--cert-dir=${pki}`,
    `--tls-cert-file=${serving.certFile}`,
    `--tls-private-key-file=${serving.keyFile}`,
    `--client-ca-file=${ca.certFile}`,
    `--token-auth-file=${tokensFile}`,
    '--authorization-mode=RBAC',
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${saPub}`,
    `--service-account-signing-key-file=${saKey}`,
    '--service-cluster-ip-range=10.96.0.0/16',
    '--allow-privileged=true',
    '--profiling=false',
    '--endpoint-reconciler-type=none',
    ...auditArgs,
    '--v=0',
  ];
  const spawnApiServer = () =>
    handle.spawn('kube-apiserver', bins.kubeApiserver, apiserverArgs, {
      logFile: path.join(logs, 'kube-apiserver.log'),
      env,
    });
  let apiserver = spawnApiServer();

  const request = (method: string, apiPath: string, body?: unknown) =>
    apiRequest(server, ca.certPem, adminToken, method, apiPath, body);

  const apiServerReady = () =>
    waitFor(
      'kube-apiserver /readyz',
      async () => (await request('GET', '/readyz')).status === 200,
      { timeoutMs: 60_000, intervalMs: 100, abort: apiserver.deathError },
    );
  await apiServerReady();

  const kwokConfig = path.join(dir, 'kwok.yaml');
  // An explicit configuration keeps ~/.kwok/kwok.yaml out of the picture;
  // kwok 0.8 leaves the options' documented defaults at zero when a config
  // file is given, so they are spelled out.
  fs.writeFileSync(
    kwokConfig,
    [
      'apiVersion: config.kwok.x-k8s.io/v1alpha1',
      'kind: KwokConfiguration',
      'options:',
      '  podPlayStageParallelism: 4',
      '  nodePlayStageParallelism: 4',
      '  nodeLeaseParallelism: 4',
      '  podsOnNodeSyncParallelism: 1',
      '  enablePodsOnNodeSyncListPager: true',
      '  enablePodsOnNodeSyncStreamWatch: false',
      '  enableDebuggingHandlers: false',
      '  enableProfilingHandler: false',
      // eslint-disable-next-line no-restricted-syntax -- a test-only package, always run from source
      fs.readFileSync(path.join(__dirname, 'kwok-stages.yaml'), 'utf8'),
    ].join('\n'),
  );
  const components: ManagedProcess[] = [
    handle.spawn(
      'kube-controller-manager',
      bins.kubeControllerManager,
      [
        `--kubeconfig=${kcmKubeconfig}`,
        `--authentication-kubeconfig=${kcmKubeconfig}`,
        `--authorization-kubeconfig=${kcmKubeconfig}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${kcmPort}`,
        `--cert-dir=${path.join(pki, 'kcm')}`,
        '--leader-elect=false',
        `--service-account-private-key-file=${saKey}`,
        `--root-ca-file=${ca.certFile}`,
        ...(controllerManagerQps === undefined
          ? []
          : [
              `--kube-api-qps=${controllerManagerQps}`,
              `--kube-api-burst=${2 * controllerManagerQps}`,
            ]),
        '--v=0',
      ],
      { logFile: path.join(logs, 'kube-controller-manager.log'), env },
    ),
    handle.spawn(
      'kube-scheduler',
      bins.kubeScheduler,
      [
        `--kubeconfig=${schedulerKubeconfig}`,
        `--authentication-kubeconfig=${schedulerKubeconfig}`,
        `--authorization-kubeconfig=${schedulerKubeconfig}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${schedPort}`,
        `--cert-dir=${path.join(pki, 'scheduler')}`,
        '--leader-elect=false',
        '--v=0',
      ],
      { logFile: path.join(logs, 'kube-scheduler.log'), env },
    ),
  ];
  if (nodes !== 'real') {
    components.push(
      handle.spawn(
        'kwok',
        bins.kwok,
        [
          `--kubeconfig=${kwokKubeconfig}`,
          `--config=${kwokConfig}`,
          '--manage-all-nodes=false',
          '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
          '--cidr=10.244.0.0/16',
          '--node-ip=10.244.255.1',
          '--node-lease-duration-seconds=40',
        ],
        { logFile: path.join(logs, 'kwok.log'), env },
      ),
    );
  }
  const anyDied = () => components.map(c => c.deathError()).find(Boolean);

  const nodeNames = Array.from(
    { length: nodes === 'real' ? 0 : nodes },
    (_, i) => `kwok-node-${i}`,
  );
  for (const nodeName of nodeNames) {
    const res = await request('POST', '/api/v1/nodes', fakeNode(nodeName));
    if (res.status !== 201) {
      throw new Error(
        `creating node ${nodeName}: ${res.status} ${JSON.stringify(res.body)}`,
      );
    }
  }
  if (nodeNames.length > 0)
    await waitFor(
      `kwok to report ${nodeNames.join(', ')} Ready`,
      async () => {
        const res = await request('GET', '/api/v1/nodes');
        const ready = (res.body.items ?? []).filter((n: any) =>
          n.status?.conditions?.some(
            (c: any) => c.type === 'Ready' && c.status === 'True',
          ),
        );
        return ready.length === nodeNames.length;
      },
      { timeoutMs: 60_000, intervalMs: 200, abort: anyDied },
    );
  const kubectl: Cluster['kubectl'] = async (args, opts = {}) => {
    const child = run(
      bins.kubectl,
      [`--kubeconfig=${kubeconfigPath}`, ...args],
      {
        env,
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    child.child.stdin?.end(opts.input);
    try {
      return (await child).stdout;
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new Error(
        `kubectl ${args.join(' ')}: ${(err.stderr ?? err.message).trim()}`,
      );
    }
  };
  // The ServiceAccount admission plugin refuses pods until their namespace's
  // `default` ServiceAccount exists; once it does here, the controllers run.
  await waitFor(
    'the default ServiceAccount (kube-controller-manager running)',
    async () =>
      (
        await request(
          'GET',
          '/api/v1/namespaces/default/serviceaccounts/default',
        )
      ).status === 200,
    { timeoutMs: 60_000, intervalMs: 200, abort: anyDied },
  );
  const node =
    nodes === 'real'
      ? await startRealNode(
          {
            server,
            caFile: ca.certFile,
            tokens: nodeTokens,
            kubectl,
          },
          { name: REAL_NODE },
        )
      : undefined;
  if (node) nodeNames.push(node.name);

  return {
    name,
    server,
    kubeconfigPath,
    kubeconfig: fs.readFileSync(kubeconfigPath, 'utf8'),
    token: adminToken,
    userKubeconfigs,
    auditEvents: () => readAuditLog(auditDir),
    caFile: ca.certFile,
    caData: ca.certPem,
    nodeNames,
    binaries: bins,
    dir,
    request,
    kubectl,
    node,
    async stopApiServer() {
      apiserver.killNow();
      await waitFor('kube-apiserver to exit', async () => !apiserver.running, {
        timeoutMs: 30_000,
        intervalMs: 50,
      });
    },
    async startApiServer() {
      if (apiserver.running) return;
      apiserver = spawnApiServer();
      await apiServerReady();
    },
    async stop() {
      // The node's kubelet and proxies are clients of the control plane: they go first.
      await node?.stop();
      await handle.stop(3_000);
    },
  };
}

/** Every event in the audit log files of `dir` (rotated ones included), oldest file first. */
async function readAuditLog(dir: string): Promise<AuditEvent[]> {
  let files: string[];
  try {
    files = await fs.promises.readdir(dir);
  } catch {
    return []; // no audit users: no log
  }
  const events: AuditEvent[] = [];
  // Rotated files are named audit-<time>.log, so they sort before the live audit.log.
  for (const file of files.filter(f => f.endsWith('.log')).sort()) {
    const text = await fs.promises.readFile(path.join(dir, file), 'utf8');
    const lines = text.split('\n');
    // The last is empty, or a line the API server is still writing.
    lines.pop();
    for (const line of lines) events.push(JSON.parse(line));
  }
  return events;
}
