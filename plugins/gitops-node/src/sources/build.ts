import { execFile } from 'node:child_process';
import { constants as fsConstants, promises as fs } from 'node:fs';
import path from 'node:path';
import { InputError, ServiceUnavailableError } from '@backstage/errors';
import { parseAllDocuments } from 'yaml';
import { isRecord } from '../model/fields';
import { compareBytes } from '../util/bytes';
import type { KubeObject } from '../model/types';

/**
 * The one I/O step between render and apply: turns a checked-out directory
 * into objects, the way Flux's kustomize-controller does.
 */
export interface BuildOptions {
  /** Path of the kustomize binary; else `GITOPS_KUSTOMIZE`, else `kustomize` on PATH. */
  kustomizePath?: string;
  /** Kills a kustomize build that takes longer (default 60 s). */
  timeoutMs?: number;
}

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

async function findKustomize(options: BuildOptions): Promise<string> {
  const explicit = options.kustomizePath ?? process.env.GITOPS_KUSTOMIZE;
  if (explicit) {
    if (await exists(explicit, fsConstants.X_OK)) return explicit;
    throw new ServiceUnavailableError(
      `The kustomize binary configured at ${explicit} does not exist or is not executable`,
    );
  }
  for (const dir of (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter(Boolean)) {
    const candidate = path.join(dir, 'kustomize');
    if (await exists(candidate, fsConstants.X_OK)) return candidate;
  }
  throw new ServiceUnavailableError(
    'This path has a kustomization, but no kustomize binary was found: install kustomize v5 on PATH, or set GITOPS_KUSTOMIZE to its path',
  );
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

async function yamlFiles(root: string): Promise<string[]> {
  const entries = await fs.readdir(root, { withFileTypes: true });
  // Byte order, not locale order, so every machine applies in the same order.
  entries.sort((a, b) => compareBytes(a.name, b.name));
  const files: string[] = [];
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const full = path.join(root, entry.name);
    if (entry.isDirectory()) files.push(...(await yamlFiles(full)));
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
        maxBuffer: 256 * 1024 * 1024,
        timeout: timeoutMs,
        env: { ...process.env },
      },
      (error, stdout, stderr) => {
        if (!error) {
          resolve(stdout);
          return;
        }
        const reason =
          stderr.trim().split('\n').slice(-3).join(' ') || error.message;
        reject(new InputError(`kustomize build of ${dir} failed: ${reason}`));
      },
    );
  });
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
  for (const name of KUSTOMIZATION_FILES) {
    if (await exists(path.join(dir, name))) {
      const binary = await findKustomize(options);
      const output = await runKustomize(
        binary,
        dir,
        options.timeoutMs ?? 60_000,
      );
      return {
        objects: parseObjects(output, `kustomize build output of ${dir}`),
        builtWith: 'kustomize',
      };
    }
  }
  const objects: KubeObject[] = [];
  for (const file of await yamlFiles(dir)) {
    objects.push(
      ...parseObjects(
        await fs.readFile(file, 'utf8'),
        path.relative(dir, file),
      ),
    );
  }
  return { objects, builtWith: 'yaml' };
}
