import { ResponseError } from '@backstage/errors';
import { entityRouteRef } from '@backstage/plugin-catalog-react';
import { renderInTestApp, TestApiProvider } from '@backstage/test-utils';
import { ApplicationListResponse } from '@gitops-workflow/plugin-gitops-common';
import { screen, within } from '@testing-library/react';
import { GitopsApi, gitopsApiRef } from '../../api';
import { ApplicationsPage } from './ApplicationsPage';

// Only our own backend's HTTP API is stubbed here, as the handbook allows.
async function render(listApplications: GitopsApi['listApplications']) {
  return renderInTestApp(
    <TestApiProvider
      apis={[[gitopsApiRef, { listApplications } as Partial<GitopsApi>]]}
    >
      <ApplicationsPage />
    </TestApiProvider>,
    {
      mountedRoutes: {
        '/catalog/:namespace/:kind/:name': entityRouteRef,
      },
    },
  );
}

const list: ApplicationListResponse = {
  items: [
    {
      cluster: 'local',
      namespace: 'default',
      name: 'git-app',
      phase: 'running',
      healthy: true,
      createdAt: '2026-11-23T10:00:00Z',
      components: [{ name: 'deploy', type: 'kustomize', traits: [] }],
      entityRef: 'component:default/git-app',
    },
    {
      cluster: 'local',
      namespace: 'default',
      name: 'orphan',
      phase: 'unhealthy',
      healthy: false,
      components: [
        {
          name: 'web',
          type: 'webservice',
          traits: ['ingress'],
          healthy: false,
          message: 'Ready:0/1',
        },
      ],
    },
  ],
  errors: [{ cluster: 'edge', error: 'connect ECONNREFUSED 127.0.0.1:6444' }],
};

describe('ApplicationsPage', () => {
  it('shows a deleted Application as deleting, with how many objects are left and why', async () => {
    await render(async () => ({
      items: [
        {
          cluster: 'local',
          namespace: 'default',
          name: 'leaving',
          phase: 'deleting',
          healthy: true,
          components: [{ name: 'web', type: 'webservice', traits: [] }],
          deletion: {
            requestedAt: '2026-11-23T10:00:00Z',
            remaining: [
              {
                apiVersion: 'v1',
                kind: 'ConfigMap',
                name: 'held',
                cluster: 'local',
              },
            ],
            message:
              'Deleting: 1 object left: ConfigMap default/held on local: deleted, waiting for its finalizers example/hold.',
          },
        },
      ],
    }));
    const cell = await screen.findByText('deleting: 1 object left');
    expect(cell.closest('[title]')?.getAttribute('title')).toContain(
      'waiting for its finalizers example/hold',
    );
  });

  it('lists every Application like vela ls, linked to its catalog entity', async () => {
    await render(async () => list);
    const row = (await screen.findByText('default/git-app')).closest('tr')!;
    expect(within(row).getByText('deploy (kustomize)')).toBeInTheDocument();
    expect(within(row).getByText('running')).toBeInTheDocument();
    expect(within(row).getByText('healthy')).toBeInTheDocument();
    expect(within(row).getByRole('link', { name: /git-app/ })).toHaveAttribute(
      'href',
      '/catalog/default/component/git-app',
    );
    const orphan = screen.getByText('default/orphan').closest('tr')!;
    expect(within(orphan).getByText('ingress')).toBeInTheDocument();
    // Both the phase and the health say so.
    expect(within(orphan).getAllByText('unhealthy')).toHaveLength(2);
    expect(within(orphan).getByText('web: Ready:0/1')).toBeInTheDocument();
    expect(within(orphan).getByText('not in the catalog')).toBeInTheDocument();
  });

  it('names a cluster that could not be listed beside the others’ Applications', async () => {
    await render(async () => list);
    expect(
      await screen.findByText(/Cluster edge could not be listed/),
    ).toBeInTheDocument();
    expect(
      screen.getByText('connect ECONNREFUSED 127.0.0.1:6444'),
    ).toBeInTheDocument();
  });

  it('says how to get Applications when there are none', async () => {
    await render(async () => ({ items: [] }));
    expect(
      await screen.findByText(/No Applications found/),
    ).toBeInTheDocument();
  });

  it('shows the backend’s message when listing fails', async () => {
    const failure = await ResponseError.fromResponse(
      new Response(
        JSON.stringify({
          error: {
            name: 'Error',
            message:
              'No clusters are configured: add gitops.clusters to app-config.yaml',
          },
          request: { method: 'GET', url: '/applications' },
          response: { statusCode: 500 },
        }),
        { status: 500, headers: { 'Content-Type': 'application/json' } },
      ),
    );
    await render(async () => Promise.reject(failure));
    expect(
      await screen.findByText(/Could not list Applications/),
    ).toBeInTheDocument();
    expect(
      screen.getAllByText(/No clusters are configured: add gitops.clusters/)
        .length,
    ).toBeGreaterThan(0);
  });
});
