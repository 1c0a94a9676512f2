/**
 * GitOps with Workflow frontend plugin: entity tab and card for catalog
 * entities annotated with `gitops-workflow.io/application` (or the deprecated
 * `gitops.backstage.io/application`).
 *
 * @packageDocumentation
 */

export {
  gitopsPlugin,
  EntityGitopsContent,
  EntityGitopsCard,
  GitopsApplicationsPage,
} from './plugin';
export { isGitopsAvailable } from './components/common/useApplication';
export { gitopsApiRef, GitopsClient } from './api';
export type { GitopsApi, PageRequest } from './api';
