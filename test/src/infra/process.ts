/*
 * Process, port and temp-dir plumbing shared by every real server in test/infra.
 *
 * Every server runs as its own process group so that stopping it also stops
 * whatever it forked (postgres backends, git http-backend children). Each
 * started server is recorded in a state directory with the pid of the Node
 * process that owns it, so `yarn infra down` and the Jest global teardown can
 * clean up after a test process that died without running its afterAll.
 */
import {
  ChildProcess,
  execFileSync,
  spawn,
  SpawnOptions,
} from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const cacheDir = (): string =>
  process.env.GITOPS_CACHE ??
  path.join(
    process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'),
    'gitops-backstage',
  );

export const stateDir = (): string => path.join(cacheDir(), 'infra-state');

/** Repository root, found from this file so it works from any cwd. */
// eslint-disable-next-line no-restricted-syntax -- a test-only package, always run from source
export const repoRoot = (): string => path.resolve(__dirname, '../../..');

const handedOut = new Set<number>();

/** Ports to pick from: below the ephemeral range, else (a range starting low) anywhere above 1024. */
function portPool(): [number, number] {
  let ephemeralLow = 32768;
  try {
    ephemeralLow = Number(
      fs
        .readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
        .trim()
        .split(/\s+/)[0],
    );
  } catch {
    // Not Linux: the usual range.
  }
  return ephemeralLow > 11_000 ? [10_000, ephemeralLow] : [1_025, 65_535];
}

function canBind(port: number): Promise<boolean> {
  return new Promise(resolve => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A free TCP port on 127.0.0.1, for a server about to start. Picked at random
 * below the kernel's ephemeral range: a port the kernel hands out (listen on
 * 0) is in that range, which every outgoing connection on the machine draws
 * from too, so on a busy machine a client's socket could take it before the
 * server binds it. Below the range only another server can; the port is
 * checked free, and never handed out twice by this process.
 */
export async function freePort(): Promise<number> {
  const [low, high] = portPool();
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    if (await canBind(port)) return port;
  }
  throw new Error(`No free port found between ${low} and ${high}`);
}

export async function makeTempDir(prefix: string): Promise<string> {
  return fs.promises.mkdtemp(path.join(os.tmpdir(), `gitops-${prefix}-`));
}

/**
 * Unmounts whatever is mounted under `dir`, deepest first: a real node's pod
 * volumes, container root filesystems and network namespaces live in its
 * temp dir, and a directory with a mount in it cannot be removed. Lazy, so a
 * mount a dying process still holds goes as soon as it lets go.
 */
export function unmountUnder(dir: string): void {
  let mountinfo: string;
  try {
    mountinfo = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return; // not Linux: nothing of ours is mounted
  }
  const prefix = `${path.resolve(dir)}/`;
  const points = mountinfo
    .split('\n')
    // Field 5 is the mount point, with spaces and the like octal-escaped.
    .map(line =>
      line
        .split(' ')[4]
        ?.replace(/\\([0-7]{3})/g, (_, o) =>
          String.fromCharCode(parseInt(o, 8)),
        ),
    )
    .filter((p): p is string => !!p && p.startsWith(prefix))
    .sort((a, b) => b.length - a.length);
  for (const point of new Set(points)) {
    try {
      execFileSync('umount', ['-l', point], { stdio: 'ignore' });
    } catch {
      // already gone with its parent
    }
  }
}

export async function removeDir(dir: string): Promise<void> {
  unmountUnder(dir);
  await fs.promises.rm(dir, { recursive: true, force: true, maxRetries: 5 });
}

export const sleep = (ms: number) =>
  new Promise<void>(resolve => setTimeout(resolve, ms));

/**
 * Polls `probe` until it returns a value other than undefined/false, or fails
 * with `what` and the last error once `timeoutMs` has passed.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  options: {
    timeoutMs?: number;
    intervalMs?: number;
    abort?: () => Error | undefined;
  } = {},
): Promise<T> {
  const { timeoutMs = 60_000, intervalMs = 100 } = options;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    const aborted = options.abort?.();
    if (aborted) throw aborted;
    try {
      const result = await probe();
      if (result !== undefined && result !== false) return result as T;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) {
      const reason = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${reason}`,
      );
    }
    await sleep(intervalMs);
  }
}

export class MissingToolError extends Error {}

/** Finds an executable on PATH (or an absolute path), else one clear line on how to get it. */
export function requireExecutable(name: string, installHint: string): string {
  const candidates = path.isAbsolute(name)
    ? [name]
    : (process.env.PATH ?? '')
        .split(path.delimiter)
        .map(d => path.join(d, name));
  for (const candidate of candidates) {
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  throw new MissingToolError(`${name} not found: ${installHint}`);
}

interface StateRecord {
  owner: number;
  name: string;
  processes: Array<{ pid: number; command: string }>;
  dirs: string[];
}

/**
 * True when `pid` still runs `command`: a recorded pid may have been reused
 * by an unrelated process since, which must never be signalled.
 */
function runsCommand(pid: number, command: string): boolean {
  try {
    const argv0 = fs
      .readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      .split('\0')[0];
    return argv0 === command || path.basename(argv0) === path.basename(command);
  } catch {
    return false;
  }
}

function parentPid(pid: number): number | undefined {
  try {
    // The command name in parentheses may hold spaces; fields follow the last ')'.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

export class ManagedProcess {
  readonly pid: number;
  exitReason: string | undefined;
  private readonly exitPromise: Promise<void>;

  constructor(
    readonly label: string,
    readonly command: string,
    child: ChildProcess,
    readonly logFile: string,
    private readonly stopSignal: NodeJS.Signals = 'SIGTERM',
  ) {
    if (child.pid === undefined) {
      throw new Error(`${label} could not be started (${child.spawnfile})`);
    }
    this.pid = child.pid;
    this.exitPromise = new Promise(resolve => {
      child.once('exit', (code, signal) => {
        this.exitReason = signal ? `signal ${signal}` : `exit code ${code}`;
        resolve();
      });
      child.once('error', e => {
        this.exitReason = e.message;
        resolve();
      });
    });
  }

  get running(): boolean {
    return this.exitReason === undefined;
  }

  /**
   * The end of the process log, for error messages; without the lines our
   * own health polls make, which would otherwise be all it shows.
   */
  logTail(lines = 20): string {
    try {
      return fs
        .readFileSync(this.logFile, 'utf8')
        .trimEnd()
        .split('\n')
        .filter(line => !line.includes('/.backstage/health/'))
        .slice(-lines)
        .join('\n');
    } catch {
      return '';
    }
  }

  /** An Error if the process has died, for `waitFor`'s abort option. */
  deathError = (): Error | undefined =>
    this.running
      ? undefined
      : new Error(
          `${this.label} exited (${this.exitReason}); log ${
            this.logFile
          }:\n${this.logTail()}`,
        );

  async stop(graceMs: number): Promise<void> {
    if (!this.running) {
      killGroup(this.pid, 'SIGKILL'); // children it may have left behind
      return;
    }
    killGroup(this.pid, this.stopSignal);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>(resolve => {
      timer = setTimeout(() => resolve('timeout'), graceMs);
    });
    const outcome = await Promise.race([
      this.exitPromise.then(() => 'exited' as const),
      timeout,
    ]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      killGroup(this.pid, 'SIGKILL');
      await this.exitPromise;
    }
    // Whatever the process forked and left in its group goes too.
    killGroup(this.pid, 'SIGKILL');
  }

  killNow(): void {
    killGroup(this.pid, 'SIGKILL');
  }
}

const liveHandles = new Set<ServiceHandle>();
// A test file that forgets afterAll, or a Ctrl-C'd `infra up`, must not leave
// servers behind: on exit, kill whatever this process still owns.
process.once('exit', () => {
  for (const handle of liveHandles) handle.killNow();
});

/**
 * Everything one started server owns: its processes (each its own process
 * group), its directories, and a state record naming both.
 */
export class ServiceHandle {
  private readonly processes: ManagedProcess[] = [];
  private readonly dirs: string[] = [];
  private readonly stateFile: string;
  private stopped = false;

  constructor(readonly name: string) {
    fs.mkdirSync(stateDir(), { recursive: true });
    this.stateFile = path.join(
      stateDir(),
      `${process.pid}-${name}-${Date.now()}-${Math.random()
        .toString(36)
        .slice(2, 8)}.json`,
    );
    liveHandles.add(this);
    this.save();
  }

  addDir(dir: string): string {
    this.dirs.push(dir);
    this.save();
    return dir;
  }

  /**
   * Starts a process in its own group, its output appended to `logFile`.
   * When it exits before `stop`, `exited` says why (so readiness waits fail
   * fast with the log tail instead of timing out).
   */
  spawn(
    label: string,
    command: string,
    args: string[],
    options: SpawnOptions & { logFile: string; stopSignal?: NodeJS.Signals },
  ): ManagedProcess {
    const { logFile, stopSignal, ...spawnOptions } = options;
    const out = fs.openSync(logFile, 'a');
    const child = spawn(command, args, {
      ...spawnOptions,
      detached: true,
      stdio: ['ignore', out, out],
    });
    fs.closeSync(out);
    const managed = new ManagedProcess(
      label,
      command,
      child,
      logFile,
      stopSignal,
    );
    this.processes.push(managed);
    this.save();
    return managed;
  }

  /**
   * Stops every process (SIGTERM, then SIGKILL after `graceMs`), keeping the
   * dirs: for servers that have host-level state to undo in between.
   */
  async stopProcesses(graceMs = 5_000): Promise<void> {
    // Reverse start order: clients of a server go before the server.
    for (const p of [...this.processes].reverse()) await p.stop(graceMs);
  }

  /** Stops every process (SIGTERM, then SIGKILL after `graceMs`) and removes the dirs. */
  async stop(graceMs = 5_000): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.stopProcesses(graceMs);
    for (const dir of this.dirs) await removeDir(dir);
    liveHandles.delete(this);
    fs.rmSync(this.stateFile, { force: true });
  }

  /** Synchronous last resort for process exit: no waiting, just SIGKILL. */
  killNow(): void {
    for (const p of this.processes) p.killNow();
    for (const dir of this.dirs) {
      unmountUnder(dir);
      fs.rmSync(dir, { recursive: true, force: true });
    }
    fs.rmSync(this.stateFile, { force: true });
  }

  private save(): void {
    const record: StateRecord = {
      owner: process.pid,
      name: this.name,
      processes: this.processes.map(p => ({ pid: p.pid, command: p.command })),
      dirs: this.dirs,
    };
    fs.writeFileSync(this.stateFile, JSON.stringify(record));
  }
}

/**
 * Cleans up servers whose owning process is gone (a crashed Jest worker, a
 * SIGKILLed `infra up`). Servers of live processes — another engineer's test
 * run — are left alone, except those owned by `ownedBy` or by its children
 * (the Jest parent process reaping its own workers' leftovers). Returns what
 * was cleaned, for logging.
 */
export function reapOrphans(options: { ownedBy?: number } = {}): string[] {
  const cleaned: string[] = [];
  let files: string[];
  try {
    files = fs.readdirSync(stateDir()).filter(f => f.endsWith('.json'));
  } catch {
    return cleaned;
  }
  for (const file of files) {
    const full = path.join(stateDir(), file);
    let record: StateRecord;
    try {
      record = JSON.parse(fs.readFileSync(full, 'utf8'));
    } catch {
      continue; // being written right now
    }
    const reap =
      !isAlive(record.owner) ||
      (options.ownedBy !== undefined &&
        (record.owner === options.ownedBy ||
          parentPid(record.owner) === options.ownedBy));
    if (!reap) continue;
    for (const { pid, command } of record.processes ?? []) {
      if (runsCommand(pid, command)) killGroup(pid, 'SIGKILL');
    }
    for (const dir of record.dirs) {
      unmountUnder(dir);
      fs.rmSync(dir, { recursive: true, force: true });
    }
    fs.rmSync(full, { force: true });
    cleaned.push(`${record.name} (owner pid ${record.owner})`);
  }
  return cleaned;
}
