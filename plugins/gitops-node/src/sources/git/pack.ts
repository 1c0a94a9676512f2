import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import git from 'isomorphic-git';
import { ServiceUnavailableError } from '@backstage/errors';

/*
 * Git's pack files, read and indexed with Node's zlib. isomorphic-git reads
 * each object on its own (a failed open of a loose object, a listing of the
 * pack directory and a pure-JS inflate every time, about 0.8 ms), which made
 * the checkout of a 5,000-file repository take 4 s, and indexes a received
 * pack with two pure-JS inflates and an asynchronous hash per object.
 */

export type ObjectType = 'commit' | 'tree' | 'blob' | 'tag';
export interface GitObject {
  type: ObjectType;
  data: Buffer;
}

interface Pack {
  file: string;
  /** Distinguishes the reader's packs in short cache keys. */
  id: number;
  data?: Buffer;
  /** Where each object's bytes end: the next object's offset (the last one ends at the checksum). */
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
/**
 * Whole objects of a received pack kept inflated for the checkout that
 * follows (which reads each once), so it does not inflate them again; past
 * this, they are inflated again when read.
 */
const MAX_KEPT_BYTES = 64 * 1024 * 1024;

export const corrupt = (what: string) =>
  new ServiceUnavailableError(`the Git repository's data is corrupt: ${what}`);

/** Reads the objects of one repository, from its packs, else through isomorphic-git (loose objects). */
export class ObjectReader {
  private readonly bases = new Map<string, GitObject>();
  /** Inflated while a received pack is indexed, by offset: used once, then dropped. */
  private readonly inflated = new Map<number, Buffer>();
  private inflatedBytes = 0;
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
    for (const [id, name] of names.filter(n => n.endsWith('.idx')).entries()) {
      const idx = await fs.promises.readFile(path.join(packDir, name));
      const pack: Pack = {
        file: path.join(packDir, name.replace(/\.idx$/, '.pack')),
        id,
        ends: new Map(),
      };
      const offsets = readPackIndex(idx, name);
      for (const [oid, offset] of offsets) packed.set(oid, { pack, offset });
      const sorted = [...offsets.values()].sort((a, b) => a - b);
      for (let i = 0; i + 1 < sorted.length; i++) {
        pack.ends.set(sorted[i], sorted[i + 1]);
      }
    }
    return new ObjectReader(gitdir, cache, packed);
  }

  /**
   * Checks and indexes a pack received from a server, which is then written
   * as `pack-<checksum>.pack` beside the returned `.idx` (version 2). The
   * returned reader reads the new repository's objects from memory.
   */
  static async indexPack(
    data: Buffer,
    gitdir: string,
    cache: object,
  ): Promise<{ reader: ObjectReader; idx: Buffer; checksum: string }> {
    if (
      data.length < 32 ||
      data.toString('latin1', 0, 4) !== 'PACK' ||
      ![2, 3].includes(data.readUInt32BE(4))
    ) {
      throw corrupt('the server sent no pack of a known version');
    }
    const checksum = data.toString('hex', data.length - 20);
    const actual = crypto
      .createHash('sha1')
      .update(data.subarray(0, data.length - 20))
      .digest('hex');
    if (actual !== checksum)
      throw corrupt("the pack's checksum does not match");
    const count = data.readUInt32BE(8);
    const bodyEnd = data.length - 20;
    const pack: Pack = {
      file: path.join(gitdir, 'objects', 'pack', `pack-${checksum}.pack`),
      id: 0,
      data,
      ends: new Map(),
    };
    const reader = new ObjectReader(gitdir, cache, new Map());
    const entries: Array<{ oid: Buffer; offset: number; crc: number }> = [];
    const add = (offset: number, end: number, object: GitObject) => {
      const oid = crypto
        .createHash('sha1')
        .update(`${object.type} ${object.data.length}\0`)
        .update(object.data)
        .digest();
      reader.packed.set(oid.toString('hex'), { pack, offset });
      entries.push({
        oid,
        offset,
        crc: zlib.crc32(data.subarray(offset, end)),
      });
    };
    // Objects follow each other; only inflating one tells where it ends.
    // Whole objects are hashed at once; deltas keep their (small) inflated
    // instructions until their bases are known.
    const deltas: number[] = [];
    let pos = 12;
    for (let i = 0; i < count; i++) {
      if (pos >= bodyEnd) {
        throw corrupt('the pack has fewer objects than it says');
      }
      const offset = pos;
      const header = objectHeader(data, offset);
      const { buffer, engine } = inflate(
        data.subarray(header.start, bodyEnd),
        header.size,
        'the received pack',
      );
      pos = header.start + engine.bytesWritten;
      pack.ends.set(offset, pos);
      if (header.kind === OFS_DELTA || header.kind === REF_DELTA) {
        reader.keepInflated(offset, buffer);
        deltas.push(offset);
      } else {
        add(offset, pos, { type: PACK_TYPES[header.kind], data: buffer });
        if (reader.inflatedBytes + buffer.length <= MAX_KEPT_BYTES)
          reader.keepInflated(offset, buffer);
      }
    }
    // A ref-delta names its base by id, known once the base is hashed.
    let pending = deltas;
    while (pending.length > 0) {
      const later: number[] = [];
      for (const offset of pending) {
        const { baseOid } = objectHeader(data, offset);
        if (baseOid && !reader.packed.has(baseOid)) later.push(offset);
        else
          add(
            offset,
            pack.ends.get(offset)!,
            await reader.readAt(pack, offset),
          );
      }
      if (later.length === pending.length) {
        throw corrupt('a delta on an object the pack lacks');
      }
      pending = later;
    }
    entries.sort((a, b) => Buffer.compare(a.oid, b.oid));
    // Entry b of the fanout: how many ids start with a byte <= b.
    const fanout = Buffer.alloc(256 * 4);
    const perByte = new Array<number>(256).fill(0);
    for (const { oid } of entries) perByte[oid[0]]++;
    for (let b = 0, total = 0; b < 256; b++) {
      total += perByte[b];
      fanout.writeUInt32BE(total, b * 4);
    }
    const crcs = Buffer.alloc(entries.length * 4);
    const small = Buffer.alloc(entries.length * 4);
    const large: Buffer[] = [];
    entries.forEach(({ crc, offset }, i) => {
      crcs.writeUInt32BE(crc, i * 4);
      if (offset < 0x80000000) {
        small.writeUInt32BE(offset, i * 4);
      } else {
        small.writeUInt32BE((0x80000000 | large.length) >>> 0, i * 4);
        const wide = Buffer.alloc(8);
        wide.writeBigUInt64BE(BigInt(offset));
        large.push(wide);
      }
    });
    const body = Buffer.concat([
      Buffer.from([0xff, 0x74, 0x4f, 0x63, 0, 0, 0, 2]),
      fanout,
      ...entries.map(e => e.oid),
      crcs,
      small,
      ...large,
      data.subarray(data.length - 20),
    ]);
    const idx = Buffer.concat([
      body,
      crypto.createHash('sha1').update(body).digest(),
    ]);
    return { reader, idx, checksum };
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
    const { kind, size, start, baseDistance, baseOid } = objectHeader(
      data,
      offset,
    );
    let base: GitObject | undefined;
    if (baseDistance !== undefined) {
      base = await this.base(`${pack.id}:${offset - baseDistance}`, () =>
        this.readAt(pack, offset - baseDistance),
      );
    } else if (baseOid !== undefined) {
      base = await this.base(baseOid, () => this.read(baseOid));
    }
    const raw =
      this.takeInflated(offset) ??
      inflate(
        data.subarray(start, pack.ends.get(offset) ?? data.length - 20),
        size,
        path.basename(pack.file),
      ).buffer;
    return base
      ? { type: base.type, data: applyDelta(raw, base.data) }
      : { type: PACK_TYPES[kind], data: raw };
  }

  private keepInflated(offset: number, buffer: Buffer): void {
    this.inflated.set(offset, buffer);
    this.inflatedBytes += buffer.length;
  }

  private takeInflated(offset: number): Buffer | undefined {
    const buffer = this.inflated.get(offset);
    if (!buffer) return undefined;
    this.inflated.delete(offset);
    this.inflatedBytes -= buffer.length;
    return buffer;
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

/** An object's header in a pack: its kind, size, where its deflated data starts, and its delta base. */
function objectHeader(data: Buffer, offset: number) {
  let pos = offset;
  let byte = data[pos++];
  const kind = (byte >> 4) & 7;
  let size = byte & 15;
  for (let shift = 4; byte & 0x80; shift += 7) {
    byte = data[pos++];
    size += (byte & 0x7f) * 2 ** shift;
  }
  let baseDistance: number | undefined;
  let baseOid: string | undefined;
  if (kind === OFS_DELTA) {
    byte = data[pos++];
    baseDistance = byte & 0x7f;
    while (byte & 0x80) {
      byte = data[pos++];
      baseDistance = (baseDistance + 1) * 128 + (byte & 0x7f);
    }
    // A pack's objects start after its 12-byte header, and a base comes first.
    if (baseDistance === 0 || offset - baseDistance < 12) {
      throw corrupt(`a delta at offset ${offset} on a base outside the pack`);
    }
  } else if (kind === REF_DELTA) {
    baseOid = data.toString('hex', pos, pos + 20);
    pos += 20;
  } else if (!PACK_TYPES[kind]) {
    throw corrupt(`an object of unknown type ${kind} at offset ${offset}`);
  }
  return { kind, size, start: pos, baseDistance, baseOid };
}

/**
 * Inflates one object's data (which may be followed by other bytes), sized
 * for its stated size (up to 1 MiB) so that small objects take one small
 * buffer; `engine.bytesWritten` is how many bytes it took.
 */
function inflate(
  deflated: Buffer,
  size: number,
  where: string,
): { buffer: Buffer; engine: zlib.Inflate } {
  let result: { buffer: Buffer; engine: zlib.Inflate };
  try {
    result = zlib.inflateSync(deflated, {
      chunkSize: Math.max(64, Math.min(size + 1, 1 << 20)),
      info: true,
    }) as unknown as { buffer: Buffer; engine: zlib.Inflate };
  } catch (e) {
    throw corrupt(`${(e as Error).message} in ${where}`);
  }
  if (result.buffer.length !== size) {
    throw corrupt(`an object of ${where} has the wrong size`);
  }
  return result;
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
