export * from './client';
export * from './apply';
export * from './status';
export * from './reconcile';
export * from './crd';
