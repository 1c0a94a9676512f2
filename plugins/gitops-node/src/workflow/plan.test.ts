import { parseGoDuration } from '../util/duration';
import type { ApplicationWorkflow, WorkflowStep } from '../model/types';
import { parseCondition, type StepFacts } from './condition';
import {
  initialSteps,
  planWorkflow,
  recordOutcome,
  resumeStep,
  terminateSteps,
  workflowOf,
  workflowPhase,
} from './plan';
import type { StepState } from './types';

const T0 = new Date('2026-01-01T00:00:00Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

const step = (
  name: string,
  type = 'deploy',
  extra: Partial<WorkflowStep> = {},
): WorkflowStep => ({ name, type, properties: {}, dependsOn: [], ...extra });

/** Plans, then lets every step the executor would run come to `outcomes[name]` (default: succeeded). */
function drive(
  workflow: ApplicationWorkflow,
  outcomes: Record<string, 'failed' | 'running'> = {},
  options: { steps?: StepState[]; now?: Date; rounds?: number } = {},
) {
  let steps = options.steps ?? initialSteps(workflow.steps);
  const now = options.now ?? T0;
  let plan = planWorkflow(workflow, steps, now);
  for (let i = 0; i < (options.rounds ?? 10) && plan.run.length > 0; i++) {
    for (const due of plan.run) {
      const outcome = outcomes[due.step.name] ?? 'succeeded';
      steps = recordOutcome(
        plan.steps,
        due.path,
        { phase: outcome, message: outcome === 'failed' ? 'boom' : undefined },
        now,
      );
      plan = { ...plan, steps };
    }
    if (plan.run.every(r => outcomes[r.step.name] === 'running')) break;
    plan = planWorkflow(workflow, steps, now);
  }
  plan = planWorkflow(workflow, plan.steps, now);
  const phases = Object.fromEntries(plan.steps.map(s => [s.name, s.phase]));
  return { plan, phases };
}

describe('parseCondition', () => {
  const facts: Record<string, StepFacts> = {
    a: {
      phase: 'failed',
      succeeded: false,
      failed: true,
      skipped: false,
      timeout: true,
      message: '',
      reason: 'Timeout',
    },
    'deploy-staging': {
      phase: 'succeeded',
      succeeded: true,
      failed: false,
      skipped: false,
      timeout: false,
      message: '',
      reason: '',
    },
  };
  it.each([
    ['status.a.failed', true],
    ['!status.a.failed', false],
    ['status.deploy-staging.succeeded && status.a.failed', true],
    ['status.deploy-staging.failed || status.a.succeeded', false],
    ['status.a.phase == "failed"', true],
    ["status.a.phase != 'failed'", false],
    ['status.a.timeout && !(status.deploy-staging.failed || false)', true],
    ['status.a.reason == "Timeout" && true', true],
  ])('%s → %s', (text, expected) => {
    const condition = parseCondition(text, 'if');
    expect(condition.evaluate(name => facts[name])).toBe(expected);
  });

  it('names the steps it reads', () => {
    expect(
      parseCondition('status.a.failed || status.b.phase == "x"', 'if').steps,
    ).toEqual(['a', 'b']);
  });

  it.each([
    ['status.a.color', /unknown field "color"/],
    ['status.a.failed &&', /unexpected end/],
    ['process.exit(1)', /unexpected "process"/],
    ['status.a.phase == "x', /unterminated string/],
    ['status.a.failed status.b.failed', /unexpected "status"/],
  ])('rejects %s', (text, error) => {
    expect(() => parseCondition(text, 'steps[0].if')).toThrow(error);
  });

  it('refuses a string used as a truth value', () => {
    expect(() =>
      parseCondition('status.a.phase', 'if').evaluate(n => facts[n]),
    ).toThrow(/compare it with == or !=/);
  });
});

describe('parseGoDuration (step timeouts and suspend durations)', () => {
  it.each([
    ['2s', 2000],
    ['1m30s', 90_000],
    ['1.5h', 5_400_000],
    ['250ms', 250],
  ])('%s = %d ms', (text, ms) => expect(parseGoDuration(text, 'x')).toBe(ms));
  it.each(['', '5', '1d', 's1', '1s foo'])('rejects "%s"', text => {
    expect(() => parseGoDuration(text, 'timeout')).toThrow(/is not a duration/);
  });
});

describe('planWorkflow', () => {
  it('StepByStep runs one step after the other and ends running', () => {
    const workflow = { steps: [step('a'), step('b'), step('c')] };
    const first = planWorkflow(workflow, initialSteps(workflow.steps), T0);
    expect(first.run.map(r => r.step.name)).toEqual(['a']);
    expect(first.phase).toBe('runningWorkflow');
    const { plan, phases } = drive(workflow);
    expect(phases).toEqual({ a: 'succeeded', b: 'succeeded', c: 'succeeded' });
    expect(plan.phase).toBe('running');
    expect(plan.finished).toBe(true);
  });

  it('DAG starts every step without dependencies at once and honours dependsOn', () => {
    const workflow: ApplicationWorkflow = {
      mode: { steps: 'DAG' },
      steps: [
        step('a'),
        step('b'),
        step('c', 'deploy', { dependsOn: ['a', 'b'] }),
      ],
    };
    const first = planWorkflow(workflow, initialSteps(workflow.steps), T0);
    expect(first.run.map(r => r.step.name)).toEqual(['a', 'b']);
    const { phases } = drive(workflow, { b: 'running' });
    expect(phases).toEqual({ a: 'succeeded', b: 'running', c: 'pending' });
  });

  it('a failure skips later steps unless their if says always or matches', () => {
    const workflow = {
      steps: [
        step('deploy-staging'),
        step('deploy-prod'),
        step('rollback-note', 'notification', {
          if: 'status.deploy-staging.failed',
        }),
        step('cleanup', 'notification', {
          if: 'status.deploy-staging.succeeded',
        }),
        step('always', 'notification', { if: 'always' }),
        step('after', 'notification'),
      ],
    };
    const { plan, phases } = drive(workflow, { 'deploy-staging': 'failed' });
    expect(phases).toEqual({
      'deploy-staging': 'failed',
      'deploy-prod': 'skipped',
      'rollback-note': 'succeeded',
      cleanup: 'skipped',
      always: 'succeeded',
      after: 'skipped',
    });
    expect(plan.steps[1]).toMatchObject({
      reason: 'Skip',
      message: 'an earlier step failed',
    });
    expect(plan.steps[3]).toMatchObject({
      reason: 'Skip',
      message: 'if: status.deploy-staging.succeeded is false',
    });
    expect(plan.phase).toBe('workflowFailed');
  });

  it('a step skipped by its own if does not skip the ones after it', () => {
    const workflow = {
      steps: [
        step('a'),
        step('only-on-failure', 'notification', { if: 'status.a.failed' }),
        step('b'),
      ],
    };
    expect(drive(workflow).phases).toEqual({
      a: 'succeeded',
      'only-on-failure': 'skipped',
      b: 'succeeded',
    });
  });

  it('in a DAG a step waits for the steps its if reads', () => {
    const workflow: ApplicationWorkflow = {
      mode: { steps: 'DAG' },
      steps: [
        step('a'),
        step('tell', 'notification', { if: 'status.a.failed' }),
      ],
    };
    const first = planWorkflow(workflow, initialSteps(workflow.steps), T0);
    expect(first.run.map(r => r.step.name)).toEqual(['a']);
    expect(drive(workflow, { a: 'failed' }).phases).toEqual({
      a: 'failed',
      tell: 'succeeded',
    });
  });

  it('a suspend without duration waits for resumeStep; the steps after it wait too', () => {
    const workflow = {
      steps: [step('a'), step('approve', 'suspend'), step('b')],
    };
    const { plan } = drive(workflow);
    expect(plan.phase).toBe('workflowSuspending');
    expect(plan.steps[1]).toMatchObject({
      phase: 'suspending',
      message: 'waiting to be resumed',
    });
    // Hours later it still waits: only a resume moves it.
    expect(planWorkflow(workflow, plan.steps, at(36_000)).phase).toBe(
      'workflowSuspending',
    );
    const resumed = resumeStep(plan.steps, 'approve', at(60));
    expect(resumed[1]).toMatchObject({
      phase: 'succeeded',
      finishedAt: at(60).toISOString(),
    });
    const after = planWorkflow(workflow, resumed, at(61));
    expect(after.run.map(r => r.step.name)).toEqual(['b']);
    expect(after.phase).toBe('runningWorkflow');
  });

  it('resumeStep refuses an unknown step and one that is not suspended', () => {
    const workflow = { steps: [step('a'), step('approve', 'suspend')] };
    const { plan } = drive(workflow);
    expect(() => resumeStep(plan.steps, 'nope', T0)).toThrow(
      expect.objectContaining({ name: 'NotFoundError' }),
    );
    expect(() => resumeStep(plan.steps, 'a', T0)).toThrow(
      expect.objectContaining({ name: 'ConflictError' }),
    );
  });

  it('a suspend with duration resumes by itself at startedAt + duration', () => {
    const workflow = {
      steps: [
        step('pause', 'suspend', { properties: { duration: '30s' } }),
        step('b'),
      ],
    };
    const started = planWorkflow(workflow, initialSteps(workflow.steps), T0);
    expect(started.steps[0]).toMatchObject({
      phase: 'suspending',
      startedAt: T0.toISOString(),
    });
    expect(planWorkflow(workflow, started.steps, at(29)).steps[0].phase).toBe(
      'suspending',
    );
    const later = planWorkflow(workflow, started.steps, at(30));
    expect(later.steps[0]).toMatchObject({
      phase: 'succeeded',
      message: 'resumed after 30s',
    });
    expect(later.run.map(r => r.step.name)).toEqual(['b']);
  });

  it('a step past its timeout fails with reason Timeout and later steps are skipped', () => {
    const workflow = {
      steps: [
        step('slow', 'deploy', { timeout: '1m' }),
        step('next'),
        step('tell', 'notification', { if: 'status.slow.timeout' }),
      ],
    };
    const { plan } = drive(workflow, { slow: 'running' });
    expect(plan.steps[0].phase).toBe('running');
    expect(planWorkflow(workflow, plan.steps, at(59)).steps[0].phase).toBe(
      'running',
    );
    const late = planWorkflow(workflow, plan.steps, at(60));
    expect(late.steps.map(s => [s.name, s.phase, s.reason])).toEqual([
      ['slow', 'failed', 'Timeout'],
      ['next', 'skipped', 'Skip'],
      ['tell', 'running', undefined],
    ]);
  });

  it('a step-group runs its sub-steps (DAG by default) and takes their outcome', () => {
    const workflow: ApplicationWorkflow = {
      steps: [
        step('group', 'step-group', {
          subSteps: [
            step('x'),
            step('y'),
            step('z', 'deploy', { dependsOn: ['x'] }),
          ],
        }),
        step('after'),
      ],
    };
    const first = planWorkflow(workflow, initialSteps(workflow.steps), T0);
    expect(first.run.map(r => r.path)).toEqual([
      ['group', 'x'],
      ['group', 'y'],
    ]);
    expect(first.steps[0].phase).toBe('running');
    const failed = drive(workflow, { y: 'failed' });
    expect(failed.plan.steps[0]).toMatchObject({
      phase: 'failed',
      reason: 'SubStepFailed',
      message: 'failed: y',
    });
    expect(failed.plan.steps[0].subSteps!.map(s => s.phase)).toEqual([
      'succeeded',
      'failed',
      'succeeded',
    ]);
    expect(failed.phases.after).toBe('skipped');

    const stepwise = planWorkflow(
      { ...workflow, mode: { subSteps: 'StepByStep' } },
      initialSteps(workflow.steps),
      T0,
    );
    expect(stepwise.run.map(r => r.path)).toEqual([['group', 'x']]);
  });

  it('a suspended sub-step suspends its group and the workflow until resumed as group/step', () => {
    const workflow: ApplicationWorkflow = {
      steps: [
        step('group', 'step-group', {
          subSteps: [
            step('x'),
            step('approve', 'suspend', { dependsOn: ['x'] }),
          ],
        }),
        step('after'),
      ],
    };
    const { plan } = drive(workflow);
    expect(plan.steps[0].phase).toBe('suspending');
    expect(plan.phase).toBe('workflowSuspending');
    const resumed = resumeStep(plan.steps, 'group/approve', at(1));
    const next = planWorkflow(workflow, resumed, at(1));
    expect(next.steps[0].phase).toBe('succeeded');
    expect(next.run.map(r => r.step.name)).toEqual(['after']);
    // The bare name finds a suspended sub-step too.
    expect(resumeStep(plan.steps, 'approve', at(1))[0].subSteps![1].phase).toBe(
      'succeeded',
    );
  });

  it('a step-group past its timeout fails what runs inside it and skips the rest', () => {
    const workflow: ApplicationWorkflow = {
      steps: [
        step('group', 'step-group', {
          timeout: '10s',
          subSteps: [step('x'), step('y', 'deploy', { dependsOn: ['x'] })],
        }),
      ],
    };
    const { plan } = drive(workflow, { x: 'running' });
    const late = planWorkflow(workflow, plan.steps, at(10));
    expect(late.steps[0]).toMatchObject({ phase: 'failed', reason: 'Timeout' });
    expect(late.steps[0].subSteps!.map(s => [s.phase, s.reason])).toEqual([
      ['failed', 'Timeout'],
      ['skipped', 'Skip'],
    ]);
    expect(late.phase).toBe('workflowFailed');
  });

  it('terminateSteps stops the run: workflowTerminated, nothing more runs', () => {
    const workflow = {
      steps: [step('a'), step('approve', 'suspend'), step('b')],
    };
    const { plan } = drive(workflow);
    const steps = terminateSteps(plan.steps, at(5));
    expect(steps.map(s => [s.phase, s.reason])).toEqual([
      ['succeeded', undefined],
      ['failed', 'Terminate'],
      ['skipped', 'Terminate'],
    ]);
    const after = planWorkflow(workflow, steps, at(6), { terminated: true });
    expect(after.run).toEqual([]);
    expect(after.phase).toBe('workflowTerminated');
    expect(workflowPhase(steps)).toBe('workflowFailed');
  });

  it.each([
    [
      { steps: [step('a', 'deploy', { dependsOn: ['nope'] })] },
      /dependsOn: no step is named "nope"/,
    ],
    [
      {
        mode: { steps: 'DAG' as const },
        steps: [
          step('a', 'deploy', { dependsOn: ['b'] }),
          step('b', 'deploy', { dependsOn: ['a'] }),
        ],
      },
      /form a cycle/,
    ],
    [
      { steps: [step('a', 'deploy', { if: 'status.ghost.failed' })] },
      /steps\[0\]\.if: no step is named "ghost"/,
    ],
    [
      { steps: [step('a', 'deploy', { timeout: 'soon' })] },
      /steps\[0\]\.timeout: "soon" is not a duration/,
    ],
    [
      { steps: [step('a', 'suspend', { properties: { duration: 'later' } })] },
      /properties\.duration/,
    ],
  ])('rejects a bad workflow with the field path (%#)', (workflow, error) => {
    expect(() =>
      planWorkflow(workflow, initialSteps(workflow.steps), T0),
    ).toThrow(error);
  });

  it('does not modify the state it is given', () => {
    const workflow = { steps: [step('a')] };
    const steps = initialSteps(workflow.steps);
    const before = JSON.stringify(steps);
    planWorkflow(workflow, steps, T0);
    expect(JSON.stringify(steps)).toBe(before);
  });
});

describe('workflowOf', () => {
  const app = (
    policies: Array<{ name: string; type: string }>,
    workflow?: ApplicationWorkflow,
  ) => ({
    spec: {
      components: [],
      policies: policies.map(p => ({ ...p, properties: {} })),
      ...(workflow ? { workflow } : {}),
    },
  });
  it('without a workflow, one deploy through the topology and override policies', () => {
    expect(
      workflowOf(
        app([
          { name: 'gc', type: 'garbage-collect' },
          { name: 'where', type: 'topology' },
          { name: 'patch', type: 'override' },
        ]),
      ).steps,
    ).toEqual([
      {
        name: 'deploy',
        type: 'deploy',
        properties: { policies: ['where', 'patch'] },
        dependsOn: [],
      },
    ]);
    expect(workflowOf(app([])).steps[0].properties).toEqual({});
  });
  it("the Application's own workflow when it has steps", () => {
    const own = { steps: [step('x', 'suspend')] };
    expect(workflowOf(app([], own))).toBe(own);
  });
});
