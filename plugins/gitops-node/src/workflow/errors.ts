import { CustomErrorBase } from '@backstage/errors';

/**
 * A pass was stopped from outside (its deadline passed, its shard moved to
 * another replica): not the Application's failure, so nothing of it is
 * recorded as one.
 */
export class PassStoppedError extends CustomErrorBase {
  name = 'PassStoppedError' as const;
}
