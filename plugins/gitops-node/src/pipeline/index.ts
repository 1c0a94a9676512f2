export * from './reconcile';
export * from './workflowPass';
