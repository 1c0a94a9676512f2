import path from 'node:path';
import type { BackendFeature } from '@backstage/backend-plugin-api';
import { eventsServiceFactory } from '@backstage/plugin-events-node';

/**
 * The events backend with its GitHub and GitLab modules, as
 * packages/backend adds them, for tests, with the real events service a
 * backend has by default (the test backend's mock gives each plugin its own,
 * so no event would cross from one plugin to another). The modules' packages are feature
 * loaders that `import()` their parts, which Jest's CommonJS runtime cannot
 * do; so the very same parts are loaded here by file.
 */
export function eventsBackendFeatures(): BackendFeature[] {
  const part = (pkg: string, file: string): BackendFeature => {
    const root = path.dirname(require.resolve(`${pkg}/package.json`));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(path.join(root, 'dist', 'service', file)).default;
  };
  const github = '@backstage/plugin-events-backend-module-github';
  const gitlab = '@backstage/plugin-events-backend-module-gitlab';
  return [
    eventsServiceFactory,
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('@backstage/plugin-events-backend').default,
    part(github, 'eventsModuleGithubWebhook.cjs.js'),
    part(github, 'eventsModuleGithubEventRouter.cjs.js'),
    part(gitlab, 'eventsModuleGitlabWebhook.cjs.js'),
    part(gitlab, 'eventsModuleGitlabEventRouter.cjs.js'),
  ];
}
