import { screen, waitFor } from '@testing-library/react';
import { annotated, render, stubApi } from './__testUtils__/testing';

// Its own file: usePermission caches each decision for the whole test file.
describe('EntityGitopsContent without the update permissions', () => {
  it('asks for each permission on the entity and disables the actions with the reason when denied', async () => {
    const api = stubApi();
    const asked: Array<[string, string | undefined]> = [];
    // Like the demo's policy for someone who does not own the entity: read only.
    await render(annotated, api, (name, resourceRef) => {
      asked.push([name, resourceRef]);
      return name === 'gitops.application.read';
    });
    const sync = await screen.findByRole('button', {
      name: 'Sync default/first-vela-workflow now',
    });
    await waitFor(() => expect(sync).toBeDisabled());
    expect(
      screen.getByRole('button', {
        name: 'Suspend automation of default/first-vela-workflow',
      }),
    ).toBeDisabled();
    expect(
      screen.getByText(
        'You are not allowed to sync default/first-vela-workflow (permission gitops.application.sync on component:default/first-vela-workflow). Ask an owner of component:default/first-vela-workflow or an administrator.',
      ),
    ).toBeInTheDocument();
    expect(
      screen.getByText(
        /You are not allowed to suspend automation of default\/first-vela-workflow \(permission gitops.application.suspend on component:default\/first-vela-workflow\)/,
      ),
    ).toBeInTheDocument();
    // Every question names the entity: the decision is the policy's for this entity.
    expect(new Set(asked.map(([, ref]) => ref))).toEqual(
      new Set(['component:default/first-vela-workflow']),
    );
    expect(asked.map(([name]) => name)).toEqual(
      expect.arrayContaining([
        'gitops.application.sync',
        'gitops.application.suspend',
      ]),
    );
    // The disabled button's tooltip says the same.
    expect(sync.parentElement).toHaveAttribute(
      'title',
      expect.stringContaining(
        'permission gitops.application.sync on component:default/first-vela-workflow',
      ),
    );
  });
});
