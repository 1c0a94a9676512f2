export {
  IMAGE_POLICY_MARKER,
  applySetters,
  markedValues,
  parseMarker,
  setFileMarkers,
  setterValue,
} from './setters';
export type { ParsedMarker, SetFileResult } from './setters';
export type * from './types';
