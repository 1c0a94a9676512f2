export { createGitKustomizeSource } from './kustomizeSource';
export type {
  CommittedImageUpdate,
  GitKustomizeContext,
  GitKustomizeReport,
} from './kustomizeSource';
export {
  DEFAULT_POLL_INTERVAL_MS,
  DEFAULT_RESYNC_INTERVAL_MS,
  PROGRESS_INTERVAL_MS,
  parseGoDuration,
  pollIntervalOf,
} from './schedule';
