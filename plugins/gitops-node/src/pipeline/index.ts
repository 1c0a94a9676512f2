export * from './reconcile';
export * from './preview';
