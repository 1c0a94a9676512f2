/*
 * A real Git server for tests: `git http-backend` (smart HTTP, run as CGI)
 * behind a small Node HTTP server that does Basic auth. Clones, fetches and
 * pushes from the product and from the helpers here are ordinary Git
 * over-the-wire traffic.
 */
import { execFile, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  makeTempDir,
  removeDir,
  requireExecutable,
  ServiceHandle,
} from './process';

const run = promisify(execFile);

export interface GitAuthor {
  name: string;
  email: string;
}

/** The human whose commits the bot must never lose. */
export const HUMAN_AUTHOR: GitAuthor = {
  name: 'Dana Developer',
  email: 'dana@example.com',
};

export interface StartGitServerOptions {
  username?: string;
  password?: string;
  /** Let clients without credentials fetch (never push). Off by default. */
  anonymousRead?: boolean;
}

export interface GitCommitInfo {
  sha: string;
  authorName: string;
  authorEmail: string;
  /** Full message, trailing newline removed. */
  message: string;
}

export interface GitServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  username: string;
  password: string;
  /** Directory holding the bare repositories (`<name>.git`). */
  root: string;
  /** How many requests arrived, by service (`git-upload-pack`, `git-receive-pack`, `info/refs`…). */
  readonly requests: Readonly<Record<string, number>>;
  /** Clone URL of `<name>.git` (no credentials in it). */
  repoUrl(name: string): string;
  /**
   * Creates bare repository `<name>.git` whose first commit on `branch` holds
   * a copy of `fixtureDir` (or a README when none is given). Returns that commit.
   */
  createRepo(
    name: string,
    options?: { fixtureDir?: string; branch?: string; message?: string },
  ): Promise<string>;
  /**
   * Clones `<name>.git` over HTTP, lets `change` edit the working tree (or
   * writes `files`), commits as a human and pushes. Returns the new commit.
   */
  pushAsHuman(
    name: string,
    options: {
      branch?: string;
      files?: Record<string, string>;
      change?: (workTree: string) => Promise<void> | void;
      message?: string;
      author?: GitAuthor;
    },
  ): Promise<string>;
  /** Commits of `branch`, newest first. */
  log(name: string, branch?: string): Promise<GitCommitInfo[]>;
  /** Content of `file` at the tip of `branch`. */
  readFile(name: string, file: string, branch?: string): Promise<string>;
  /** The commit `branch` points to. */
  head(name: string, branch?: string): Promise<string>;
  /** Writes the tree of `commit` (a sha or ref) into `dir`, as a CI checkout has it. */
  checkout(name: string, commit: string, dir: string): Promise<void>;
  stop(): Promise<void>;
}

function git(): string {
  return requireExecutable(
    'git',
    'install it with `apt-get install -y git` (or run scripts/ensure-system-deps.sh)',
  );
}

/** An environment where no user or system Git config changes behaviour. */
export function isolatedGitEnv(
  extra: Record<string, string> = {},
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('GIT_')) env[k] = v;
  }
  return {
    ...env,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    ...extra,
  };
}

async function gitRun(
  args: string[],
  cwd: string,
  env?: Record<string, string>,
): Promise<string> {
  try {
    const { stdout } = await run(git(), args, {
      cwd,
      env: isolatedGitEnv(env),
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(
      `git ${args[0]} failed: ${(err.stderr ?? err.message).trim()}`,
    );
  }
}

const authorEnv = (a: GitAuthor): Record<string, string> => ({
  GIT_AUTHOR_NAME: a.name,
  GIT_AUTHOR_EMAIL: a.email,
  GIT_COMMITTER_NAME: a.name,
  GIT_COMMITTER_EMAIL: a.email,
});

/** Starts the server on a free 127.0.0.1 port with repositories in a temp dir. */
export async function startGitServer(
  options: StartGitServerOptions = {},
): Promise<GitServer> {
  const gitBin = git();
  const username = options.username ?? 'gitops';
  const password = options.password ?? crypto.randomBytes(12).toString('hex');
  const handle = new ServiceHandle('git-server');
  const dir = handle.addDir(await makeTempDir('git'));
  const root = path.join(dir, 'repos');
  fs.mkdirSync(root);
  const expected = Buffer.from(`${username}:${password}`);
  const requests: Record<string, number> = {};

  const authenticated = (req: http.IncomingMessage): boolean | undefined => {
    const header = req.headers.authorization;
    if (!header) return undefined;
    const m = /^Basic\s+(.+)$/i.exec(header);
    if (!m) return false;
    const given = Buffer.from(m[1], 'base64');
    return (
      given.length === expected.length &&
      crypto.timingSafeEqual(given, expected)
    );
  };

  const server = http.createServer((req, res) => {
    const reqUrl = new URL(req.url ?? '/', 'http://127.0.0.1');
    const service =
      reqUrl.searchParams.get('service') ??
      reqUrl.pathname.split('/').pop() ??
      'unknown';
    requests[service] = (requests[service] ?? 0) + 1;
    const isPush = service === 'git-receive-pack';
    const auth = authenticated(req);
    if (
      auth === false ||
      (auth === undefined && (isPush || !options.anonymousRead))
    ) {
      res.writeHead(401, {
        'www-authenticate': 'Basic realm="gitops-test-git"',
      });
      res.end('authentication required\n');
      req.resume();
      return;
    }

    // RFC 3875 CGI: request metadata in the environment, body on stdin,
    // headers then body on stdout.
    const cgi = spawn(gitBin, ['http-backend'], {
      env: isolatedGitEnv({
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: '1',
        // http-backend enables receive-pack only for an authenticated REMOTE_USER.
        ...(auth ? { REMOTE_USER: username } : {}),
        REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
        REQUEST_METHOD: req.method ?? 'GET',
        PATH_INFO: decodeURIComponent(reqUrl.pathname),
        QUERY_STRING: reqUrl.search.slice(1),
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        ...(req.headers['content-length']
          ? { CONTENT_LENGTH: req.headers['content-length'] }
          : {}),
        ...(req.headers['content-encoding']
          ? { HTTP_CONTENT_ENCODING: req.headers['content-encoding'] }
          : {}),
        ...(req.headers['git-protocol']
          ? { GIT_PROTOCOL: String(req.headers['git-protocol']) }
          : {}),
      }),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    req.pipe(cgi.stdin);
    cgi.stdin.on('error', () => undefined); // backend may finish before reading everything
    let stderr = '';
    cgi.stderr.on('data', d => {
      stderr += d;
    });

    let head = Buffer.alloc(0);
    let headersSent = false;
    cgi.stdout.on('data', (chunk: Buffer) => {
      if (headersSent) {
        res.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      let sep = head.indexOf('\r\n\r\n');
      let sepLen = 4;
      if (sep < 0) {
        sep = head.indexOf('\n\n');
        sepLen = 2;
      }
      if (sep < 0) return;
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of head
        .subarray(0, sep)
        .toString('latin1')
        .split(/\r?\n/)) {
        const i = line.indexOf(':');
        if (i < 0) continue;
        const key = line.slice(0, i).trim();
        const value = line.slice(i + 1).trim();
        if (key.toLowerCase() === 'status') status = parseInt(value, 10);
        else headers[key] = value;
      }
      res.writeHead(status, headers);
      headersSent = true;
      res.write(head.subarray(sep + sepLen));
    });
    cgi.on('close', code => {
      if (!headersSent) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`git http-backend failed (${code}): ${stderr}`);
        return;
      }
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const repoDir = (name: string) => path.join(root, `${name}.git`);
  const authConfig = [
    '-c',
    `http.extraHeader=Authorization: Basic ${Buffer.from(
      `${username}:${password}`,
    ).toString('base64')}`,
  ];

  const gitServer: GitServer = {
    url,
    username,
    password,
    root,
    requests,
    repoUrl: name => `${url}/${name}.git`,

    async createRepo(name, opts = {}) {
      const branch = opts.branch ?? 'main';
      const bare = repoDir(name);
      fs.mkdirSync(path.dirname(bare), { recursive: true });
      await gitRun(
        ['init', '--bare', '--quiet', `--initial-branch=${branch}`, bare],
        root,
      );
      const work = await makeTempDir('git-seed');
      try {
        await gitRun(['init', '--quiet', `--initial-branch=${branch}`], work);
        if (opts.fixtureDir) {
          fs.cpSync(opts.fixtureDir, work, { recursive: true });
        } else {
          fs.writeFileSync(path.join(work, 'README.md'), `# ${name}\n`);
        }
        await gitRun(['add', '--all'], work);
        await gitRun(
          ['commit', '--quiet', '-m', opts.message ?? 'Initial commit'],
          work,
          authorEnv(HUMAN_AUTHOR),
        );
        await gitRun(
          ['push', '--quiet', bare, `HEAD:refs/heads/${branch}`],
          work,
        );
        return (await gitRun(['rev-parse', 'HEAD'], work)).trim();
      } finally {
        await removeDir(work);
      }
    },

    async pushAsHuman(name, opts) {
      const branch = opts.branch ?? 'main';
      const work = await makeTempDir('git-human');
      try {
        await gitRun(
          [
            ...authConfig,
            'clone',
            '--quiet',
            '--branch',
            branch,
            gitServer.repoUrl(name),
            '.',
          ],
          work,
        );
        for (const [file, content] of Object.entries(opts.files ?? {})) {
          fs.mkdirSync(path.dirname(path.join(work, file)), {
            recursive: true,
          });
          fs.writeFileSync(path.join(work, file), content);
        }
        await opts.change?.(work);
        await gitRun(['add', '--all'], work);
        await gitRun(
          ['commit', '--quiet', '-m', opts.message ?? 'Change by a human'],
          work,
          authorEnv(opts.author ?? HUMAN_AUTHOR),
        );
        await gitRun(
          [
            ...authConfig,
            'push',
            '--quiet',
            'origin',
            `HEAD:refs/heads/${branch}`,
          ],
          work,
        );
        return (await gitRun(['rev-parse', 'HEAD'], work)).trim();
      } finally {
        await removeDir(work);
      }
    },

    async log(name, branch = 'main') {
      const sep = '\x1f';
      const end = '\x1e';
      const out = await gitRun(
        [
          'log',
          `--format=%H${sep}%an${sep}%ae${sep}%B${end}`,
          `refs/heads/${branch}`,
        ],
        repoDir(name),
      );
      return out
        .split(end)
        .map(entry => entry.replace(/^\n/, ''))
        .filter(entry => entry.length > 0)
        .map(entry => {
          const [sha, authorName, authorEmail, message] = entry.split(sep);
          return {
            sha,
            authorName,
            authorEmail,
            message: message.replace(/\n+$/, ''),
          };
        });
    },

    async readFile(name, file, branch = 'main') {
      return gitRun(['show', `refs/heads/${branch}:${file}`], repoDir(name));
    },

    async head(name, branch = 'main') {
      return (
        await gitRun(['rev-parse', `refs/heads/${branch}`], repoDir(name))
      ).trim();
    },

    async checkout(name, commit, into) {
      const archive = path.join(into, '.checkout.tar');
      await gitRun(
        ['archive', '--format=tar', '-o', archive, commit],
        repoDir(name),
      );
      try {
        await run('tar', ['-xf', archive, '-C', into]);
      } finally {
        fs.rmSync(archive, { force: true });
      }
    },

    async stop() {
      await new Promise<void>(resolve => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
      await handle.stop();
    },
  };
  return gitServer;
}
