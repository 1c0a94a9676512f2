export { canaryTrait, blueGreenTrait } from './objects';
export { ClusterRollouts, RolloutAbortedError, hasRollout } from './controller';
export {
  decideRollout,
  rolloutStatusOf,
  stableImageOf,
  canaryImageOf,
  type RolloutDecision,
  type RolloutState,
} from './progress';
export { rolloutSpecOf, type RolloutSpec } from './spec';
