export * from './types';
export * from './objects';
export { Fields, invalid, isRecord, childPath, checkInt } from './fields';
export * from './parse';
export * from './schedule';
