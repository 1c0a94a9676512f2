import { execFile } from 'node:child_process';
import { constants as fsConstants, promises as fs } from 'node:fs';
import path from 'node:path';
import { InputError, ServiceUnavailableError } from '@backstage/errors';
import { parseAllDocuments } from 'yaml';
import { isRecord } from '../model/fields';
import { compareBytes } from '../util/bytes';
import type { KubeObject } from '../model/types';
import { formatBytes } from './units';
import { findExecutable } from '../util/executable';

/**
 * The one I/O step between render and apply: turns a checked-out directory
 * into objects, the way Flux's kustomize-controller does.
 */
export interface BuildOptions {
  /** Path of the kustomize binary; else `GITOPS_KUSTOMIZE`, else `kustomize` on PATH. */
  kustomizePath?: string;
  /** Kills a kustomize build that takes longer (default 60 s). */
  timeoutMs?: number;
  /** Largest file the component's path may hold (default 4 MiB). */
  maxFileBytes?: number;
  /** Most objects one component may produce (default 5,000). */
  maxManifests?: number;
  /**
   * The checkout `dir` lies in: a symlink below `dir` whose target is
   * outside it (another repository's clone, the backend's own files) is
   * refused, naming the file. Default: `dir` itself.
   */
  root?: string;
}

export const DEFAULT_BUILD_LIMITS = {
  timeoutMs: 60_000,
  maxFileBytes: 4 * 1024 * 1024,
  maxManifests: 5000,
};

/** kustomize's output is one stream; this bounds it whatever the inputs expand to. */
const MAX_KUSTOMIZE_OUTPUT_BYTES = 256 * 1024 * 1024;

export interface BuiltManifests {
  objects: KubeObject[];
  /** `kustomize` when a kustomization was built, `yaml` when the files were read as they are. */
  builtWith: 'kustomize' | 'yaml';
}

const KUSTOMIZATION_FILES = [
  'kustomization.yaml',
  'kustomization.yml',
  'Kustomization',
];

async function exists(file: string, mode = fsConstants.F_OK): Promise<boolean> {
  try {
    await fs.access(file, mode);
    return true;
  } catch {
    return false;
  }
}

function findKustomize(options: BuildOptions): Promise<string> {
  const fromEnv = options.kustomizePath === undefined;
  return findExecutable('kustomize', {
    configured: options.kustomizePath ?? process.env.GITOPS_KUSTOMIZE,
    configuredAs: fromEnv ? 'GITOPS_KUSTOMIZE' : 'gitops.kustomizePath',
    missing:
      'This path has a kustomization, but no kustomize binary was found: install kustomize v5 on PATH, or set GITOPS_KUSTOMIZE to its path',
  });
}

/** Objects from one YAML text; a bad document fails the whole text, naming where. */
function parseObjects(text: string, where: string): KubeObject[] {
  const objects: KubeObject[] = [];
  parseAllDocuments(text).forEach((document, i) => {
    const at = `${where}, document ${i + 1}`;
    if (document.errors.length > 0) {
      throw new InputError(
        `${at}: ${document.errors[0].message.split('\n')[0]}`,
      );
    }
    const value = document.toJS();
    if (value === null || value === undefined) return;
    const items =
      isRecord(value) && value.kind === 'List' && Array.isArray(value.items)
        ? value.items
        : [value];
    for (const item of items) {
      if (!isRecord(item))
        throw new InputError(`${at}: is not a Kubernetes object (not a map)`);
      const metadata = item.metadata;
      if (
        typeof item.apiVersion !== 'string' ||
        typeof item.kind !== 'string'
      ) {
        throw new InputError(
          `${at}: a Kubernetes object needs apiVersion and kind`,
        );
      }
      if (
        !isRecord(metadata) ||
        typeof metadata.name !== 'string' ||
        !metadata.name
      ) {
        throw new InputError(`${at}: ${item.kind} has no metadata.name`);
      }
      objects.push(item as KubeObject);
    }
  });
  return objects;
}

const inside = (base: string, target: string) =>
  target === base || target.startsWith(`${base}${path.sep}`);

/**
 * Refuses a symlink whose target lies outside `boundary` (a real path),
 * dangling or not; one that stays inside is left alone, and not read.
 */
async function checkSymlink(
  link: string,
  boundary: string,
  top: string,
): Promise<void> {
  const target =
    (await fs.realpath(link).catch(() => undefined)) ??
    path.resolve(
      await fs.realpath(path.dirname(link)),
      await fs.readlink(link),
    );
  if (!inside(boundary, target)) {
    throw new InputError(
      `${path.relative(
        top,
        link,
      )} is a symlink leading outside the repository, refused`,
    );
  }
}

async function yamlFiles(
  root: string,
  boundary: string,
  top = root,
): Promise<string[]> {
  const entries = await fs.readdir(root, { withFileTypes: true });
  // Byte order, not locale order, so every machine applies in the same order.
  entries.sort((a, b) => compareBytes(a.name, b.name));
  const files: string[] = [];
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const full = path.join(root, entry.name);
    if (entry.isSymbolicLink()) await checkSymlink(full, boundary, top);
    else if (entry.isDirectory())
      files.push(...(await yamlFiles(full, boundary, top)));
    else if (entry.isFile() && /\.ya?ml$/.test(entry.name)) files.push(full);
  }
  return files;
}

function runKustomize(
  binary: string,
  dir: string,
  timeoutMs: number,
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      binary,
      ['build', dir],
      {
        maxBuffer: MAX_KUSTOMIZE_OUTPUT_BYTES,
        timeout: timeoutMs,
        // A build stuck on a remote base or a plugin may ignore SIGTERM.
        killSignal: 'SIGKILL',
        env: { ...process.env },
      },
      (error, stdout, stderr) => {
        if (!error) {
          resolve(stdout);
          return;
        }
        const failure = error as NodeJS.ErrnoException & { killed?: boolean };
        if (failure.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') {
          reject(
            new InputError(
              `kustomize build of ${dir} produced more than ${formatBytes(
                MAX_KUSTOMIZE_OUTPUT_BYTES,
              )} of output; it was stopped`,
            ),
          );
          return;
        }
        if (failure.killed) {
          reject(
            new ServiceUnavailableError(
              `kustomize build of ${dir} timed out after ${timeoutMs}ms and was killed`,
            ),
          );
          return;
        }
        const reason =
          stderr.trim().split('\n').slice(-3).join(' ') || error.message;
        reject(new InputError(`kustomize build of ${dir} failed: ${reason}`));
      },
    );
  });
}

/** Refuses a manifest file over the size limit, naming it, before anything parses it. */
async function checkFileSizes(
  root: string,
  files: string[],
  maxFileBytes: number,
): Promise<void> {
  for (const file of files) {
    const { size } = await fs.stat(file);
    if (size > maxFileBytes) {
      throw new InputError(
        `${path.relative(root, file)} is ${formatBytes(
          size,
        )}, over the maximum file size of ${formatBytes(maxFileBytes)}`,
      );
    }
  }
}

function checkManifestCount(
  objects: KubeObject[],
  dir: string,
  maxManifests: number,
): KubeObject[] {
  if (objects.length > maxManifests) {
    throw new InputError(
      `${dir} produces ${objects.length} objects, over the maximum of ${maxManifests} per component`,
    );
  }
  return objects;
}

/**
 * Builds the manifests under `dir`: with kustomize when it holds a
 * kustomization, else every `*.yaml`/`*.yml` document below it, recursively,
 * in a stable order. Any bad document means an error and no objects.
 */
export async function buildManifests(
  dir: string,
  options: BuildOptions = {},
): Promise<BuiltManifests> {
  const stat = await fs.stat(dir).catch(() => undefined);
  if (!stat?.isDirectory()) throw new InputError(`${dir} is not a directory`);
  const limits = { ...DEFAULT_BUILD_LIMITS, ...definedOnly(options) };
  // The YAML files are what kustomize and we parse: other files (images, sources) may be any size.
  const files = await yamlFiles(dir, await fs.realpath(options.root ?? dir));
  await checkFileSizes(dir, files, limits.maxFileBytes);
  for (const name of KUSTOMIZATION_FILES) {
    if (await exists(path.join(dir, name))) {
      const binary = await findKustomize(options);
      const output = await runKustomize(binary, dir, limits.timeoutMs);
      return {
        objects: checkManifestCount(
          parseObjects(output, `kustomize build output of ${dir}`),
          dir,
          limits.maxManifests,
        ),
        builtWith: 'kustomize',
      };
    }
  }
  const objects: KubeObject[] = [];
  for (const file of files) {
    objects.push(
      ...parseObjects(
        await fs.readFile(file, 'utf8'),
        path.relative(dir, file),
      ),
    );
    checkManifestCount(objects, dir, limits.maxManifests);
  }
  return { objects, builtWith: 'yaml' };
}

/** The options that are set, so an explicit `undefined` keeps the default. */
function definedOnly(options: BuildOptions): Partial<typeof DEFAULT_BUILD_LIMITS> {
  const { timeoutMs, maxFileBytes, maxManifests } = options;
  return Object.fromEntries(
    Object.entries({ timeoutMs, maxFileBytes, maxManifests }).filter(
      ([, v]) => v !== undefined,
    ),
  );
}
