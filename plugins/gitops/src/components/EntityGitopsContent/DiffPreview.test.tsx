import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import {
  annotated,
  diffPreview,
  render,
  responseError,
  stubApi,
} from './__testUtils__/testing';

/** Diff lines are matched as they are, leading spaces included. */
const asIs = { normalizer: (text: string) => text };

const previewButton = () =>
  screen.findByRole('button', { name: 'Preview next sync' });

describe('DiffPreview', () => {
  it('asks the backend only on demand, then shows each change as a coloured diff', async () => {
    const api = stubApi();
    await render(annotated, api);
    const button = await previewButton();
    expect(api.previewDiff).not.toHaveBeenCalled();
    await userEvent.click(button);
    expect(api.previewDiff).toHaveBeenCalledWith({
      namespace: 'default',
      name: 'first-vela-workflow',
    });

    expect(
      await screen.findByText(
        '1 to change, 1 to create, 1 to delete, 2 unchanged',
      ),
    ).toBeInTheDocument();
    const deployment = screen.getByRole('region', {
      name: 'Deployment default/web would change',
    });
    expect(within(deployment).getByText(/spec\.replicas/)).toBeInTheDocument();
    expect(
      within(deployment).getByText('-  replicas: 1', asIs),
    ).toHaveAttribute('data-line', 'removed');
    expect(
      within(deployment).getByText('+  replicas: 3', asIs),
    ).toHaveAttribute('data-line', 'added');
    expect(within(deployment).getByText('   selector:', asIs)).toHaveAttribute(
      'data-line',
      'context',
    );

    const created = screen.getByRole('region', {
      name: 'ConfigMap default/web-settings would be created',
    });
    expect(within(created).getByText('+  level: debug', asIs)).toHaveAttribute(
      'data-line',
      'added',
    );
    expect(
      screen.getByRole('region', {
        name: 'ConfigMap default/old-settings would be deleted (no longer in Git)',
      }),
    ).toBeInTheDocument();
    expect(
      screen.getByText(/from deploy at main@sha1:3f1c2a9/),
    ).toBeInTheDocument();
  });

  it('collapses unchanged objects into a count that lists them on demand', async () => {
    await render(annotated, stubApi());
    await userEvent.click(await previewButton());
    const toggle = await screen.findByRole('button', {
      name: 'Show 2 unchanged objects',
    });
    expect(
      screen.queryByRole('list', { name: 'Unchanged objects' }),
    ).not.toBeInTheDocument();
    await userEvent.click(toggle);
    const list = screen.getByRole('list', { name: 'Unchanged objects' });
    expect(
      within(list)
        .getAllByRole('listitem')
        .map(li => li.textContent),
    ).toEqual([
      'Service default/web on local',
      'Service default/web-db on local',
    ]);
  });

  it('says so when nothing would change', async () => {
    await render(
      annotated,
      stubApi({
        previewDiff: async () => ({
          ...diffPreview,
          objects: diffPreview.objects.filter(o => o.action === 'unchanged'),
          counts: { created: 0, changed: 0, unchanged: 2, pruned: 0 },
        }),
      }),
    );
    await userEvent.click(await previewButton());
    expect(
      await screen.findByText(
        'Nothing would change: the cluster already matches Git.',
      ),
    ).toBeInTheDocument();
  });

  it("shows the backend's reason when the preview fails", async () => {
    const error = await responseError(
      503,
      'The preview of default/first-vela-workflow did not finish within 120 s (gitops.timeouts.previewSeconds) and was stopped',
    );
    await render(
      annotated,
      stubApi({
        previewDiff: async () => {
          throw error;
        },
      }),
    );
    await userEvent.click(await previewButton());
    expect(
      await screen.findByText(
        /Could not preview the next sync: .*did not finish within 120 s/,
      ),
    ).toBeInTheDocument();
  });

  it('is disabled, saying why, for a user who may not sync', async () => {
    const api = stubApi();
    await render(annotated, api, name => name !== 'gitops.application.sync');
    // The reason is the disabled button's tooltip title (what hovering shows),
    // on the wrapper MUI gives it; it says "Checking your permissions…" until
    // the permission API answers.
    await waitFor(
      async () =>
        expect((await previewButton()).parentElement).toHaveAttribute(
          'title',
          expect.stringMatching(
            /You are not allowed to preview the next sync of default\/first-vela-workflow/,
          ),
        ),
      { timeout: 20_000 },
    );
    const button = await previewButton();
    expect(button).toBeDisabled();
    expect(api.previewDiff).not.toHaveBeenCalled();
  });
});
