import {
  ApiBlueprint,
  createFrontendPlugin,
  discoveryApiRef,
  fetchApiRef,
  PageBlueprint,
} from '@backstage/frontend-plugin-api';
import { convertLegacyRouteRef } from '@backstage/core-compat-api';
import SyncIcon from '@material-ui/icons/Sync';
import {
  EntityCardBlueprint,
  EntityContentBlueprint,
} from '@backstage/plugin-catalog-react/alpha';
import { gitopsApiRef, GitopsClient } from './api';
import { applicationsRouteRef } from './plugin';
import { isGitopsAvailable } from './components/common/useApplication';

const gitopsApi = ApiBlueprint.make({
  params: defineParams =>
    defineParams({
      api: gitopsApiRef,
      deps: { discoveryApi: discoveryApiRef, fetchApi: fetchApiRef },
      factory: deps => new GitopsClient(deps),
    }),
});

/** The GitOps tab on entity pages (new frontend system). */
export const entityGitopsContent = EntityContentBlueprint.make({
  params: {
    path: '/gitops',
    title: 'GitOps',
    filter: isGitopsAvailable,
    loader: () =>
      import('./components/EntityGitopsContent').then(m => (
        <m.EntityGitopsContent />
      )),
  },
});

/** The GitOps card on entity overview pages (new frontend system). */
export const entityGitopsCard = EntityCardBlueprint.make({
  params: {
    filter: isGitopsAvailable,
    loader: () =>
      import('./components/EntityGitopsCard').then(m => <m.EntityGitopsCard />),
  },
});

/** The page listing every Application, like `vela ls` (new frontend system). */
export const gitopsApplicationsPage = PageBlueprint.make({
  params: {
    path: '/gitops',
    title: 'GitOps',
    icon: <SyncIcon />,
    routeRef: convertLegacyRouteRef(applicationsRouteRef),
    loader: () =>
      import('./components/ApplicationsPage').then(m => <m.ApplicationsPage />),
  },
});

/**
 * The GitOps plugin for apps on the new frontend system.
 *
 * @alpha
 */
export default createFrontendPlugin({
  pluginId: 'gitops',
  extensions: [
    gitopsApi,
    entityGitopsContent,
    entityGitopsCard,
    gitopsApplicationsPage,
  ],
  routes: { applications: convertLegacyRouteRef(applicationsRouteRef) },
});
