import { ImageHistoryEntry } from '@gitops-workflow/plugin-gitops-common';
import { configure, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import {
  annotated,
  app,
  audit,
  config,
  enabled,
  history,
  hold,
  render,
  responseError,
  stubApi,
} from './__testUtils__/testing';
import { rollbackTargets } from './ImageHistoryTable';

// The tab is large: role queries skip the (slow) visibility check, and the
// backend's answers may take a while on a loaded machine.
configure({ defaultHidden: true, asyncUtilTimeout: 10_000 });
jest.setTimeout(60_000);

const REF = { namespace: 'default', name: 'first-vela-workflow' };

/** The rollback row the backend records for jane's rollback of test-server to 1.0.0. */
const rollbackRow: ImageHistoryEntry = {
  id: 3,
  component: 'test-server',
  image: 'registry.local/test-server',
  oldTag: '1.0.1',
  newTag: '1.0.0',
  commitSha: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
  trigger: 'manual',
  detectedAt: '2026-11-23T10:06:00Z',
  pushedAt: '2026-11-23T10:06:01Z',
  action: 'rollback',
  requestedBy: 'user:default/jane',
  reason: 'login broken in 1.0.1',
};

/** A backend whose state a rollback and a release change, as ours does. */
function statefulApi() {
  let held = false;
  const api = stubApi({
    getApplication: async () => ({
      ...app,
      sync: { ...app.sync!, holds: held ? [hold] : [] },
    }),
    getImageHistory: async () => {
      const items = held
        ? [rollbackRow, { ...history[0], rolledBackAt: '2026-11-23T10:06:00Z' }]
        : history;
      return { items, totalCount: items.length };
    },
    getSyncConfig: async () => ({
      ...config,
      components: [
        {
          ...config.components[0],
          image: {
            ...config.components[0].image!,
            ...(held ? { hold } : {}),
          },
        },
      ],
    }),
    rollbackImage: async (_ref, component, { to, reason }) => {
      held = true;
      return { hold: { ...hold, component, tag: to, reason } };
    },
    releaseImageHold: async () => {
      held = false;
      return { hold };
    },
  });
  return api;
}

describe('rollback, holds and the audit trail in the GitOps tab', () => {
  it('rolls back from an image-history row with a reason, then shows the hold in the header, the history and the sync configuration', async () => {
    const api = statefulApi();
    await render(annotated, api);
    // The running tag's row offers the tag it replaced.
    const button = await enabled('Roll back test-server to 1.0.0');
    expect(button).toHaveTextContent('Roll back to 1.0.0');
    await userEvent.click(button);
    const dialog = await screen.findByRole('dialog', {
      name: 'Roll test-server back to 1.0.0?',
    });
    expect(dialog).toHaveTextContent(
      'The bot commits registry.local/test-server:1.0.0 to Git',
    );
    await userEvent.click(
      within(dialog).getByRole('textbox', { name: /Reason/ }),
    );
    await userEvent.paste('login broken in 1.0.1');
    await userEvent.click(
      within(dialog).getByRole('button', { name: 'Roll back' }),
    );
    expect(api.rollbackImage).toHaveBeenCalledWith(REF, 'test-server', {
      to: '1.0.0',
      reason: 'login broken in 1.0.1',
    });
    expect(await screen.findByRole('status')).toHaveTextContent(
      'Rolling test-server back to 1.0.0: automation is held there until released.',
    );
    await waitFor(() =>
      expect(screen.queryByRole('dialog')).not.toBeInTheDocument(),
    );

    // The banner: which tag, who, why, and what the policy would pick now.
    const banner = (
      await screen.findByText(
        'Image automation of test-server is held at 1.0.0',
      )
    ).closest<HTMLElement>('[role="alert"]')!;
    expect(banner).toHaveTextContent(
      /Rolled back by user:default\/jane .* ago: login broken in 1\.0\.1\./,
    );
    expect(banner).toHaveTextContent('The policy would pick 1.0.1 now');
    expect(
      within(banner).getByRole('button', {
        name: 'Release the hold on test-server',
      }),
    ).toBeEnabled();
    expect(
      screen.getByText('held: test-server at 1.0.0 until released'),
    ).toBeInTheDocument();

    // The history: the rollback row says who and why; the undone update
    // says it was rolled back and now offers its own tag.
    const row = (
      await screen.findByText(
        'rollback by user:default/jane: login broken in 1.0.1',
      )
    ).closest('tr')!;
    expect(within(row).getByText('1.0.1 → 1.0.0')).toBeInTheDocument();
    const undone = screen.getByText('1.0.0 → 1.0.1').closest('tr')!;
    expect(within(undone).getByText(/^rolled back/)).toBeInTheDocument();
    expect(
      screen.getAllByRole('button', { name: /^Roll back test-server to/ }),
    ).toEqual([
      within(undone).getByRole('button', {
        name: 'Roll back test-server to 1.0.1',
      }),
    ]);

    // The sync configuration names the hold too.
    expect(
      await screen.findByText(
        /^held at 1\.0\.0\. Rolled back by user:default\/jane/,
      ),
    ).toBeInTheDocument();
  });

  it('releases a hold after asking, with the reason, and the banner goes', async () => {
    const api = statefulApi();
    await api.rollbackImage(REF, 'test-server', { to: '1.0.0' });
    await render(annotated, api);
    await userEvent.click(await enabled('Release the hold on test-server'));
    const dialog = await screen.findByRole('dialog', {
      name: 'Release the hold on test-server?',
    });
    expect(dialog).toHaveTextContent(
      'Automation resumes: the policy picks the newest tag again',
    );
    await userEvent.click(
      within(dialog).getByRole('textbox', { name: /Reason/ }),
    );
    await userEvent.paste('fixed in 1.0.2');
    await userEvent.click(
      within(dialog).getByRole('button', { name: 'Release hold' }),
    );
    expect(api.releaseImageHold).toHaveBeenCalledWith(
      REF,
      'test-server',
      'fixed in 1.0.2',
    );
    await waitFor(() =>
      expect(
        screen.queryByText('Image automation of test-server is held at 1.0.0'),
      ).not.toBeInTheDocument(),
    );
    expect(screen.getByText('active')).toBeInTheDocument();
  });

  it('keeps the dialog open with the backend’s words when a rollback is refused', async () => {
    const refused = await responseError(
      409,
      'test-server never ran 1.0.0 in this repository: pick a tag from its image history',
    );
    const api = stubApi({ rollbackImage: async () => Promise.reject(refused) });
    await render(annotated, api);
    await userEvent.click(await enabled('Roll back test-server to 1.0.0'));
    await userEvent.click(
      within(
        await screen.findByRole('dialog', {
          name: 'Roll test-server back to 1.0.0?',
        }),
      ).getByRole('button', { name: 'Roll back' }),
    );
    expect(await screen.findByRole('alert')).toHaveTextContent(
      'Could not roll back: test-server never ran 1.0.0 in this repository: pick a tag from its image history',
    );
    expect(
      screen.getByRole('dialog', { name: 'Roll test-server back to 1.0.0?' }),
    ).toBeInTheDocument();
    // No reason typed: none is sent.
    expect(api.rollbackImage).toHaveBeenCalledWith(REF, 'test-server', {
      to: '1.0.0',
      reason: undefined,
    });
  });

  it('history: an automatic rollback says why, a failed rollout says how, digests are short with the full value on hover', async () => {
    const digest = `sha256:${'0123456789abcdef'.repeat(4)}`;
    const failed: ImageHistoryEntry = {
      ...history[0],
      id: 4,
      oldTag: '1.0.1',
      newTag: '1.0.2',
      digest,
      detectedAt: '2026-11-23T11:00:00Z',
      healthyAt: undefined,
      failedAt: '2026-11-23T11:05:00Z',
      failure: 'ProgressDeadlineExceeded: test-server has not progressed',
      rolledBackAt: '2026-11-23T11:06:00Z',
    };
    const automatic: ImageHistoryEntry = {
      ...history[0],
      id: 5,
      oldTag: '1.0.2',
      newTag: '1.0.1',
      detectedAt: '2026-11-23T11:06:00Z',
      action: 'automaticRollback',
      reason: '1.0.2 failed: ProgressDeadlineExceeded',
    };
    await render(
      annotated,
      stubApi({
        getImageHistory: async () => ({
          items: [automatic, failed, history[0]],
          totalCount: 3,
        }),
      }),
    );
    const auto = (
      await screen.findByText(
        'rolled back automatically: 1.0.2 failed: ProgressDeadlineExceeded',
      )
    ).closest('tr')!;
    expect(
      within(auto).queryByRole('button', { name: /^Roll back/ }),
    ).toBeNull();
    const bad = screen.getByText('1.0.1 → 1.0.2').closest('tr')!;
    expect(bad).toHaveTextContent(
      /failed .* ago: ProgressDeadlineExceeded: test-server has not progressed/,
    );
    const short = within(bad).getByText('sha256:0123456789ab…');
    expect(short).toHaveAttribute('title', digest);
    expect(
      within(bad).getByRole('button', { name: `Copy ${digest}` }),
    ).toBeInTheDocument();
    expect(
      within(bad).getByRole('button', {
        name: 'Roll back test-server to 1.0.2',
      }),
    ).toBeInTheDocument();
  });

  it('shows a pinned workflow revision with Release', async () => {
    const api = stubApi({
      getApplication: async () => ({
        ...app,
        sync: {
          ...app.sync!,
          pinnedRevision: {
            revision: 3,
            by: 'user:default/jane',
            at: '2026-11-23T10:06:00Z',
            reason: 'v4 broke checkout',
          },
        },
      }),
    });
    await render(annotated, api);
    const banner = (
      await screen.findByText('Workflow revision 3 is pinned')
    ).closest<HTMLElement>('[role="alert"]')!;
    expect(banner).toHaveTextContent(
      /Rolled back by user:default\/jane .* ago: v4 broke checkout\. Newer revisions of the Application are not applied until someone releases it\./,
    );
    await userEvent.click(
      await enabled('Release the pinned workflow revision 3', banner),
    );
    await userEvent.click(
      within(
        await screen.findByRole('dialog', {
          name: 'Release workflow revision 3?',
        }),
      ).getByRole('button', { name: 'Release' }),
    );
    expect(api.releaseWorkflowRevision).toHaveBeenCalledWith(REF, undefined);
  });

  it('audit: every action with who, when, why and what', async () => {
    await render(annotated, stubApi());
    const row = (
      await screen.findByText('rolled test-server back to 1.0.0')
    ).closest('tr')!;
    expect(within(row).getByText('roll back image')).toBeInTheDocument();
    expect(within(row).getByText('user:default/jane')).toBeInTheDocument();
    expect(within(row).getByText('login broken in 1.0.1')).toBeInTheDocument();
    expect(row.querySelector('time')).toHaveAttribute('dateTime', audit[0].at);
    const sync = screen.getByText('started a sync').closest('tr')!;
    expect(within(sync).getByText('sync')).toBeInTheDocument();
    expect(within(sync).getByText('—')).toBeInTheDocument();
  });

  it('audit: says what will appear when nothing was done yet', async () => {
    await render(
      annotated,
      stubApi({ getAudit: async () => ({ items: [], totalCount: 0 }) }),
    );
    expect(
      await screen.findByText(/No actions recorded yet\. Sync now/),
    ).toBeInTheDocument();
  });
});

describe('rollbackTargets', () => {
  const row = (
    id: number,
    oldTag: string | undefined,
    newTag: string,
    extra: Partial<ImageHistoryEntry> = {},
  ): ImageHistoryEntry => ({
    id,
    component: 'web',
    image: 'registry.local/web',
    oldTag,
    newTag,
    trigger: 'poll',
    detectedAt: '2026-11-23T10:00:00Z',
    ...extra,
  });
  const tags = (rows: ImageHistoryEntry[]) =>
    Object.fromEntries(
      [...rollbackTargets(rows)].map(([id, t]) => [id, t.tag]),
    );

  it('offers the tag a first update replaced (the seed: 0.1.5 → 0.1.6)', () => {
    expect(tags([row(1, '0.1.5', '0.1.6')])).toEqual({ 1: '0.1.5' });
  });

  it('offers each older tag once, on the row that introduced it, never the running one', () => {
    expect(
      tags([
        row(3, '0.1.6', '0.1.7'),
        row(2, '0.1.5', '0.1.6'),
        row(1, '0.1.4', '0.1.5'),
      ]),
    ).toEqual({ 2: '0.1.6', 1: '0.1.5' });
  });

  it('looks at each component alone, and offers nothing for a deleted Application', () => {
    expect(
      tags([
        row(3, '2.0', '2.1', { component: 'api' }),
        row(2, '0.1.5', '0.1.6'),
        row(1, '0.9', '1.0', {
          component: 'gone',
          applicationDeletedAt: '2026-11-23T11:00:00Z',
        }),
      ]),
    ).toEqual({ 3: '2.0', 2: '0.1.5' });
  });
});
