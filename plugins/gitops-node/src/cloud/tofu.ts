import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ServiceUnavailableError } from '@backstage/errors';
import { findExecutable } from '../util/executable';

export interface TofuOptions {
  /** The tofu binary (`gitops.tofuPath`); else `GITOPS_TOFU`, else `tofu` on PATH. */
  tofuPath?: string;
  /** Kills one tofu command that takes longer (default 10 minutes). */
  timeoutMs?: number;
  /**
   * A directory laid out as a provider mirror (`tofu providers mirror`):
   * providers come from it, never from a registry.
   */
  providerMirror?: string;
}

/** Where tofu's diagnostics point: a file and line, or a resource. */
export interface TofuDiagnostic {
  severity: 'error' | 'warning';
  summary: string;
  detail?: string;
  file?: string;
  line?: number;
  address?: string;
}

export interface TofuResult {
  exitCode: number;
  /** The `-json` messages tofu printed, in order. */
  messages: Array<Record<string, any>>;
  diagnostics: TofuDiagnostic[];
  stdout: string;
}

const DEFAULT_TIMEOUT_MS = 10 * 60_000;
/** After SIGTERM, tofu releases its state lock and stops; then it is killed. */
const TERMINATE_GRACE_MS = 10_000;
const MAX_OUTPUT_BYTES = 16 * 1024 * 1024;

export function findTofu(options: TofuOptions): Promise<string> {
  const fromEnv = options.tofuPath === undefined;
  return findExecutable('tofu', {
    configured: options.tofuPath ?? process.env.GITOPS_TOFU,
    configuredAs: fromEnv ? 'GITOPS_TOFU' : 'gitops.tofuPath',
    missing:
      'OpenTofu (tofu) was not found on PATH: build it with `scripts/build-k8s.sh --tofu` and set gitops.tofuPath to the path it prints plus /tofu, or install OpenTofu on PATH',
  });
}

function diagnosticOf(raw: Record<string, any>): TofuDiagnostic {
  const diagnostic: TofuDiagnostic = {
    severity: raw.severity === 'warning' ? 'warning' : 'error',
    summary: String(raw.summary ?? 'error'),
  };
  if (raw.detail) diagnostic.detail = String(raw.detail);
  if (raw.range?.filename) diagnostic.file = String(raw.range.filename);
  if (raw.range?.start?.line) diagnostic.line = Number(raw.range.start.line);
  if (raw.address) diagnostic.address = String(raw.address);
  return diagnostic;
}

/** "main.tf line 4: Unsupported argument: …", or the resource's address first. */
export function describeDiagnostic(diagnostic: TofuDiagnostic): string {
  const where = [
    diagnostic.file && `${diagnostic.file} line ${diagnostic.line ?? '?'}`,
    diagnostic.address,
  ]
    .filter(Boolean)
    .join(', ');
  const detail = diagnostic.detail?.split('\n').find(l => l.trim());
  return `${where ? `${where}: ` : ''}${diagnostic.summary}${
    detail ? `: ${detail.trim()}` : ''
  }`;
}

/**
 * Runs OpenTofu in working directories of its own, offline: the CLI config
 * it is given installs providers only from the mirror (or nowhere), and no
 * command waits for input or asks for a checkpoint.
 */
export class Tofu {
  private binary?: Promise<string>;

  constructor(private readonly options: TofuOptions = {}) {}

  /** The binary, found once; a ServiceUnavailableError saying how to get it when missing. */
  path(): Promise<string> {
    this.binary ??= findTofu(this.options);
    // Not found is asked again next time: someone may install it meanwhile.
    this.binary.catch(() => {
      this.binary = undefined;
    });
    return this.binary;
  }

  /** Writes the CLI configuration that keeps `init` off the network. */
  async writeCliConfig(dir: string): Promise<string> {
    const file = path.join(dir, 'tofu.rc');
    // With no mirror, only providers built into tofu (terraform_data) are available.
    const mirror =
      this.options.providerMirror ?? path.join(dir, 'no-providers');
    const installation = `provider_installation {\n  filesystem_mirror {\n    path = ${JSON.stringify(
      mirror,
    )}\n  }\n}\n`;
    await fs.writeFile(file, installation, { mode: 0o600 });
    return file;
  }

  /**
   * One tofu command in `dir` with `-json` output parsed; resolves with its
   * exit code (tofu uses 2 for "changes present"). Stopped at the deadline
   * or when `signal` aborts (SIGTERM first, so tofu releases its state lock).
   */
  async run(
    dir: string,
    args: string[],
    env: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<TofuResult> {
    const binary = await this.path();
    if (signal?.aborted)
      throw new ServiceUnavailableError(
        `tofu ${args[0]} was not started: the backend is shutting down`,
      );
    const timeoutMs = this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const child = spawn(binary, args, {
        cwd: dir,
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: dir,
          TF_CLI_CONFIG_FILE: path.join(dir, 'tofu.rc'),
          TF_IN_AUTOMATION: '1',
          TF_INPUT: '0',
          CHECKPOINT_DISABLE: '1',
          TF_PLUGIN_CACHE_DIR: '',
          ...env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      let size = 0;
      let stopped: string | undefined;
      const take = (chunk: Buffer, into: 'out' | 'err') => {
        size += chunk.length;
        if (size > MAX_OUTPUT_BYTES) return;
        if (into === 'out') stdout += chunk.toString();
        else stderr += chunk.toString();
      };
      child.stdout.on('data', chunk => take(chunk, 'out'));
      child.stderr.on('data', chunk => take(chunk, 'err'));
      const stop = (why: string) => {
        stopped ??= why;
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), TERMINATE_GRACE_MS).unref();
      };
      const kill = setTimeout(
        () =>
          stop(
            `took longer than ${Math.round(
              timeoutMs / 1000,
            )} s and was stopped`,
          ),
        timeoutMs,
      );
      const onAbort = () => stop('was stopped: the backend is shutting down');
      signal?.addEventListener('abort', onAbort);
      const done = () => {
        clearTimeout(kill);
        signal?.removeEventListener('abort', onAbort);
      };
      child.on('error', error => {
        done();
        reject(error);
      });
      child.on('close', code => {
        done();
        if (stopped) {
          reject(new ServiceUnavailableError(`tofu ${args[0]} ${stopped}`));
          return;
        }
        const messages: Array<Record<string, any>> = [];
        for (const line of stdout.split('\n')) {
          if (!line.startsWith('{')) continue;
          try {
            messages.push(JSON.parse(line));
          } catch {
            // Not one of tofu's JSON messages.
          }
        }
        const diagnostics = messages
          .filter(m => m.type === 'diagnostic' && m.diagnostic)
          .map(m => diagnosticOf(m.diagnostic));
        // Commands without -json (output) and early failures speak on stderr.
        if (code !== 0 && code !== 2 && diagnostics.length === 0) {
          const summary = stderr
            .split('\n')
            .map(l => l.replace(/^[│╷╵\s]+/, '').trim())
            .filter(Boolean);
          const errorAt = summary.findIndex(l => l.startsWith('Error:'));
          diagnostics.push({
            severity: 'error',
            summary:
              (errorAt >= 0
                ? summary.slice(errorAt, errorAt + 3).join(' ')
                : summary.slice(-3).join(' ')) ||
              `tofu ${args[0]} exited with ${code}`,
          });
        }
        resolve({ exitCode: code ?? 1, messages, diagnostics, stdout });
      });
    });
  }
}
