import { screen, waitFor } from '@testing-library/react';
import { annotated, render, stubApi } from './__testUtils__/testing';

// Its own file: usePermission caches each decision for the whole test file.
describe('EntityGitopsContent without the update permissions', () => {
  it('disables the actions with the reason when permission is denied', async () => {
    const api = stubApi();
    await render(annotated, api, name => name === 'gitops.application.read');
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
        /You are not allowed to sync default\/first-vela-workflow \(permission gitops.application.sync\)/,
      ),
    ).toBeInTheDocument();
    expect(
      screen.getByText(
        /You are not allowed to suspend automation of default\/first-vela-workflow \(permission gitops.application.suspend\)/,
      ),
    ).toBeInTheDocument();
  });
});
