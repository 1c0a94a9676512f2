export {
  GitSource,
  WorkingClone,
  commitOfRevision,
  revisionOf,
} from './GitSource';
export type {
  GitAuthor,
  GitLogger,
  GitRepositorySpec,
  GitSourceOptions,
  SyncResult,
} from './GitSource';
export {
  credentialsFromIntegrations,
  splitUrlCredentials,
} from './credentials';
export type {
  GitCredentials,
  GitCredentialsProvider,
  ScmIntegrationsLike,
} from './credentials';
