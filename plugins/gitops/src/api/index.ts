export { gitopsApiRef, GitopsClient } from './GitopsApi';
export type {
  ApplicationChangeEvent,
  GitopsApi,
  PageRequest,
  TimelineWindow,
} from './GitopsApi';
