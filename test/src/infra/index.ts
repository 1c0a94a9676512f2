/*
 * Real servers for integration tests, the demo and the benchmarks (DESIGN §5).
 * Each start* function binds 127.0.0.1 on a free port, lives in a temp dir
 * and returns a handle whose stop() kills every process and removes the dir.
 */
export {
  startRegistry,
  pushImage,
  pushTags,
  deleteTag,
  deleteManifest,
  listTags,
} from './registry';
export type {
  Registry,
  StartRegistryOptions,
  RegistryNotificationsOptions,
  TokenServer,
  PushImageOptions,
  PushedImage,
} from './registry';
export { startGitServer, isolatedGitEnv, HUMAN_AUTHOR } from './git-server';
export type {
  GitServer,
  GitAuthor,
  GitCommitInfo,
  StartGitServerOptions,
} from './git-server';
export { startCluster } from './cluster';
export type { AuditEvent, Cluster, StartClusterOptions } from './cluster';
export { startPostgres } from './postgres';
export type { Postgres, PostgresConnection } from './postgres';
export { k8sBinaries, buildK8sBinaries, tofuBinary } from './binaries';
export type { K8sBinaries } from './binaries';
export { MissingToolError, freePort, reapOrphans } from './process';
export {
  startRealNode,
  realNodeUnsupported,
  realNodeHolder,
  nodeBinaries,
  httpGet,
} from './node';
export type { RealNode, NodeBinaries } from './node';
export { buildGoImage, buildGoImageFromFiles } from './go-image';
export type { ImageContent, ImageFile } from './oci';
