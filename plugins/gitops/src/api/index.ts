export { gitopsApiRef, GitopsClient } from './GitopsApi';
export type {
  ApplicationChangeEvent,
  GitopsApi,
  PageRequest,
} from './GitopsApi';
