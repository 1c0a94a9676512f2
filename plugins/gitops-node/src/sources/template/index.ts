export { TemplateError } from './errors';
export { parseTemplate } from './parse';
export type { ParseOptions, ParsedTemplate } from './parse';
export { executeTemplate } from './exec';
export {
  Change,
  FileResult,
  ImageRef,
  NamespacedName,
  ObjectIdentifier,
  ResultV2,
  UpdateResult,
  buildCommitTemplateData,
} from './data';
export type { CommitTemplateData } from './data';
export {
  DEFAULT_COMMIT_PREFIX,
  renderCommitMessage,
  renderTemplate,
} from './commit';
