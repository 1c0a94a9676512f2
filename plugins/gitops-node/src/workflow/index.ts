export * from './types';
export { parseCondition } from './condition';
export type { Condition, StepFacts } from './condition';
export * from './plan';
export * from './oamPolicies';
export * from './execute';
export * from './collect';
