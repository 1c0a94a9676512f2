import { runGitops } from '../__testUtils__/runGitops';

// Each case starts the real CLI (TypeScript transpiled on load): seconds, not ms.
jest.setTimeout(60_000);

const gitops = (args: string[], input: string) => runGitops(args, { input });

describe('gitops policy select', () => {
  const seedTags = [
    'master-1a2b3c4-1631234567',
    'master-9f8e7d6-1631299999',
    'master-0000000-1631200000',
    'latest',
    'sha256-0123.sig',
  ].join('\n');

  it('prints the tag the seed policy picks', () => {
    const run = gitops(
      [
        'policy',
        'select',
        '--pattern',
        '^master-[a-f0-9]+-(?P<ts>[0-9]+)',
        '--extract',
        '$ts',
        '--numerical',
        'asc',
      ],
      `${seedTags}\n`,
    );
    expect(run).toEqual({
      status: 0,
      stdout: 'master-9f8e7d6-1631299999\n',
      stderr: '',
    });
  });

  it('leaves cosign signature tags out, as a scan does', () => {
    const run = gitops(['policy', 'select', '--alphabetical', 'asc'], seedTags);
    // Kept, "sha256-0123.sig" would be the greatest in byte order.
    expect(run.stdout).toBe('master-9f8e7d6-1631299999\n');
  });

  it('picks by semver range from CRLF input', () => {
    const run = gitops(
      ['policy', 'select', '--semver', '>=1.0, <2'],
      'v1.2.0\r\n1.10.0\r\n2.0.0\r\n1.11.0-rc.1\r\n',
    );
    expect(run).toEqual({ status: 0, stdout: '1.10.0\n', stderr: '' });
  });

  it.each`
    args                                                    | stdin            | message
    ${['--numerical', 'asc']}                               | ${'1\nlatest\n'} | ${'numerical policy cannot order "latest": it is not a number'}
    ${['--pattern', '^(a', '--alphabetical', 'asc']}        | ${'a\n'}         | ${'invalid regular expression'}
    ${['--semver', '>= banana']}                            | ${'1.0.0\n'}     | ${'invalid semver range ">= banana"'}
    ${['--pattern', '^release-', '--alphabetical', 'desc']} | ${'main-1\n'}    | ${'pattern "^release-": no tag matches'}
    ${[]}                                                   | ${'a\n'}         | ${'give exactly one of --alphabetical'}
  `(
    'fails with a clear message and exit 1: $message',
    ({ args, stdin, message }) => {
      const run = gitops(['policy', 'select', ...args], stdin);
      expect(run.status).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr).toContain(message);
    },
  );
});
