import { runGitops } from '../__testUtils__/runGitops';
import { formatAuditTable } from './workflow';

jest.setTimeout(60_000);

describe('gitops audit', () => {
  it('prints who did what, when and why, newest first, and says when there is more', () => {
    const text = formatAuditTable({
      totalCount: 3,
      items: [
        {
          id: 2,
          action: 'imageRelease',
          actor: 'user:default/john',
          at: '2026-12-01T11:00:00.000Z',
          component: 'gitops',
          summary: 'released the hold of gitops at 0.1.5',
        },
        {
          id: 1,
          action: 'imageRollback',
          actor: 'user:default/jane',
          at: '2026-12-01T10:00:00.000Z',
          reason: '0.1.6 leaks memory',
          component: 'gitops',
          summary: 'rolled gitops back to 0.1.5 and held it there',
        },
      ],
    });
    expect(text.split('\n')).toEqual([
      'TIME                  ACTOR              ACTION         COMPONENT  SUMMARY                                        REASON',
      '2026-12-01T11:00:00Z  user:default/john  imageRelease   gitops     released the hold of gitops at 0.1.5',
      '2026-12-01T10:00:00Z  user:default/jane  imageRollback  gitops     rolled gitops back to 0.1.5 and held it there  0.1.6 leaks memory',
      '(2 of 3; --limit shows more)',
      '',
    ]);
  });
});

describe('gitops rollback', () => {
  it('needs both --component and --to for an image, before asking the backend', () => {
    const run = runGitops([
      'rollback',
      'git-app',
      '--component',
      'gitops',
      '--backend',
      'http://127.0.0.1:1',
    ]);
    expect(run.status).toBe(1);
    expect(run.stderr).toBe(
      'gitops: an image rollback needs both --component and --to, e.g. --component web --to 0.1.5\n',
    );
  });

  it('lists rollback, release and audit in its help', () => {
    const run = runGitops(['--help']);
    expect(run.stdout).toMatch(/^ {2}release /m);
    expect(run.stdout).toMatch(/^ {2}audit /m);
    expect(runGitops(['rollback', '--help']).stdout).toContain('--to <tag>');
  });
});
