import fs from 'node:fs';
import path from 'node:path';
import git, { Errors } from 'isomorphic-git';
import type { GitHttpResponse, HttpClient } from 'isomorphic-git';
import { NotFoundError, ServiceUnavailableError } from '@backstage/errors';
import { ObjectReader } from './pack';

/*
 * The first clone of a branch, at depth 1, over Git's smart HTTP protocol
 * (version 1). isomorphic-git's clone spends about 1 s of a 5,000-file
 * repository's clone indexing the received pack in pure JS; here the pack is
 * indexed with Node's zlib and crypto (pack.ts). Everything after it
 * (later fetches, commits, pushes) is isomorphic-git on the repository this
 * leaves, which is laid out as its own clone would be.
 */

const pktLine = (line: string) =>
  `${(Buffer.byteLength(line) + 4).toString(16).padStart(4, '0')}${line}`;
const FLUSH = '0000';

/** Splits a body of pkt-lines; a flush is an empty buffer. */
function* pktLines(body: Buffer, from = 0): Generator<[Buffer, number]> {
  let pos = from;
  while (pos + 4 <= body.length) {
    const length = parseInt(body.toString('latin1', pos, pos + 4), 16);
    if (Number.isNaN(length) || (length > 0 && length < 4)) {
      throw new ServiceUnavailableError(
        'the Git server answered with a malformed response',
      );
    }
    const end = length === 0 ? pos + 4 : pos + length;
    yield [body.subarray(length === 0 ? end : pos + 4, end), end];
    pos = end;
  }
}

async function collect(res: GitHttpResponse): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of res.body ?? []) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function request(
  http: HttpClient,
  req: Parameters<HttpClient['request']>[0],
  expectedType: string,
): Promise<Buffer> {
  const res = await http.request(req);
  const body = await collect(res);
  if (res.statusCode !== 200) {
    // isomorphic-git's error, which RemoteAccess turns into a sentence per status.
    throw new Errors.HttpError(
      res.statusCode,
      res.statusMessage,
      body.toString('utf8', 0, 500),
    );
  }
  const type = Object.entries(res.headers ?? {}).find(
    ([name]) => name.toLowerCase() === 'content-type',
  )?.[1];
  if (type !== expectedType) {
    throw new ServiceUnavailableError(
      `${req.url.replace(
        /\?.*$/,
        '',
      )} is not a Git smart HTTP server (it answered ${
        type ?? 'without a content type'
      })`,
    );
  }
  return body;
}

/** The branch's commit and the server's capabilities, from one ref listing. */
async function advertisement(
  http: HttpClient,
  url: string,
  headers: Record<string, string>,
  branch: string,
): Promise<{ sha: string; capabilities: Set<string> }> {
  const body = await request(
    http,
    {
      url: `${url}/info/refs?service=git-upload-pack`,
      method: 'GET',
      headers: { ...headers, accept: '*/*' },
    },
    'application/x-git-upload-pack-advertisement',
  );
  let capabilities = new Set<string>();
  let sha: string | undefined;
  for (const [line] of pktLines(body)) {
    const text = line.toString('utf8').replace(/\n$/, '');
    if (text.startsWith('#') || text === '') continue;
    if (text.startsWith('ERR ')) {
      throw new ServiceUnavailableError(`${url}: ${text.slice(4)}`);
    }
    const [ref, caps] = text.split('\0');
    if (caps !== undefined) capabilities = new Set(caps.split(' '));
    const [oid, name] = ref.split(' ');
    if (name === `refs/heads/${branch}`) sha = oid;
  }
  if (!sha) {
    throw new NotFoundError(`branch ${branch} does not exist in ${url}`);
  }
  return { sha, capabilities };
}

/**
 * Clones the tip of `branch` of `url` into `dir` (a new directory) with its
 * `.git` only; returns the commit and a reader of its objects, to check the
 * working tree out with.
 */
export async function cloneShallow(options: {
  dir: string;
  url: string;
  branch: string;
  http: HttpClient;
  headers: Record<string, string>;
  cache: object;
}): Promise<{ sha: string; reader: ObjectReader }> {
  const { dir, url, branch, http, headers, cache } = options;
  const gitdir = path.join(dir, '.git');
  const { sha, capabilities } = await advertisement(http, url, headers, branch);
  if (!capabilities.has('shallow')) {
    throw new ServiceUnavailableError(
      `${url}: the server does not offer shallow clones`,
    );
  }
  const sideBand = ['side-band-64k', 'side-band'].find(c =>
    capabilities.has(c),
  );
  const wanted = [sideBand, 'ofs-delta', 'no-progress'].filter(
    (c): c is string => !!c && capabilities.has(c),
  );
  const body = await request(
    http,
    {
      url: `${url}/git-upload-pack`,
      method: 'POST',
      headers: {
        ...headers,
        'content-type': 'application/x-git-upload-pack-request',
        accept: 'application/x-git-upload-pack-result',
      },
      body: [
        Buffer.from(
          `${pktLine(`want ${sha} ${wanted.join(' ')}\n`)}${pktLine(
            'deepen 1\n',
          )}${FLUSH}${pktLine('done\n')}`,
        ),
      ] as unknown as AsyncIterableIterator<Uint8Array>,
    },
    'application/x-git-upload-pack-result',
  );
  // The shallow boundary, a flush, NAK, then the pack (in band 1 of a side band).
  const shallow: string[] = [];
  const pack: Buffer[] = [];
  let stage: 'shallow' | 'nak' | 'pack' = 'shallow';
  for (const [line, end] of pktLines(body)) {
    const text = () => line.toString('utf8').replace(/\n$/, '');
    if (stage === 'shallow') {
      if (line.length === 0) stage = 'nak';
      else if (text().startsWith('shallow ')) shallow.push(text().slice(8));
      continue;
    }
    if (stage === 'nak') {
      if (!/^(NAK|ACK )/.test(text())) {
        throw new ServiceUnavailableError(
          `${url}: the server did not send a pack: ${text()}`,
        );
      }
      stage = 'pack';
      if (!sideBand) {
        pack.push(body.subarray(end));
        break;
      }
      continue;
    }
    if (line.length === 0) break;
    if (line[0] === 1) pack.push(line.subarray(1));
    else if (line[0] === 3) {
      throw new ServiceUnavailableError(
        `${url}: the server failed to send the pack: ${line
          .toString('utf8', 1)
          .trim()}`,
      );
    }
  }
  await git.init({ fs, dir, defaultBranch: branch });
  await git.addRemote({ fs, dir, remote: 'origin', url });
  const packData = Buffer.concat(pack);
  const received = await ObjectReader.indexPack(packData, gitdir, cache);
  const packDir = path.join(gitdir, 'objects', 'pack');
  await fs.promises.mkdir(packDir, { recursive: true });
  const name = path.join(packDir, `pack-${received.checksum}`);
  await fs.promises.writeFile(`${name}.pack`, packData);
  await fs.promises.writeFile(`${name}.idx`, received.idx);
  await fs.promises.writeFile(
    path.join(gitdir, 'shallow'),
    shallow.map(oid => `${oid}\n`).join(''),
  );
  await git.writeRef({
    fs,
    dir,
    ref: `refs/remotes/origin/${branch}`,
    value: sha,
  });
  await git.writeRef({ fs, dir, ref: `refs/heads/${branch}`, value: sha });
  // As isomorphic-git's clone: the local branch tracks the remote one.
  await git.setConfig({
    fs,
    dir,
    path: `branch.${branch}.remote`,
    value: 'origin',
  });
  await git.setConfig({
    fs,
    dir,
    path: `branch.${branch}.merge`,
    value: `refs/heads/${branch}`,
  });
  return { sha, reader: received.reader };
}
