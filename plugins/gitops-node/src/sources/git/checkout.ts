import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import git from 'isomorphic-git';
import { InputError, ServiceUnavailableError } from '@backstage/errors';

/*
 * Writing a whole working tree from a clone's packs. isomorphic-git reads
 * each object on its own (a failed open of a loose object, a listing of the
 * pack directory and a pure-JS inflate every time, about 0.8 ms), which made
 * the checkout of a 5,000-file repository take 4 s; here the packs are
 * indexed once and inflated with Node's zlib, and files are written in
 * parallel.
 */

type ObjectType = 'commit' | 'tree' | 'blob' | 'tag';
interface GitObject {
  type: ObjectType;
  data: Buffer;
}

interface Pack {
  file: string;
  data?: Buffer;
  /** Where each object's bytes end: the next object's offset. */
  ends: Map<number, number>;
}

const PACK_TYPES: Record<number, ObjectType> = {
  1: 'commit',
  2: 'tree',
  3: 'blob',
  4: 'tag',
};
const OFS_DELTA = 6;
const REF_DELTA = 7;
/** Objects kept because another one is a delta on them; past this, forgotten. */
const MAX_BASE_BYTES = 64 * 1024 * 1024;
/** Files written at once: enough to keep the thread pool busy, few enough for descriptors. */
const WRITE_CONCURRENCY = 16;

const corrupt = (what: string) =>
  new ServiceUnavailableError(
    `the repository's data is corrupt (${what}); the clone is made again on the next poll`,
  );

/** Reads the objects of one repository, from its packs, else through isomorphic-git (loose objects). */
export class ObjectReader {
  private readonly bases = new Map<string, GitObject>();
  private baseBytes = 0;

  private constructor(
    private readonly gitdir: string,
    private readonly cache: object,
    private readonly packed: Map<string, { pack: Pack; offset: number }>,
  ) {}

  static async open(gitdir: string, cache: object): Promise<ObjectReader> {
    const packDir = path.join(gitdir, 'objects', 'pack');
    const names = await fs.promises.readdir(packDir).catch(() => []);
    const packed = new Map<string, { pack: Pack; offset: number }>();
    for (const name of names.filter(n => n.endsWith('.idx'))) {
      const idx = await fs.promises.readFile(path.join(packDir, name));
      const pack: Pack = {
        file: path.join(packDir, name.replace(/\.idx$/, '.pack')),
        ends: new Map(),
      };
      const offsets = readPackIndex(idx, name);
      for (const [oid, offset] of offsets) packed.set(oid, { pack, offset });
      const sorted = [...offsets.values()].sort((a, b) => a - b);
      for (let i = 0; i < sorted.length; i++) {
        // The last object ends where the pack's 20-byte checksum starts (-20).
        pack.ends.set(sorted[i], i + 1 < sorted.length ? sorted[i + 1] : -20);
      }
    }
    return new ObjectReader(gitdir, cache, packed);
  }

  async read(oid: string): Promise<GitObject> {
    const where = this.packed.get(oid);
    if (!where) {
      const { type, object } = await git.readObject({
        fs,
        cache: this.cache,
        gitdir: this.gitdir,
        oid,
        format: 'content',
      });
      return {
        type: type as ObjectType,
        data: Buffer.from(object as Uint8Array),
      };
    }
    const { pack, offset } = where;
    pack.data ??= await fs.promises.readFile(pack.file);
    return this.readAt(pack, offset);
  }

  private async readAt(pack: Pack, offset: number): Promise<GitObject> {
    const data = pack.data!;
    let pos = offset;
    let byte = data[pos++];
    const kind = (byte >> 4) & 7;
    let size = byte & 15;
    for (let shift = 4; byte & 0x80; shift += 7) {
      byte = data[pos++];
      size += (byte & 0x7f) * 2 ** shift;
    }
    let base: GitObject | undefined;
    if (kind === OFS_DELTA) {
      byte = data[pos++];
      let distance = byte & 0x7f;
      while (byte & 0x80) {
        byte = data[pos++];
        distance = (distance + 1) * 128 + (byte & 0x7f);
      }
      base = await this.base(`${pack.file}:${offset - distance}`, () =>
        this.readAt(pack, offset - distance),
      );
    } else if (kind === REF_DELTA) {
      const baseOid = data.toString('hex', pos, pos + 20);
      pos += 20;
      base = await this.base(baseOid, () => this.read(baseOid));
    } else if (!PACK_TYPES[kind]) {
      throw corrupt(
        `unknown object type ${kind} in ${path.basename(pack.file)}`,
      );
    }
    const end = pack.ends.get(offset);
    let raw: Buffer;
    try {
      raw = zlib.inflateSync(
        data.subarray(
          pos,
          end === undefined || end < 0 ? data.length - 20 : end,
        ),
      );
    } catch (e) {
      throw corrupt(`${(e as Error).message} in ${path.basename(pack.file)}`);
    }
    if (raw.length !== size) {
      throw corrupt(
        `an object of ${path.basename(pack.file)} has the wrong size`,
      );
    }
    return base
      ? { type: base.type, data: applyDelta(raw, base.data) }
      : { type: PACK_TYPES[kind], data: raw };
  }

  /** Delta chains share their bases: each is inflated once while it fits. */
  private async base(
    key: string,
    load: () => Promise<GitObject>,
  ): Promise<GitObject> {
    const known = this.bases.get(key);
    if (known) return known;
    const object = await load();
    if (this.baseBytes + object.data.length > MAX_BASE_BYTES) {
      this.bases.clear();
      this.baseBytes = 0;
    }
    this.bases.set(key, object);
    this.baseBytes += object.data.length;
    return object;
  }
}

/** A pack index (version 2): the offset of each object in its pack. */
function readPackIndex(idx: Buffer, name: string): Map<string, number> {
  if (idx.length < 8 + 256 * 4 || idx.readUInt32BE(0) !== 0xff744f63) {
    throw corrupt(`${name} is not a version 2 pack index`);
  }
  const count = idx.readUInt32BE(8 + 255 * 4);
  const oids = 8 + 256 * 4;
  const small = oids + count * 24; // after the object ids and their CRCs
  const large = small + count * 4;
  const offsets = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    let offset = idx.readUInt32BE(small + i * 4);
    if (offset & 0x80000000) {
      offset = Number(idx.readBigUInt64BE(large + (offset & 0x7fffffff) * 8));
    }
    offsets.set(idx.toString('hex', oids + i * 20, oids + i * 20 + 20), offset);
  }
  return offsets;
}

/** Git's delta format: copies from the base and inserted bytes. */
function applyDelta(delta: Buffer, base: Buffer): Buffer {
  let pos = 0;
  const varint = () => {
    let value = 0;
    let byte;
    let shift = 0;
    do {
      byte = delta[pos++];
      value += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte & 0x80);
    return value;
  };
  if (varint() !== base.length) throw corrupt('a delta on the wrong base');
  const out = Buffer.allocUnsafe(varint());
  let at = 0;
  while (pos < delta.length) {
    const op = delta[pos++];
    if (op & 0x80) {
      let from = 0;
      let length = 0;
      for (let i = 0; i < 4; i++) {
        if (op & (1 << i)) from += delta[pos++] * 2 ** (8 * i);
      }
      for (let i = 0; i < 3; i++) {
        if (op & (0x10 << i)) length += delta[pos++] * 2 ** (8 * i);
      }
      if (length === 0) length = 0x10000;
      if (from + length > base.length || at + length > out.length) {
        throw corrupt('a delta copies past its base');
      }
      base.copy(out, at, from, from + length);
      at += length;
    } else if (op) {
      if (at + op > out.length || pos + op > delta.length) {
        throw corrupt('a delta inserts past its end');
      }
      delta.copy(out, at, pos, pos + op);
      pos += op;
      at += op;
    } else {
      throw corrupt('a delta with a reserved instruction');
    }
  }
  if (at !== out.length) throw corrupt('a delta of the wrong length');
  return out;
}

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
  await inParallel(files, async file => {
    if (file.mode === 0o160000) return;
    const target = path.join(into, file.path);
    const { type, data } = await reader.read(file.oid);
    if (type !== 'blob') throw corrupt(`${file.oid} is not a blob`);
    if (file.mode === 0o120000) {
      await fs.promises.symlink(data.toString('utf8'), target);
    } else {
      await fs.promises.writeFile(target, data, {
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
  const sorted = [...files].sort((a, b) => compareBytes(a.path, b.path));
  const entries = new Array<Buffer>(sorted.length);
  const u32 = (n: number) => Math.floor(n) % 2 ** 32;
  await inParallel(
    sorted.map((file, i) => ({ file, i })),
    async ({ file, i }) => {
      const stats = await fs.promises.lstat(path.join(dir, file.path));
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
      entries[i] = entry;
    },
  );
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

/** Git orders index entries by the bytes of their paths. */
function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

async function inParallel<T>(
  items: T[],
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from(
      { length: Math.min(WRITE_CONCURRENCY, items.length) },
      async () => {
        while (next < items.length) await fn(items[next++]);
      },
    ),
  );
}

/**
 * Checks commit `sha` out into the fresh clone `dir`, whose working tree is
 * still empty: files and index.
 */
export async function checkOutFresh(
  dir: string,
  sha: string,
  cache: object,
): Promise<void> {
  const reader = await ObjectReader.open(path.join(dir, '.git'), cache);
  const files = await writeTree(reader, await treeOfCommit(reader, sha), dir);
  await writeIndex(dir, files);
}
