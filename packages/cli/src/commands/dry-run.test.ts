import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { parseAllDocuments } from 'yaml';
import { registerDryRunCommand } from './dry-run';

async function dryRun(args: string[]): Promise<string> {
  const program = new Command().exitOverride();
  registerDryRunCommand(program);
  const chunks: string[] = [];
  const write = jest
    .spyOn(process.stdout, 'write')
    .mockImplementation(chunk => chunks.push(String(chunk)) > 0);
  try {
    await program.parseAsync(['node', 'gitops', 'dry-run', ...args]);
  } finally {
    write.mockRestore();
  }
  return chunks.join('');
}

describe('gitops dry-run', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'gitops-dry-run-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("prints the seed's rendered objects as multi-document YAML", async () => {
    const file = path.join(dir, 'app.yaml');
    writeFileSync(
      file,
      `apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: first-vela-workflow, namespace: default}
spec:
  components:
  - name: test-server
    type: webservice
    properties:
      image: registry.local/app:1 # {"$imagepolicy": "default:gitops"}
      port: 8088
    traits:
    - type: ingress
      properties: {domain: testsvc.example.com, http: {"/": 8088}}
`,
    );
    const output = await dryRun(['-f', file]);
    expect(output).toMatch(
      /^---\n# Application\(first-vela-workflow\) -- Component\(test-server\)\n/,
    );
    const docs = parseAllDocuments(output).map(d => d.toJS());
    expect(docs.map(d => `${d.kind}/${d.metadata.name}`)).toEqual([
      'Deployment/test-server',
      'Service/test-server',
      'Ingress/test-server',
    ]);
  });

  it('renders a kustomize component from a local checkout given with --source', async () => {
    const repo = path.join(dir, 'repo');
    mkdirSync(path.join(repo, 'deploy'), { recursive: true });
    writeFileSync(
      path.join(repo, 'deploy/cm.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-git}\n',
    );
    const file = path.join(dir, 'git-app.yaml');
    writeFileSync(
      file,
      `apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: git-app}
spec:
  components:
  - name: gitops
    type: kustomize
    properties: {repoType: git, url: "https://git.example/repo.git", path: ./deploy}
`,
    );
    await expect(dryRun(['-f', file])).rejects.toThrow(
      'pass --source gitops=DIR with a checkout of https://git.example/repo.git',
    );
    const docs = parseAllDocuments(
      await dryRun(['-f', file, '--source', `gitops=${repo}`]),
    ).map(d => d.toJS());
    expect(docs).toEqual([
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {
          name: 'from-git',
          namespace: 'default',
          labels: {
            'app.oam.dev/name': 'git-app',
            'app.oam.dev/namespace': 'default',
            'app.oam.dev/component': 'gitops',
          },
        },
      },
    ]);
  });
});
