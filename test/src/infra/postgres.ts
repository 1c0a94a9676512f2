/*
 * A throw-away PostgreSQL cluster (Debian's `postgresql` package): initdb in a
 * temp dir, listening on 127.0.0.1 on a free port with its unix socket in the
 * same dir. PostgreSQL refuses to run as root, so when we are root the server
 * runs as the `postgres` system user.
 */
import { execFile, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  freePort,
  makeTempDir,
  MissingToolError,
  ServiceHandle,
  waitFor,
} from './process';

const run = promisify(execFile);

export interface PostgresConnection {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

export interface Postgres {
  /** For `pg.Client`/`knex` (`connection:`) and Backstage's `backend.database.connection`. */
  connection: PostgresConnection;
  /** `postgresql://user:password@127.0.0.1:port/database` */
  url: string;
  dir: string;
  logFile: string;
  stop(): Promise<void>;
}

const INSTALL_HINT =
  'install it with `apt-get install -y postgresql` (or run scripts/ensure-system-deps.sh)';

function postgresBinDir(): string {
  if (process.env.GITOPS_POSTGRES_BIN) return process.env.GITOPS_POSTGRES_BIN;
  const base = '/usr/lib/postgresql';
  let versions: string[] = [];
  try {
    versions = fs
      .readdirSync(base)
      .filter(v => fs.existsSync(path.join(base, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
  } catch {
    // not installed
  }
  if (versions.length === 0) {
    throw new MissingToolError(
      `PostgreSQL server (initdb) not found under ${base}: ${INSTALL_HINT}`,
    );
  }
  return path.join(base, versions[0], 'bin');
}

function runAsIds(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(
      execFileSync('id', ['-u', 'postgres']).toString().trim(),
    );
    const gid = Number(
      execFileSync('id', ['-g', 'postgres']).toString().trim(),
    );
    return { uid, gid };
  } catch {
    throw new MissingToolError(
      `running as root, PostgreSQL needs the \`postgres\` system user: ${INSTALL_HINT}`,
    );
  }
}

/** Creates and starts a fresh cluster; resolves when it accepts connections. */
export async function startPostgres(
  options: { database?: string } = {},
): Promise<Postgres> {
  const bin = postgresBinDir();
  const ids = runAsIds();
  const user = 'gitops';
  const password = crypto.randomBytes(12).toString('hex');
  const database = options.database ?? 'gitops';
  const handle = new ServiceHandle('postgres');
  try {
    const dir = handle.addDir(await makeTempDir('postgres'));
    const dataDir = path.join(dir, 'data');
    const logFile = path.join(dir, 'postgres.log');
    const pwFile = path.join(dir, 'pwfile');
    fs.writeFileSync(pwFile, `${password}\n`);
    if (ids) {
      for (const p of [dir, pwFile]) fs.chownSync(p, ids.uid, ids.gid);
    }
    const asPostgres = {
      ...(ids ?? {}),
      cwd: dir,
      env: { ...process.env, LC_ALL: 'C.UTF-8' },
    };

    await run(
      path.join(bin, 'initdb'),
      [
        `--pgdata=${dataDir}`,
        `--username=${user}`,
        `--pwfile=${pwFile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        '--no-sync',
        '--no-instructions',
      ],
      asPostgres,
    ).catch(e => {
      throw new Error(
        `initdb failed: ${(e as { stderr?: string }).stderr ?? e}`,
      );
    });
    fs.rmSync(pwFile);

    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const proc = handle.spawn(
        'postgres',
        path.join(bin, 'postgres'),
        [
          '-D',
          dataDir,
          '-p',
          String(port),
          '-c',
          'listen_addresses=127.0.0.1',
          '-c',
          `unix_socket_directories=${dir}`,
          // A test database: crash safety buys nothing here.
          '-c',
          'fsync=off',
          '-c',
          'synchronous_commit=off',
          '-c',
          'full_page_writes=off',
          '-c',
          'max_connections=200',
        ],
        // SIGTERM is PostgreSQL's "smart" shutdown, which waits for clients
        // to leave; SIGINT is "fast" and does not.
        { ...asPostgres, logFile, stopSignal: 'SIGINT' },
      );
      if (ids) fs.chownSync(logFile, ids.uid, ids.gid);
      try {
        await waitFor(
          `PostgreSQL on 127.0.0.1:${port}`,
          async () =>
            // The socket file appears once the server accepts connections.
            fs.existsSync(path.join(dir, `.s.PGSQL.${port}`)) &&
            new Promise<boolean>(resolve => {
              const socket = net.connect(port, '127.0.0.1', () => {
                socket.destroy();
                resolve(true);
              });
              socket.on('error', () => resolve(false));
            }),
          { timeoutMs: 30_000, intervalMs: 100, abort: proc.deathError },
        );
      } catch (e) {
        if (
          attempt < 3 &&
          !proc.running &&
          /already in use/.test(proc.logTail())
        )
          continue;
        throw e;
      }
      const connection = { host: '127.0.0.1', port, user, password, database };
      if (database !== 'postgres') {
        await run(
          path.join(bin, 'createdb'),
          ['-h', '127.0.0.1', '-p', String(port), '-U', user, database],
          { env: { ...process.env, PGPASSWORD: password } },
        );
      }
      return {
        connection,
        url: `postgresql://${user}:${password}@127.0.0.1:${port}/${database}`,
        dir,
        logFile,
        stop: () => handle.stop(5_000),
      };
    }
  } catch (e) {
    await handle.stop(1_000);
    throw e;
  }
}
