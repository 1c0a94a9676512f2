export * from './render';
export * from './parse';
