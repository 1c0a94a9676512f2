import { Entity } from '@backstage/catalog-model';
import { ResponseError } from '@backstage/errors';
import { EntityProvider } from '@backstage/plugin-catalog-react';
import { renderInTestApp, TestApiProvider } from '@backstage/test-utils';
import { ApplicationDetails } from '@gitops-workflow/plugin-gitops-common';
import { screen } from '@testing-library/react';
import { GitopsApi, gitopsApiRef } from '../../api';
import { EntityGitopsContent } from './EntityGitopsContent';

const entity = (annotations: Record<string, string> = {}): Entity => ({
  apiVersion: 'backstage.io/v1alpha1',
  kind: 'Component',
  metadata: { name: 'first-vela-workflow', annotations },
  spec: {},
});

const app: ApplicationDetails = {
  cluster: 'local',
  namespace: 'default',
  name: 'first-vela-workflow',
  createdAt: '2026-11-23T10:00:00Z',
  components: [{ name: 'test-server', type: 'webservice', traits: ['ingress'] }],
  phase: 'running',
  services: [
    { name: 'test-server', namespace: 'default', healthy: true, message: 'Ready:1/1' },
  ],
  conditions: [],
};

// Only our own backend's HTTP API is stubbed here, as the handbook allows.
function api(overrides: Partial<GitopsApi>): GitopsApi {
  return {
    getClusters: async () => ({
      items: [
        { name: 'local', labels: {}, server: 'https://127.0.0.1:6443', reachable: true, version: 'v1.34.1' },
      ],
    }),
    getApplication: async () => app,
    ...overrides,
  };
}

async function render(e: Entity, gitopsApi: GitopsApi) {
  return renderInTestApp(
    <TestApiProvider apis={[[gitopsApiRef, gitopsApi]]}>
      <EntityProvider entity={e}>
        <EntityGitopsContent />
      </EntityProvider>
    </TestApiProvider>,
  );
}

describe('EntityGitopsContent', () => {
  it('explains the missing annotation', async () => {
    await render(entity(), api({}));
    expect(screen.getByText(/Missing Annotation/i)).toBeInTheDocument();
    expect(screen.getAllByText(/gitops.backstage.io\/application/).length).toBeGreaterThan(0);
  });

  it('shows the phase, each component with its health, and the clusters', async () => {
    await render(
      entity({ 'gitops.backstage.io/application': 'default/first-vela-workflow' }),
      api({}),
    );
    expect(await screen.findByText('Application default/first-vela-workflow')).toBeInTheDocument();
    expect(screen.getByText('running')).toBeInTheDocument();
    expect(screen.getByText('test-server')).toBeInTheDocument();
    expect(screen.getByText('Ready:1/1')).toBeInTheDocument();
    expect(await screen.findByText('reachable, v1.34.1')).toBeInTheDocument();
  });

  it('tells the user when the Application does not exist', async () => {
    const notFound = await ResponseError.fromResponse(
      new Response(
        JSON.stringify({
          error: { name: 'NotFoundError', message: 'No Application default/gone in cluster "local"' },
          request: { method: 'GET', url: '/applications/default/gone' },
          response: { statusCode: 404 },
        }),
        { status: 404, statusText: 'Not Found', headers: { 'Content-Type': 'application/json' } },
      ),
    );
    await render(
      entity({ 'gitops.backstage.io/application': 'default/gone' }),
      api({ getApplication: async () => Promise.reject(notFound) }),
    );
    expect(await screen.findByText('Application default/gone not found')).toBeInTheDocument();
    expect(
      screen.getByText(/^No Application default\/gone in cluster "local"\. Apply the Application to the cluster, or fix the gitops.backstage.io\/application annotation/),
    ).toBeInTheDocument();
  });

  it('shows a malformed annotation as an actionable error', async () => {
    await render(
      entity({ 'gitops.backstage.io/application': 'just-a-name' }),
      api({}),
    );
    expect(
      await screen.findByText(/must be "namespace\/name" or "cluster\/namespace\/name"/),
    ).toBeInTheDocument();
  });
});
