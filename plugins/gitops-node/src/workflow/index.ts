export * from './types';
export { parseCondition } from './condition';
export type { Condition, StepFacts } from './condition';
export * from './plan';
export * from './policies';
export * from './execute';
export * from './reconcile';
