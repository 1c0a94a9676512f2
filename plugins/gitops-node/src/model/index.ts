export * from './types';
export * from '../kube/objects';
export { Fields, invalid, isRecord, childPath, checkInt } from './fields';
export * from '../render/parse';
export * from './schedule';
export * from './kustomize';
export * from './project';
