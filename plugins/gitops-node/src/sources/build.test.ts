import { execFileSync } from 'node:child_process';
import {
  mkdtempSync,
  mkdirSync,
  rmSync,
  writeFileSync,
  chmodSync,
  existsSync,
  readFileSync,
  symlinkSync,
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

  it('refuses a manifest file over the maximum size, naming it and the limit', async () => {
    write('ok.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n');
    write('big/huge.yaml', `# ${'x'.repeat(3000)}\n`);
    // Other files may be any size: only manifests are parsed.
    write('logo.png', 'x'.repeat(5000));
    await expect(
      buildManifests(dir, { maxFileBytes: 2048 }),
    ).rejects.toMatchObject({
      name: 'InputError',
      message: 'big/huge.yaml is 3 KiB, over the maximum file size of 2 KiB',
    });
    await expect(buildManifests(dir, { maxFileBytes: 4096 })).resolves.toMatchObject({
      builtWith: 'yaml',
    });
  });

  it('refuses a component that produces more objects than the maximum', async () => {
    const configMap = (name: string) =>
      `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${name}}\n---\n`;
    write('a.yaml', configMap('a') + configMap('b'));
    write('b.yaml', configMap('c'));
    await expect(buildManifests(dir, { maxManifests: 2 })).rejects.toMatchObject({
      name: 'InputError',
      message: `${dir} produces 3 objects, over the maximum of 2 per component`,
    });
    const built = await buildManifests(dir, { maxManifests: 3 });
    expect(built.objects).toHaveLength(3);
  });

  it('kills a kustomize build that outlives its timeout, and says so', async () => {
    // A kustomize that never finishes, as one stuck on a remote base would.
    const stuck = path.join(dir, 'stuck-kustomize');
    writeFileSync(stuck, '#!/bin/sh\necho $$ > "$0.pid"\nexec sleep 60\n');
    chmodSync(stuck, 0o755);
    write('app/kustomization.yaml', 'resources: []\n');
    await expect(
      buildManifests(path.join(dir, 'app'), { kustomizePath: stuck, timeoutMs: 300 }),
    ).rejects.toMatchObject({
      name: 'ServiceUnavailableError',
      message: `kustomize build of ${path.join(
        dir,
        'app',
      )} timed out after 300ms and was killed`,
    });
    // The process is gone, not left running.
    const pid = Number(readFileSync(`${stuck}.pid`, 'utf8'));
    expect(() => process.kill(pid, 0)).toThrow();
  });

  describe('symlinks', () => {
    // `dir` is the clone; the component is its `app` path; `other` is another clone.
    let other: string;
    beforeEach(() => {
      other = mkdtempSync(path.join(os.tmpdir(), 'gitops-build-other-'));
      writeFileSync(
        path.join(other, 'secret.yaml'),
        'apiVersion: v1\nkind: Secret\nmetadata: {name: theirs}\n',
      );
      write(
        'app/ok.yaml',
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n',
      );
      write(
        'shared/base.yaml',
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared}\n',
      );
    });
    afterEach(() => rmSync(other, { recursive: true, force: true }));
    const app = () => path.join(dir, 'app');

    it.each`
      what                                      | file                   | target
      ${'a file in another clone'}              | ${'app/theirs.yaml'}   | ${() => path.join(other, 'secret.yaml')}
      ${'another clone, as a directory'}        | ${'app/nested/theirs'} | ${() => other}
      ${'a relative ../ path out of the clone'} | ${'app/up.yaml'}       | ${() => `../../${path.basename(other)}/secret.yaml`}
      ${'a file outside that does not exist'}   | ${'app/dangling.yaml'} | ${() => '/nonexistent/gitops/secret.yaml'}
    `(
      'refuses a symlink to $what, naming the file',
      async ({ file, target }) => {
        mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
        symlinkSync(target(), path.join(dir, file));
        await expect(
          buildManifests(app(), { root: dir }),
        ).rejects.toMatchObject({
          name: 'InputError',
          message: `${path.relative(
            app(),
            path.join(dir, file),
          )} is a symlink leading outside the repository, refused`,
        });
      },
    );

    it('refuses a symlink out of the clone in a kustomization directory too', async () => {
      write('app/kustomization.yaml', 'resources: [ok.yaml]\n');
      symlinkSync(path.join(other, 'secret.yaml'), path.join(app(), 'x.yaml'));
      await expect(
        buildManifests(app(), {
          root: dir,
          kustomizePath: path.join(dir, 'nope'),
        }),
      ).rejects.toThrow(
        'x.yaml is a symlink leading outside the repository, refused',
      );
    });

    it('leaves a symlink that stays inside the clone alone, as before: not read, not refused', async () => {
      symlinkSync('../shared/base.yaml', path.join(app(), 'base.yaml'));
      symlinkSync(path.join(dir, 'shared'), path.join(app(), 'shared'));
      const built = await buildManifests(app(), { root: dir });
      expect(built.objects.map(o => o.metadata.name)).toEqual(['ok']);
    });

    it('without a root, the directory itself is the boundary', async () => {
      symlinkSync('../shared/base.yaml', path.join(app(), 'base.yaml'));
      await expect(buildManifests(app())).rejects.toThrow(
        'base.yaml is a symlink leading outside the repository, refused',
      );
    });
  });
});
