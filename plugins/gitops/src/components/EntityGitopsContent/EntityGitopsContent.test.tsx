import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import {
  annotated,
  app,
  config,
  entity,
  render,
  responseError,
  SHA,
  stubApi,
  timeAt,
} from './__testUtils__/testing';
import { formatExactTime } from '../common/format';

describe('EntityGitopsContent', () => {
  it('explains the missing annotation', async () => {
    await render(entity(), stubApi());
    expect(screen.getByText(/Missing Annotation/i)).toBeInTheDocument();
    expect(
      screen.getAllByText(/gitops-workflow.io\/application/).length,
    ).toBeGreaterThan(0);
  });

  it('shows a malformed annotation as an actionable error', async () => {
    await render(
      entity({ 'gitops-workflow.io/application': 'just-a-name' }),
      stubApi(),
    );
    expect(
      await screen.findByText(
        /must be "namespace\/name" or "cluster\/namespace\/name"/,
      ),
    ).toBeInTheDocument();
  });

  it('shows a progress bar until the backend answers', async () => {
    await render(
      annotated,
      stubApi({ getApplication: () => new Promise(() => {}) }),
    );
    expect(await screen.findByRole('progressbar')).toBeInTheDocument();
  });

  it('header: phase, health, revision linked to the commit, syncs and automation', async () => {
    await render(annotated, stubApi());
    const header = within(
      (
        await screen.findByText('Application default/first-vela-workflow')
      ).closest<HTMLElement>('.MuiCard-root')!,
    );
    expect(header.getByText('running')).toBeInTheDocument();
    expect(header.getByText('all components healthy')).toBeInTheDocument();
    const commit = await header.findByRole('link', {
      name: /^Open commit 3f1c2a9/,
    });
    expect(commit).toHaveAttribute(
      'href',
      `https://github.com/example/deploy/commit/${SHA}`,
    );
    expect(screen.getByText(/main@sha1:/)).toBeInTheDocument();
    // Times are relative, exact on hover.
    const lastSync = timeAt('2026-11-23T10:05:00Z');
    expect(lastSync).toHaveTextContent(/ago$/);
    expect(lastSync.parentElement).toHaveTextContent(/ago \(succeeded\)$/);
    expect(lastSync).toHaveAttribute(
      'title',
      formatExactTime('2026-11-23T10:05:00Z'),
    );
    expect(timeAt('2026-11-23T10:06:00Z')).toHaveTextContent(/ago$/);
    expect(screen.getByText('active')).toBeInTheDocument();
    expect(await screen.findByText('reachable, v1.34.1')).toBeInTheDocument();
  });

  it('shows the revision as plain text when the Git server is not a known forge', async () => {
    await render(
      annotated,
      stubApi({
        getSyncConfig: async () => ({
          ...config,
          components: [
            {
              ...config.components[0],
              git: {
                ...config.components[0].git,
                url: 'http://127.0.0.1:4000/deploy.git',
              },
            },
          ],
        }),
      }),
    );
    // The header, the image history and the recent syncs.
    await waitFor(() => expect(screen.getAllByText('3f1c2a9')).toHaveLength(3));
    await waitFor(() =>
      expect(
        screen.getByText('http://127.0.0.1:4000/deploy.git'),
      ).toBeInTheDocument(),
    );
    expect(
      screen.queryByRole('link', { name: /^Open commit/ }),
    ).not.toBeInTheDocument();
  });

  it('components: type, traits, health, message, cluster, image, and resources on expand', async () => {
    await render(annotated, stubApi());
    const row = (await screen.findByText('webservice')).closest('tr')!;
    expect(within(row).getByText('test-server')).toBeInTheDocument();
    expect(within(row).getByText('webservice')).toBeInTheDocument();
    expect(within(row).getByText('ingress')).toBeInTheDocument();
    expect(within(row).getByText('healthy')).toBeInTheDocument();
    expect(within(row).getByText('Ready:1/1')).toBeInTheDocument();
    expect(within(row).getByText('local')).toBeInTheDocument();
    expect(
      await within(row).findByText('registry.local/test-server:1.0.1'),
    ).toBeInTheDocument();
    expect(
      screen.queryByRole('list', { name: 'Resources of test-server' }),
    ).not.toBeInTheDocument();
    await userEvent.click(
      within(row).getByRole('button', {
        name: 'Show resources of test-server',
      }),
    );
    const list = screen.getByRole('list', { name: 'Resources of test-server' });
    expect(
      within(list).getByText(/Deployment default\/test-server/),
    ).toBeInTheDocument();
    expect(within(list).getByText('Current')).toBeInTheDocument();
    expect(within(list).getByText('InProgress')).toBeInTheDocument();
  });

  it('image history: when, old → new tag, commit, rollout, time to healthy, why', async () => {
    await render(annotated, stubApi());
    const row = (await screen.findByText('1.0.0 → 1.0.1')).closest('tr')!;
    expect(timeAt('2026-11-23T10:04:00Z', row)).toHaveAttribute(
      'title',
      formatExactTime('2026-11-23T10:04:00Z'),
    );
    expect(
      within(row).getByText('registry.local/test-server'),
    ).toBeInTheDocument();
    expect(
      await within(row).findByRole('link', { name: /^Open commit 3f1c2a9/ }),
    ).toBeInTheDocument();
    expect(timeAt('2026-11-23T10:04:05Z', row)).toHaveTextContent(/ago$/);
    expect(within(row).getByText('healthy in 12 s')).toBeInTheDocument();
    expect(within(row).getByText('semver (webhook)')).toBeInTheDocument();
  });

  it('image history: says what will appear when there is none yet', async () => {
    await render(
      annotated,
      stubApi({ getImageHistory: async () => ({ items: [], totalCount: 0 }) }),
    );
    expect(await screen.findByText(/No image updates yet/)).toBeInTheDocument();
  });

  it('sync configuration: Git and image settings, secrets by name', async () => {
    await render(annotated, stubApi());
    expect(
      await screen.findByText('https://github.com/example/deploy.git'),
    ).toBeInTheDocument();
    expect(screen.getByText('overlays/prod')).toBeInTheDocument();
    expect(screen.getByText('semver >=1.0.0')).toBeInTheDocument();
    expect(screen.getByText('git-credentials')).toBeInTheDocument();
    expect(screen.getByText('registry-credentials')).toBeInTheDocument();
    expect(
      screen.getByText(/Commits are authored by kubevelabot/),
    ).toBeInTheDocument();
  });

  it('recent syncs: trigger, duration, revision, result, and why one failed', async () => {
    await render(annotated, stubApi());
    expect(await screen.findByText('latest 2 of 14')).toBeInTheDocument();
    const ok = screen.getByText('manual').closest('tr')!;
    expect(within(ok).getByText('manual')).toBeInTheDocument();
    expect(within(ok).getByText('2 s')).toBeInTheDocument();
    expect(within(ok).getByText('succeeded')).toBeInTheDocument();
    expect(within(ok).getByText('3')).toBeInTheDocument();
    const failed = screen.getByText(/Git authentication failed/).closest('tr')!;
    expect(within(failed).getByText('failed')).toBeInTheDocument();
    expect(
      within(failed).getByText(/check the Secret git-credentials/),
    ).toBeInTheDocument();
  });

  it('workflow: says so plainly when there is none', async () => {
    await render(annotated, stubApi());
    expect(
      await screen.findByText(/This Application has no workflow/),
    ).toBeInTheDocument();
  });

  it('workflow: steps with phase, duration and message; Resume on the suspended step', async () => {
    const api = stubApi({
      getApplication: async () => ({
        ...app,
        phase: 'workflowSuspending',
        workflow: {
          suspend: true,
          terminated: false,
          finished: false,
          steps: [
            {
              name: 'deploy-staging',
              type: 'deploy',
              phase: 'succeeded',
              firstExecuteTime: '2026-11-23T10:00:00Z',
              lastExecuteTime: '2026-11-23T10:01:05Z',
            },
            {
              name: 'approve',
              type: 'suspend',
              phase: 'running',
              message: 'Waiting for approval',
            },
          ],
        },
      }),
    });
    await render(annotated, api);
    expect(
      await screen.findByText('Workflow (suspended, waiting to be resumed)'),
    ).toBeInTheDocument();
    const done = screen.getByText('deploy-staging').closest('tr')!;
    expect(within(done).getByText('succeeded')).toBeInTheDocument();
    expect(within(done).getByText('1 m 5 s')).toBeInTheDocument();
    const waiting = screen.getByText('approve').closest('tr')!;
    expect(
      within(waiting).getByText('Waiting for approval'),
    ).toBeInTheDocument();
    await userEvent.click(
      within(waiting).getByRole('button', {
        name: 'Resume workflow step approve',
      }),
    );
    expect(api.resumeWorkflow).toHaveBeenCalledWith(
      { namespace: 'default', name: 'first-vela-workflow' },
      'approve',
    );
  });

  it('tells the user when the Application does not exist', async () => {
    const notFound = await responseError(
      404,
      'No Application default/gone in cluster "local"',
    );
    await render(
      entity({ 'gitops-workflow.io/application': 'default/gone' }),
      stubApi({ getApplication: async () => Promise.reject(notFound) }),
    );
    expect(
      await screen.findByText('Application default/gone not found'),
    ).toBeInTheDocument();
    expect(
      screen.getByText(
        /^No Application default\/gone in cluster "local"\. Apply the Application to the cluster, or fix the gitops-workflow.io\/application annotation/,
      ),
    ).toBeInTheDocument();
  });

  it('shows the backend’s own message when loading fails', async () => {
    const failure = await responseError(
      503,
      'Cluster "local" is unreachable: connect ECONNREFUSED 127.0.0.1:6443',
    );
    await render(
      annotated,
      stubApi({ getApplication: async () => Promise.reject(failure) }),
    );
    expect(
      await screen.findByText(/Could not load the Application/),
    ).toBeInTheDocument();
    expect(
      screen.getAllByText(
        /Cluster "local" is unreachable: connect ECONNREFUSED/,
      ).length,
    ).toBeGreaterThan(0);
  });

  it('Sync now starts a reconcile and says so', async () => {
    const api = stubApi();
    await render(annotated, api);
    await userEvent.click(
      await screen.findByRole('button', {
        name: 'Sync default/first-vela-workflow now',
      }),
    );
    expect(api.sync).toHaveBeenCalledWith({
      namespace: 'default',
      name: 'first-vela-workflow',
    });
    expect(await screen.findByRole('status')).toHaveTextContent(
      'Sync of default/first-vela-workflow started',
    );
  });

  it('Sync now reports the backend’s refusal in its words', async () => {
    const refused = await responseError(
      409,
      'default/first-vela-workflow is not reconciled by this backend',
    );
    await render(
      annotated,
      stubApi({ sync: async () => Promise.reject(refused) }),
    );
    await userEvent.click(
      await screen.findByRole('button', {
        name: 'Sync default/first-vela-workflow now',
      }),
    );
    expect(await screen.findByRole('status')).toHaveTextContent(
      'Sync could not start: default/first-vela-workflow is not reconciled by this backend',
    );
  });

  it('Suspend automation asks for confirmation first, then suspends', async () => {
    const api = stubApi();
    await render(annotated, api);
    await userEvent.click(
      await screen.findByRole('button', {
        name: 'Suspend automation of default/first-vela-workflow',
      }),
    );
    expect(
      screen.getByText('Suspend automation of default/first-vela-workflow?'),
    ).toBeInTheDocument();
    await userEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    await waitFor(() =>
      expect(screen.queryByRole('dialog')).not.toBeInTheDocument(),
    );
    expect(api.setSuspended).not.toHaveBeenCalled();
    await userEvent.click(
      screen.getByRole('button', {
        name: 'Suspend automation of default/first-vela-workflow',
      }),
    );
    await userEvent.click(
      screen.getByRole('button', { name: 'Confirm: suspend automation' }),
    );
    expect(api.setSuspended).toHaveBeenCalledWith(
      { namespace: 'default', name: 'first-vela-workflow' },
      true,
    );
    expect(await screen.findByRole('status')).toHaveTextContent(
      'Automation of default/first-vela-workflow suspended.',
    );
  });

  it('offers Resume automation when automation is suspended', async () => {
    const api = stubApi({
      getApplication: async () => ({
        ...app,
        sync: { ...app.sync!, suspended: true },
      }),
    });
    await render(annotated, api);
    expect(
      await screen.findByText('suspended: new image tags are not committed'),
    ).toBeInTheDocument();
    await userEvent.click(
      screen.getByRole('button', {
        name: 'Resume automation of default/first-vela-workflow',
      }),
    );
    await userEvent.click(
      screen.getByRole('button', { name: 'Confirm: resume automation' }),
    );
    expect(api.setSuspended).toHaveBeenCalledWith(
      { namespace: 'default', name: 'first-vela-workflow' },
      false,
    );
  });

  it('refreshes itself while open and keeps the last data on screen meanwhile', async () => {
    let calls = 0;
    const api = stubApi({
      getApplication: async () => {
        calls += 1;
        return calls === 1 ? { ...app, phase: 'runningWorkflow' } : app;
      },
    });
    await render(annotated, api);
    expect(
      (await screen.findAllByText('runningWorkflow')).length,
    ).toBeGreaterThan(0);
    await waitFor(
      () => expect(screen.queryAllByText('runningWorkflow')).toHaveLength(0),
      { timeout: 8000 },
    );
    expect(screen.getAllByText('running').length).toBeGreaterThan(0);
    expect(screen.queryByRole('progressbar')).not.toBeInTheDocument();
    expect(
      screen.getByText('Application default/first-vela-workflow'),
    ).toBeInTheDocument();
  }, 15000);

  it('keeps showing the last state with a warning when a refresh fails', async () => {
    let calls = 0;
    const failure = await responseError(503, 'Cluster "local" is unreachable');
    const api = stubApi({
      getApplication: async () => {
        calls += 1;
        if (calls === 1) return app;
        throw failure;
      },
    });
    await render(annotated, api);
    expect(
      await screen.findByText('Application default/first-vela-workflow'),
    ).toBeInTheDocument();
    expect(
      await screen.findByText(
        /Showing the last known state: refreshing failed/,
        {},
        { timeout: 8000 },
      ),
    ).toBeInTheDocument();
    expect(
      screen.getByText('Cluster "local" is unreachable'),
    ).toBeInTheDocument();
    expect(screen.getByText('webservice')).toBeInTheDocument();
  }, 15000);
});
