export * from './definitions';
export { createDefaultRegistry } from './builtins';
export * from './render';
