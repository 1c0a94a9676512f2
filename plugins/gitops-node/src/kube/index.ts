export * from './client';
export * from './informer';
export * from './objectCache';
export * from './objects';
