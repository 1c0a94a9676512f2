export * from './apply';
