import { applicationComponentOfField, owningApplicationOf } from './types';

describe('applicationComponentOfField', () => {
  const app = {
    apiVersion: 'core.oam.dev/v1beta1',
    kind: 'Application',
    name: 'first-vela-workflow',
  };

  it("names the component of an Application manifest a field sits in, in the manifest's namespace or the applier's", () => {
    expect(
      applicationComponentOfField(
        { ...app, namespace: 'team' },
        ['spec', 'components', '[name=test-server]', 'properties', 'image'],
        'default',
      ),
    ).toEqual({
      namespace: 'team',
      name: 'first-vela-workflow',
      component: 'test-server',
    });
    expect(
      applicationComponentOfField(
        app,
        ['spec', 'components', '[name=test-server]', 'traits', '0'],
        'default',
      ),
    ).toMatchObject({ namespace: 'default', component: 'test-server' });
  });

  it('names none for other objects and other fields', () => {
    const containers = [
      'spec',
      'template',
      'spec',
      'containers',
      '[name=web]',
      'image',
    ];
    expect(
      applicationComponentOfField(
        { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
        containers,
        'default',
      ),
    ).toBeUndefined();
    expect(
      applicationComponentOfField(app, ['spec', 'components', '0'], 'default'),
    ).toBeUndefined();
    expect(
      applicationComponentOfField(
        { ...app, apiVersion: 'argoproj.io/v1alpha1' },
        ['spec', 'components', '[name=test-server]'],
        'default',
      ),
    ).toBeUndefined();
  });
});

describe('owningApplicationOf', () => {
  it('reads the Application and component our apply stamped on an object', () => {
    expect(
      owningApplicationOf({
        metadata: {
          name: 'first-vela-workflow',
          namespace: 'default',
          labels: {
            'app.oam.dev/name': 'git-app',
            'app.oam.dev/namespace': 'default',
            'app.oam.dev/component': 'gitops',
          },
        },
      }),
    ).toEqual({ namespace: 'default', name: 'git-app', component: 'gitops' });
    expect(owningApplicationOf({ metadata: { name: 'x' } })).toBeUndefined();
  });
});
