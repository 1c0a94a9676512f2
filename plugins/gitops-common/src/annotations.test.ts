import {
  applicationAnnotationOf,
  parseApplicationRef,
  stringifyApplicationRef,
} from './annotations';

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
        error: expect.stringContaining('gitops-workflow.io/application'),
      });
    },
  );

  it('names the annotation the value was read from', () => {
    expect(
      parseApplicationRef('git-app', 'gitops.backstage.io/application'),
    ).toEqual({
      error: expect.stringMatching(
        /^The annotation gitops.backstage.io\/application must be/,
      ),
    });
  });
});

describe('applicationAnnotationOf', () => {
  it('reads the annotation in our own domain', () => {
    expect(
      applicationAnnotationOf({
        'gitops-workflow.io/application': 'default/web',
      }),
    ).toEqual({
      annotation: 'gitops-workflow.io/application',
      value: 'default/web',
      deprecated: false,
    });
  });

  it('still reads the deprecated annotation, and says it is deprecated', () => {
    expect(
      applicationAnnotationOf({
        'gitops.backstage.io/application': 'default/web',
      }),
    ).toEqual({
      annotation: 'gitops.backstage.io/application',
      value: 'default/web',
      deprecated: true,
    });
  });

  it('prefers the current annotation when an entity has both', () => {
    expect(
      applicationAnnotationOf({
        'gitops.backstage.io/application': 'default/old',
        'gitops-workflow.io/application': 'default/new',
      }),
    ).toMatchObject({ value: 'default/new', deprecated: false });
  });

  it('finds nothing on an entity with neither, or an empty one', () => {
    expect(applicationAnnotationOf(undefined)).toBeUndefined();
    expect(
      applicationAnnotationOf({ 'gitops-workflow.io/application': '' }),
    ).toBeUndefined();
  });
});
