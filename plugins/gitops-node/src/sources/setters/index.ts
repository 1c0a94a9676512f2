export {
  IMAGE_POLICY_MARKER,
  applySetters,
  markedDigest,
  markedValues,
  parseMarker,
  setFileMarkers,
  setterValue,
} from './setters';
export type { ParsedMarker, SetFileResult } from './setters';
export type * from './types';
