export * from './types';
export * from './objects';
export { Fields, invalid, isRecord, childPath, checkInt } from './fields';
export * from './registry';
export { createDefaultRegistry } from './builtins';
export * from './parse';
export * from './render';
export * from './build';
export * from './status';
