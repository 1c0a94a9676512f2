import { screen } from '@testing-library/react';
import { annotated, entity, render, stubApi } from './__testUtils__/testing';

describe('the annotation that links an entity to its Application', () => {
  it('still reads the deprecated gitops.backstage.io/application, and says to rename it', async () => {
    const api = stubApi();
    await render(
      entity({
        'gitops.backstage.io/application': 'default/first-vela-workflow',
      }),
      api,
    );
    expect(
      await screen.findByText('Application default/first-vela-workflow'),
    ).toBeInTheDocument();
    expect(api.getApplication).toHaveBeenCalledWith({
      cluster: undefined,
      namespace: 'default',
      name: 'first-vela-workflow',
    });
    expect(
      screen.getByText(
        "component:default/first-vela-workflow names its Application with the deprecated annotation gitops.backstage.io/application: rename it to gitops-workflow.io/application in the entity's catalog file (the value stays the same). The old name is still read for now.",
      ),
    ).toBeInTheDocument();
  });

  it('shows no note for gitops-workflow.io/application', async () => {
    await render(annotated, stubApi());
    expect(
      await screen.findByText('Application default/first-vela-workflow'),
    ).toBeInTheDocument();
    expect(screen.queryByText(/deprecated annotation/)).not.toBeInTheDocument();
  });
});
