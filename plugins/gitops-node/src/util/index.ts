export { compareBytes } from './bytes';
export { parseGoDuration } from './duration';
export { resolveInside } from './paths';
export { mapLimited } from './limit';
