import {
  createApiFactory,
  createComponentExtension,
  createPlugin,
  createRoutableExtension,
  createRouteRef,
  discoveryApiRef,
  fetchApiRef,
} from '@backstage/core-plugin-api';
import { gitopsApiRef, GitopsClient } from './api';

export const rootRouteRef = createRouteRef({ id: 'gitops' });

/** The page listing every Application. */
export const applicationsRouteRef = createRouteRef({
  id: 'gitops-applications',
});

/** The GitOps plugin for apps on the legacy frontend system. */
export const gitopsPlugin = createPlugin({
  id: 'gitops',
  apis: [
    createApiFactory({
      api: gitopsApiRef,
      deps: { discoveryApi: discoveryApiRef, fetchApi: fetchApiRef },
      factory: deps => new GitopsClient(deps),
    }),
  ],
  routes: { root: rootRouteRef, applications: applicationsRouteRef },
});

/** The entity page tab (legacy frontend system). */
export const EntityGitopsContent = gitopsPlugin.provide(
  createRoutableExtension({
    name: 'EntityGitopsContent',
    component: () =>
      import('./components/EntityGitopsContent').then(
        m => m.EntityGitopsContent,
      ),
    mountPoint: rootRouteRef,
  }),
);

/** The entity overview card (legacy frontend system). */
export const EntityGitopsCard = gitopsPlugin.provide(
  createComponentExtension({
    name: 'EntityGitopsCard',
    component: {
      lazy: () =>
        import('./components/EntityGitopsCard').then(m => m.EntityGitopsCard),
    },
  }),
);

/** The page listing every Application, like `vela ls` (legacy frontend system). */
export const GitopsApplicationsPage = gitopsPlugin.provide(
  createRoutableExtension({
    name: 'GitopsApplicationsPage',
    component: () =>
      import('./components/ApplicationsPage').then(m => m.ApplicationsPage),
    mountPoint: applicationsRouteRef,
  }),
);
