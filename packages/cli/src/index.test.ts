import { runGitops } from './__testUtils__/runGitops';

jest.setTimeout(60_000);

describe('gitops --help', () => {
  it('lists every command a user can run', () => {
    const run = runGitops(['--help']);
    expect(run.status).toBe(0);
    const listed = [...run.stdout.matchAll(/^ {2}([a-z-]+)/gm)].map(m => m[1]);
    expect(listed).toEqual(
      expect.arrayContaining([
        'policy',
        'images',
        'setters',
        'dry-run',
        'ls',
        'status',
        'workflow',
        'rollback',
      ]),
    );
  });

  it('says what went wrong for an unknown command and exits 1', () => {
    const run = runGitops(['deploy-everything']);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("unknown command 'deploy-everything'");
  });
});
