import { screen, within } from '@testing-library/react';
import { ApplicationDetails } from '@gitops-workflow/plugin-gitops-common';
import { annotated, app, render, SHA, stubApi } from './__testUtils__/testing';

/* The page of an Application that another one applied from Git: who manages it, and what runs. */

const managedBy: ApplicationDetails['managedBy'] = {
  cluster: 'local',
  namespace: 'default',
  name: 'git-app',
  component: 'gitops',
  revision: `master@sha1:${SHA}`,
  url: 'https://github.com/example/deploy.git',
  entityRef: 'component:default/git-app',
};

/** first-vela-workflow as git-app applied it: no Git source of its own, so no revision of its own. */
const child: ApplicationDetails = {
  ...app,
  components: [app.components[0]],
  sync: { ...app.sync!, revision: undefined },
  managedBy,
};

const headerOf = async () =>
  within(
    (
      await screen.findByText('Application default/first-vela-workflow')
    ).closest<HTMLElement>('.MuiCard-root')!,
  );

describe('the workload’s own page', () => {
  it('says which Application manages it, linked to its entity, with the revision that carried it', async () => {
    await render(annotated, stubApi({ getApplication: async () => child }));
    const header = await headerOf();
    const line = header.getByLabelText('Managed by');
    expect(line).toHaveTextContent(
      /^managed by default\/git-app, master@sha1:3f1c2a9/,
    );
    expect(line).toHaveTextContent('(its component gitops, on cluster local)');
    expect(
      within(line).getByRole('link', { name: 'default/git-app' }),
    ).toHaveAttribute('href', '/catalog/default/component/git-app');
    // The commit links to the parent's repository, here and as the revision.
    for (const commit of header.getAllByRole('link', {
      name: /^Open commit 3f1c2a9/,
    }))
      expect(commit).toHaveAttribute(
        'href',
        `https://github.com/example/deploy/commit/${SHA}`,
      );
    expect(header.getAllByRole('link', { name: /^Open commit/ })).toHaveLength(
      2,
    );
    expect(
      header.queryByText('not synced from Git yet'),
    ).not.toBeInTheDocument();
  });

  it('names the parent without a link when no entity of it is readable', async () => {
    await render(
      annotated,
      stubApi({
        getApplication: async () => ({
          ...child,
          managedBy: { ...managedBy, entityRef: undefined },
        }),
      }),
    );
    const line = (await headerOf()).getByLabelText('Managed by');
    expect(within(line).getByText('default/git-app').tagName).toBe('STRONG');
    expect(
      within(line).queryByRole('link', { name: 'default/git-app' }),
    ).not.toBeInTheDocument();
  });

  it('shows no manager for an Application nobody applied', async () => {
    await render(annotated, stubApi());
    await headerOf();
    expect(screen.queryByLabelText('Managed by')).not.toBeInTheDocument();
  });

  it('shows the image the live workload runs, and says why when none is known', async () => {
    await render(
      annotated,
      stubApi({
        getApplication: async () => ({
          ...app,
          components: [
            {
              ...app.components[0],
              images: [
                'registry.example.com/platform/team-a/first-vela-workflow/test-server:master-3f1c2a9-1764583200',
                'envoy:1.30',
              ],
            },
            app.components[1],
          ],
        }),
      }),
    );
    const running = (await screen.findByText('webservice')).closest('tr')!;
    // A long ref is shortened, whole on hover and to copy.
    expect(
      within(running).getByText('…/test-server:master-3f1c2a9-1764583200'),
    ).toBeInTheDocument();
    expect(within(running).getByText('envoy:1.30')).toBeInTheDocument();
    expect(
      within(running).getByRole('button', {
        name: 'Copy registry.example.com/platform/team-a/first-vela-workflow/test-server:master-3f1c2a9-1764583200',
      }),
    ).toBeInTheDocument();

    const unknown = screen.getByText('kustomize').closest('tr')!;
    const dash = within(unknown).getByLabelText(
      'No running image known: None of its objects runs containers (ConfigMap default/settings)',
    );
    expect(dash).toHaveTextContent('—');
    // The reason is the dash's hover text.
    expect(dash).toHaveAttribute(
      'title',
      'None of its objects runs containers (ConfigMap default/settings)',
    );
  });
});
