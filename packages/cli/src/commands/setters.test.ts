import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runGitops } from '../__testUtils__/runGitops';
import { parseSetFlag } from './setters';

// Starts the real CLI (TypeScript transpiled on load): seconds, not ms.
jest.setTimeout(60_000);

describe('gitops setters apply', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitops-setters-cli-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('rewrites only the marked scalars and prints each changed file', () => {
    const app = [
      'kind: Application # keep me',
      'metadata: {name: first-vela-workflow}',
      'spec:',
      '  image: \'<your image>\' # {"$imagepolicy": "default:gitops"}',
      '  tag: "0.1" # {"$imagepolicy": "default:gitops:tag"}',
      '',
    ].join('\n');
    fs.mkdirSync(path.join(dir, 'apps'));
    fs.writeFileSync(path.join(dir, 'apps', 'app.yaml'), app);
    fs.writeFileSync(path.join(dir, 'other.yaml'), 'a: 1\n');

    const run = runGitops([
      'setters',
      'apply',
      '--path',
      dir,
      '--set',
      'default:gitops=localhost:5000/team/app:0.2.0',
    ]);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toBe(
      [
        'apps/app.yaml',
        '  4:10 default:gitops: <your image> -> localhost:5000/team/app:0.2.0',
        '  5:8 default:gitops:tag: 0.1 -> 0.2.0',
        '',
      ].join('\n'),
    );
    expect(fs.readFileSync(path.join(dir, 'apps', 'app.yaml'), 'utf8')).toBe(
      app
        .replace('<your image>', 'localhost:5000/team/app:0.2.0')
        .replace('"0.1"', '"0.2.0"'),
    );
    expect(fs.readFileSync(path.join(dir, 'other.yaml'), 'utf8')).toBe(
      'a: 1\n',
    );
  });

  it('reports a file that does not parse and leaves it alone', () => {
    const bad = 'a: [unclosed # {"$imagepolicy": "default:gitops"}\n';
    fs.writeFileSync(path.join(dir, 'bad.yml'), bad);
    const run = runGitops([
      'setters',
      'apply',
      '--path',
      dir,
      '--set',
      'default:gitops=app:1',
    ]);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(
      /^skipped bad\.yml: YAML does not parse at \d+:\d+: /,
    );
    expect(fs.readFileSync(path.join(dir, 'bad.yml'), 'utf8')).toBe(bad);
  });
});

describe('--set', () => {
  it.each([
    ['default:gitops=nginx:1.25', { image: 'nginx', tag: '1.25' }],
    [
      'ns:app=host:5000/team/app:v2',
      { image: 'host:5000/team/app', tag: 'v2' },
    ],
    [
      'ns:app=app:v2@sha256:ab12',
      { image: 'app', tag: 'v2', digest: 'sha256:ab12' },
    ],
  ])('parses %s', (flag, choice) => {
    expect(parseSetFlag(flag).choice).toEqual(choice);
  });

  it.each([
    'gitops=app:1',
    'default:gitops=host:5000/app',
    'default:gitops=app:1@nope',
  ])('rejects %s', flag => {
    expect(() => parseSetFlag(flag)).toThrow(/--set/);
  });
});
