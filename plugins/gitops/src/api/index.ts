export { gitopsApiRef, GitopsClient } from './GitopsApi';
export type { GitopsApi, PageRequest } from './GitopsApi';
