import { EntityProvider } from '@backstage/plugin-catalog-react';
import { renderInTestApp, TestApiProvider } from '@backstage/test-utils';
import { Entity } from '@backstage/catalog-model';
import { screen } from '@testing-library/react';
import { gitopsApiRef } from '../../api';
import {
  annotated,
  app,
  entity,
  responseError,
  stubApi,
} from '../EntityGitopsContent/__testUtils__/testing';
import { EntityGitopsCard } from './EntityGitopsCard';

async function render(e: Entity, api = stubApi()) {
  return renderInTestApp(
    <TestApiProvider apis={[[gitopsApiRef, api]]}>
      <EntityProvider entity={e}>
        <EntityGitopsCard />
      </EntityProvider>
    </TestApiProvider>,
  );
}

describe('EntityGitopsCard', () => {
  it('shows the Application, its phase and how many components are healthy', async () => {
    await render(annotated);
    expect(
      await screen.findByText('default/first-vela-workflow'),
    ).toBeInTheDocument();
    expect(screen.getByText('running')).toBeInTheDocument();
    expect(screen.getByText('2/2 components')).toBeInTheDocument();
  });

  it('counts an unhealthy component', async () => {
    await render(
      annotated,
      stubApi({
        getApplication: async () => ({
          ...app,
          phase: 'unhealthy',
          services: [{ ...app.services[0], healthy: false }, app.services[1]],
        }),
      }),
    );
    expect(await screen.findByText('1/2 components')).toBeInTheDocument();
    expect(screen.getByText('unhealthy')).toBeInTheDocument();
  });

  it('explains the missing annotation', async () => {
    await render(entity());
    expect(screen.getByText(/Missing Annotation/i)).toBeInTheDocument();
  });

  it('shows the backend’s message when loading fails', async () => {
    const failure = await responseError(503, 'Cluster "local" is unreachable');
    await render(
      annotated,
      stubApi({ getApplication: async () => Promise.reject(failure) }),
    );
    expect(
      (await screen.findAllByText(/Cluster "local" is unreachable/)).length,
    ).toBeGreaterThan(0);
  });
});
