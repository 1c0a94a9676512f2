export { gitopsApiRef, GitopsClient } from './GitopsApi';
export type { GitopsApi } from './GitopsApi';
