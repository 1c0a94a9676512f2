export * from './client';
export * from './objects';
