import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { InputError } from '@backstage/errors';
import { compareBytes } from '../../util/bytes';
import { ObjectReader, corrupt } from './pack';

/*
 * Writing a whole working tree. Files are written with synchronous calls in
 * small batches: for small files a thread-pool round trip per call costs
 * more than the call itself (3x here), and yielding after each batch keeps
 * the event loop responsive.
 */

/** Files written between two turns of the event loop (a few milliseconds of work). */
const BATCH = 100;

/** A file of the tree as the index records it. */
export interface CheckedOutFile {
  /** Relative, with `/`. */
  path: string;
  oid: string;
  /** 0o100644, 0o100755, 0o120000 (symlink) or 0o160000 (submodule). */
  mode: number;
}

/** The commit's root tree. */
export async function treeOfCommit(
  reader: ObjectReader,
  sha: string,
): Promise<string> {
  const { type, data } = await reader.read(sha);
  const match = /^tree ([0-9a-f]{40})\n/.exec(data.toString('latin1', 0, 46));
  if (type !== 'commit' || !match) throw corrupt(`${sha} is not a commit`);
  return match[1];
}

function parseTree(
  data: Buffer,
): Array<{ name: string; mode: number; oid: string }> {
  const out = [];
  const names = new Set<string>();
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    const nul = space < 0 ? -1 : data.indexOf(0, space);
    if (nul < 0 || nul + 21 > data.length) throw corrupt('a truncated tree');
    const mode = parseInt(data.toString('latin1', pos, space), 8);
    const name = data.toString('utf8', space + 1, nul);
    // As git refuses to check out: a name that leaves the directory, reaches
    // into .git, or is given twice (a symlink and a directory of one name
    // would write through the link).
    if (
      name === '' ||
      name === '.' ||
      name === '..' ||
      name.toLowerCase() === '.git' ||
      /[/\\]/.test(name) ||
      names.has(name)
    ) {
      throw new InputError(
        `the repository has a path git refuses to check out: ${JSON.stringify(
          name,
        )}`,
      );
    }
    names.add(name);
    out.push({ name, mode, oid: data.toString('hex', nul + 1, nul + 21) });
    pos = nul + 21;
  }
  return out;
}

/**
 * Writes the files of tree `oid` into the empty directory `into` as git
 * checks them out: executable modes, symlinks, and a submodule as an empty
 * directory. Returns every file, for the index.
 */
export async function writeTree(
  reader: ObjectReader,
  oid: string,
  into: string,
): Promise<CheckedOutFile[]> {
  const files: CheckedOutFile[] = [];
  const walk = async (tree: string, prefix: string) => {
    const { type, data } = await reader.read(tree);
    if (type !== 'tree') throw corrupt(`${tree} is not a tree`);
    await fs.promises.mkdir(path.join(into, prefix), { recursive: true });
    for (const entry of parseTree(data)) {
      const file = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (entry.mode === 0o40000) {
        await walk(entry.oid, file);
      } else if (entry.mode === 0o160000) {
        await fs.promises.mkdir(path.join(into, file));
        files.push({ path: file, oid: entry.oid, mode: entry.mode });
      } else {
        const mode =
          entry.mode === 0o120000 || entry.mode === 0o100755
            ? entry.mode
            : 0o100644;
        files.push({ path: file, oid: entry.oid, mode });
      }
    }
  };
  await walk(oid, '');
  await inBatches(files, async file => {
    if (file.mode === 0o160000) return;
    const target = path.join(into, file.path);
    const { type, data } = await reader.read(file.oid);
    if (type !== 'blob') throw corrupt(`${file.oid} is not a blob`);
    if (file.mode === 0o120000) {
      fs.symlinkSync(data.toString('utf8'), target);
    } else {
      fs.writeFileSync(target, data, {
        mode: file.mode === 0o100755 ? 0o755 : 0o644,
      });
    }
  });
  return files;
}

/**
 * Writes `.git/index` for files just written by `writeTree` into `dir`, with
 * their current stats, so that isomorphic-git (and git) see a clean tree.
 */
export async function writeIndex(
  dir: string,
  files: CheckedOutFile[],
): Promise<void> {
  // Git orders index entries by the bytes of their paths.
  const sorted = [...files].sort((a, b) => compareBytes(a.path, b.path));
  const entries: Buffer[] = [];
  const u32 = (n: number) => Math.floor(n) % 2 ** 32;
  await inBatches(sorted, file => {
    const stats = fs.lstatSync(path.join(dir, file.path));
    const name = Buffer.from(file.path);
    // 62 bytes of fields, the path, and 1 to 8 NULs up to a multiple of 8.
    const entry = Buffer.alloc(Math.ceil((62 + name.length + 1) / 8) * 8);
    const seconds = (ms: number) => Math.floor(ms / 1000);
    const nanos = (ms: number) => (ms - seconds(ms) * 1000) * 1e6;
    [
      seconds(stats.ctimeMs),
      nanos(stats.ctimeMs),
      seconds(stats.mtimeMs),
      nanos(stats.mtimeMs),
      stats.dev,
      stats.ino,
      file.mode,
      stats.uid,
      stats.gid,
      file.mode === 0o160000 ? 0 : stats.size,
    ].forEach((value, k) => entry.writeUInt32BE(u32(value), k * 4));
    entry.write(file.oid, 40, 20, 'hex');
    entry.writeUInt16BE(Math.min(name.length, 0xfff), 60);
    name.copy(entry, 62);
    entries.push(entry);
  });
  const header = Buffer.alloc(12);
  header.write('DIRC', 0, 'latin1');
  header.writeUInt32BE(2, 4);
  header.writeUInt32BE(sorted.length, 8);
  const body = Buffer.concat([header, ...entries]);
  const sum = crypto.createHash('sha1').update(body).digest();
  // Renamed into place: a crash never leaves half an index.
  const index = path.join(dir, '.git', 'index');
  await fs.promises.writeFile(`${index}.lock`, Buffer.concat([body, sum]));
  await fs.promises.rename(`${index}.lock`, index);
}

async function inBatches<T>(
  items: T[],
  fn: (item: T) => void | Promise<void>,
): Promise<void> {
  for (let i = 0; i < items.length; i++) {
    await fn(items[i]);
    if (i % BATCH === BATCH - 1) await new Promise(setImmediate);
  }
}

/**
 * Checks commit `sha` out into the fresh clone `dir`, whose working tree is
 * still empty: files and index.
 */
export async function checkOutFresh(
  dir: string,
  reader: ObjectReader,
  sha: string,
): Promise<void> {
  const files = await writeTree(reader, await treeOfCommit(reader, sha), dir);
  await writeIndex(dir, files);
}
