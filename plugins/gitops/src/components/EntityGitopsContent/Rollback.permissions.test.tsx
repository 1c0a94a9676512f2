import { configure, screen, waitFor, within } from '@testing-library/react';
import { annotated, app, hold, render, stubApi } from './__testUtils__/testing';

// The tab is large: role queries skip the (slow) visibility check, and the
// backend's answers may take a while on a loaded machine.
configure({ defaultHidden: true, asyncUtilTimeout: 10_000 });
jest.setTimeout(60_000);

describe('rollback and release without gitops.application.rollback', () => {
  it('disables Roll back, Release hold and Release with the reason', async () => {
    const api = stubApi({
      getApplication: async () => ({
        ...app,
        sync: {
          ...app.sync!,
          holds: [hold],
          pinnedRevision: { revision: 3 },
        },
      }),
    });
    await render(
      annotated,
      api,
      name => name !== 'gitops.application.rollback',
    );
    const rollback = await screen.findByRole('button', {
      name: 'Roll back test-server to 1.0.0',
    });
    await waitFor(() => expect(rollback).toBeDisabled());
    expect(rollback.parentElement).toHaveAttribute(
      'title',
      expect.stringContaining(
        'You are not allowed to roll back images of default/first-vela-workflow (permission gitops.application.rollback on component:default/first-vela-workflow)',
      ),
    );
    const release = screen.getByRole('button', {
      name: 'Release the hold on test-server',
    });
    const releaseRevision = screen.getByRole('button', {
      name: 'Release the pinned workflow revision 3',
    });
    expect(release).toBeDisabled();
    expect(releaseRevision).toBeDisabled();
    expect(
      within(release.closest<HTMLElement>('[role="alert"]')!).getByText(
        /You are not allowed to release holds of default\/first-vela-workflow \(permission gitops.application.rollback/,
      ),
    ).toBeInTheDocument();
    // The other actions stay the user's.
    expect(
      screen.getByRole('button', {
        name: 'Sync default/first-vela-workflow now',
      }),
    ).toBeEnabled();
    expect(api.rollbackImage).not.toHaveBeenCalled();
  });
});
