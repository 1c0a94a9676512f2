export * from './registry';
export * from './extensionPoint';
export { createBuiltinDefinitions, builtinDefinitions } from './builtins';
