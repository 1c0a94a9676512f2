import { execFileSync } from 'node:child_process';
import {
  mkdtempSync,
  mkdirSync,
  rmSync,
  writeFileSync,
  chmodSync,
  existsSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildManifests } from './build';

/**
 * A real kustomize: GITOPS_KUSTOMIZE or one on PATH, else the kustomize
 * engine built into kubectl behind a two-line wrapper.
 */
function realKustomize(tmp: string): string | undefined {
  if (process.env.GITOPS_KUSTOMIZE) return process.env.GITOPS_KUSTOMIZE;
  try {
    return execFileSync('sh', ['-c', 'command -v kustomize'], {
      encoding: 'utf8',
    }).trim();
  } catch {
    const kubectl = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find(
      existsSync,
    );
    if (!kubectl) return undefined;
    const wrapper = path.join(tmp, 'kustomize');
    writeFileSync(
      wrapper,
      `#!/bin/sh\n[ "$1" = build ] && shift\nexec ${kubectl} kustomize "$@"\n`,
    );
    chmodSync(wrapper, 0o755);
    return wrapper;
  }
}

describe('buildManifests', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'gitops-build-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const write = (file: string, text: string) => {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  };

  it('reads every YAML document under a plain directory, recursively, in a stable order', async () => {
    write(
      'b.yaml',
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b2}\n',
    );
    write(
      'a/z.yml',
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: az}\n---\n',
    );
    write(
      'A.yaml',
      'apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: upper}}\n',
    );
    write('notes.txt', 'not yaml: [');
    write('.git/config.yaml', 'ignored: [');
    const built = await buildManifests(dir);
    expect(built.builtWith).toBe('yaml');
    expect(built.objects.map(o => o.metadata.name)).toEqual([
      'upper',
      'az',
      'b',
      'b2',
    ]);
  });

  it('fails on one bad document anywhere, naming the file and the reason', async () => {
    write(
      'good.yaml',
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n',
    );
    write(
      'deep/bad.yaml',
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok2}\n---\nkind: [unclosed\n',
    );
    await expect(buildManifests(dir)).rejects.toThrow(
      /^deep\/bad\.yaml, document 2: /,
    );
    write(
      'deep/bad.yaml',
      'apiVersion: v1\nkind: Secret\nmetadata: {namespace: x}\n',
    );
    await expect(buildManifests(dir)).rejects.toThrow(
      'deep/bad.yaml, document 1: Secret has no metadata.name',
    );
  });

  it('builds a kustomization with the real kustomize binary', async () => {
    const binary = realKustomize(dir);
    if (!binary)
      throw new Error(
        'No kustomize found: install kustomize v5 or kubectl, or set GITOPS_KUSTOMIZE',
      );
    write(
      'kustomization.yaml',
      'namePrefix: dev-\nresources:\n- cm.yaml\nconfigMapGenerator:\n- name: gen\n  literals: [a=b]\n',
    );
    write('cm.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n');
    write('unused.yaml', 'not: [valid');
    const built = await buildManifests(dir, { kustomizePath: binary });
    expect(built.builtWith).toBe('kustomize');
    expect(built.objects.map(o => o.metadata.name).sort()).toEqual([
      'dev-cm',
      expect.stringMatching(/^dev-gen-/),
    ]);
  });

  it('says clearly when kustomize is needed but missing', async () => {
    write('kustomization.yaml', 'resources: []\n');
    await expect(
      buildManifests(dir, { kustomizePath: path.join(dir, 'nope') }),
    ).rejects.toThrow(/kustomize binary configured at .*nope does not exist/);
  });
});
