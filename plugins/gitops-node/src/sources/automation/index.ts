export { DEFAULT_COMMIT_AUTHOR, runImageUpdate } from './imageUpdate';
export type {
  ImageUpdate,
  ImageUpdateOptions,
  ImageUpdateResult,
} from './imageUpdate';
export {
  applySettersToDirectory,
  readMarkedFiles,
  writeSetterResult,
} from './files';
