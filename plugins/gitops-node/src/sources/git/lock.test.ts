import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { withLock } from './lock';

jest.setTimeout(60_000);

/**
 * A separate Node process running this module's `withLock`, as another pod
 * sharing the cache directory would: `script` gets `withLock`, `lockPath`
 * and `dir` and may print lines the test waits for.
 */
function startProcess(lockPath: string, dir: string, script: string) {
  const file = path.join(dir, `child-${Math.random().toString(36)}.js`);
  fs.writeFileSync(
    file,
    `const { withLock } = require(${JSON.stringify(
      path.join(__dirname, 'lock.ts'),
    )});\nconst lockPath = ${JSON.stringify(
      lockPath,
    )};\nconst dir = ${JSON.stringify(dir)};\n(async () => {\n${script}\n})()` +
      `.then(() => process.exit(0), e => { console.error(e); process.exit(1); });\n`,
  );
  const child = spawn(
    process.execPath,
    ['--require', require.resolve('@backstage/cli/config/nodeTransform.cjs'), file],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout!.on('data', chunk => (out += chunk));
  child.stderr!.on('data', chunk => (err += chunk));
  const exited = new Promise<number | null>(resolve =>
    child.on('exit', code => resolve(code)),
  );
  return {
    child,
    exited,
    output: () => `${out}${err}`,
    async printed(line: string) {
      while (!out.split('\n').includes(line)) {
        if (child.exitCode !== null)
          throw new Error(`child exited: ${out}${err}`);
        await new Promise(resolve => setTimeout(resolve, 20));
      }
    },
  };
}

/** Enters the critical section: a second holder at the same time finds `marker` and fails. */
const CRITICAL_SECTION = `
  const fs = require('node:fs');
  const path = require('node:path');
  const marker = path.join(dir, 'holder');
  const enter = async () => {
    fs.writeFileSync(marker, String(process.pid), { flag: 'wx' });
    await new Promise(resolve => setTimeout(resolve, 5 + Math.random() * 10));
    fs.rmSync(marker);
  };
`;

describe('withLock', () => {
  let dir: string;
  const children: ChildProcess[] = [];
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitops-lock-'));
  });
  afterEach(() => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('never lets two processes, or two callers in one, hold the lock at once', async () => {
    const lockPath = path.join(dir, 'clone.lock');
    const rounds = 15;
    const script = `${CRITICAL_SECTION}
      for (let i = 0; i < ${rounds}; i++) await withLock(lockPath, { timeoutMs: 30000 }, enter);`;
    const others = [
      startProcess(lockPath, dir, script),
      startProcess(lockPath, dir, script),
    ];
    children.push(...others.map(o => o.child));
    // A third process runs two callers of its own, which queue in process first.
    const here = startProcess(lockPath, dir, `${CRITICAL_SECTION}
      await Promise.all([0, 1].map(async () => {
        for (let i = 0; i < ${rounds}; i++) await withLock(lockPath, { timeoutMs: 30000 }, enter);
      }));`);
    children.push(here.child);
    const codes = await Promise.all([...others, here].map(o => o.exited));
    expect({
      codes,
      output: [...others, here].map(o => o.output()).join(''),
    }).toEqual({ codes: [0, 0, 0], output: '' });
    expect(fs.existsSync(lockPath)).toBe(false);
  });

  it('waits for a live holder, then takes over once that holder is killed', async () => {
    const lockPath = path.join(dir, 'clone.lock');
    const holder = startProcess(
      lockPath,
      dir,
      `await withLock(lockPath, { timeoutMs: 1000, staleMs: 2000 }, async () => {
        console.log('held');
        // The lock's refresh timer is unref'd: an interval keeps this process alive, as a server would.
        await new Promise(() => setInterval(() => undefined, 1000));
      });`,
    );
    children.push(holder.child);
    await holder.printed('held');

    // Alive, it keeps the lock fresh: waiting longer than its stale time still finds it held.
    await expect(
      withLock(lockPath, { timeoutMs: 3000, staleMs: 2000 }, async () => 'ran'),
    ).rejects.toMatchObject({
      name: 'ServiceUnavailableError',
      message: `${lockPath} is still locked by another reconcile after 3000ms`,
    });

    // A pod that dies cannot release: the lock goes stale and is taken over.
    holder.child.kill('SIGKILL');
    await holder.exited;
    await expect(
      withLock(lockPath, { timeoutMs: 20_000, staleMs: 2000 }, async () => 'ran'),
    ).resolves.toBe('ran');
    expect(fs.existsSync(lockPath)).toBe(false);
  });
});
