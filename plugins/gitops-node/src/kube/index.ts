export * from './client';
export * from './informer';
export * from './labelSelector';
export * from './objectCache';
export * from './objects';
export * from './limiter';
