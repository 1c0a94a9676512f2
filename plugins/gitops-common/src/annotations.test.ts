import { parseApplicationRef, stringifyApplicationRef } from './annotations';

describe('parseApplicationRef', () => {
  it.each([
    [
      'default/first-vela-workflow',
      { namespace: 'default', name: 'first-vela-workflow' },
    ],
    [
      'prod/default/git-app',
      { cluster: 'prod', namespace: 'default', name: 'git-app' },
    ],
  ])('parses %s', (value, ref) => {
    expect(parseApplicationRef(value)).toEqual({
      ref: { cluster: undefined, ...ref },
    });
    expect(stringifyApplicationRef({ cluster: undefined, ...ref })).toBe(value);
  });

  it.each(['git-app', 'a/b/c/d', 'Default/App', 'default/', ''])(
    'rejects %j with a message naming the annotation',
    value => {
      const result = parseApplicationRef(value);
      expect(result).toEqual({
        error: expect.stringContaining('gitops.backstage.io/application'),
      });
    },
  );
});
