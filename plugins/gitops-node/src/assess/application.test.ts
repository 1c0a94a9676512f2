import { assessHealth } from './health';

const app = (generation: number, status?: Record<string, unknown>) => ({
  apiVersion: 'core.oam.dev/v1beta1',
  kind: 'Application',
  metadata: { name: 'first-vela-workflow', namespace: 'default', generation },
  ...(status ? { status } : {}),
});

describe('health of a nested Application', () => {
  it.each([
    ['never reconciled', app(1), 'InProgress'],
    [
      'reconciled for an older spec',
      app(2, { status: 'running', observedGeneration: 1 }),
      'InProgress',
    ],
    [
      'rolling out',
      app(2, { status: 'unhealthy', observedGeneration: 2 }),
      'InProgress',
    ],
    [
      'running for the current spec',
      app(2, { status: 'running', observedGeneration: 2 }),
      'Current',
    ],
    [
      'failed its workflow',
      app(2, { status: 'workflowFailed', observedGeneration: 2 }),
      'Failed',
    ],
  ])('%s is %s', (_, object, status) => {
    expect(assessHealth(object).status).toBe(status);
  });
});
