export * from './apply';
export * from './objectDiff';
