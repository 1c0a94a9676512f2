import {
  credentialsFromIntegrations,
  redact,
  splitUrlCredentials,
} from './credentials';

describe('git credentials', () => {
  it('takes credentials out of a URL', () => {
    expect(
      splitUrlCredentials('https://bot:p%40ss@git.example.com/team/apps.git'),
    ).toEqual({
      url: 'https://git.example.com/team/apps.git',
      credentials: { username: 'bot', password: 'p@ss' },
    });
    expect(splitUrlCredentials('https://git.example.com/a.git')).toEqual({
      url: 'https://git.example.com/a.git',
    });
  });

  it('maps integration tokens to the user names each host expects', () => {
    const provider = credentialsFromIntegrations({
      byUrl: url => {
        if (url.includes('github')) {
          return { type: 'github', config: { token: 'ghp_1' } };
        }
        if (url.includes('gitlab')) {
          return { type: 'gitlab', config: { token: 'glpat_1' } };
        }
        if (url.includes('bitbucket')) {
          return {
            type: 'bitbucketCloud',
            config: { username: 'me', appPassword: 'app-pw' },
          };
        }
        return undefined;
      },
    });
    expect(provider('https://github.com/a/b.git')).toEqual({
      username: 'x-access-token',
      password: 'ghp_1',
    });
    expect(provider('https://gitlab.com/a/b.git')).toEqual({
      username: 'oauth2',
      password: 'glpat_1',
    });
    expect(provider('https://bitbucket.org/a/b.git')).toEqual({
      username: 'me',
      password: 'app-pw',
    });
    expect(provider('https://git.internal/a/b.git')).toBeUndefined();
  });

  it('redacts the password in every form it could be printed', () => {
    const credentials = { username: 'bot', password: 's3cr/t' };
    const base64 = Buffer.from('bot:s3cr/t').toString('base64');
    expect(
      redact(
        `failed: s3cr/t, Authorization: Basic ${base64}, url s3cr%2Ft`,
        credentials,
      ),
    ).toBe('failed: ***, Authorization: Basic ***, url ***');
  });
});
