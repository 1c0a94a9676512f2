import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { withLock } from './lock';

describe('withLock', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitops-lock-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('takes over a lock whose owner process has died', async () => {
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    const lockFile = path.join(dir, 'clone.lock');
    fs.writeFileSync(lockFile, String(dead));
    await expect(withLock(lockFile, 1000, async () => 'ran')).resolves.toBe(
      'ran',
    );
    expect(fs.existsSync(lockFile)).toBe(false);
  });

  it('waits for a live owner and then says who holds it', async () => {
    const lockFile = path.join(dir, 'clone.lock');
    // The parent of this test process is alive for as long as the test runs.
    fs.writeFileSync(lockFile, String(process.ppid));
    await expect(withLock(lockFile, 300, async () => 'ran')).rejects.toThrow(
      `working clone is locked by process ${process.ppid}`,
    );
  });
});
