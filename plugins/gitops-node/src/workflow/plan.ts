import { parseGoDuration } from '../util/duration';
import { ConflictError, InputError, NotFoundError } from '@backstage/errors';
import type {
  Application,
  ApplicationWorkflow,
  WorkflowStep,
} from '../model/types';
import { parseCondition, type Condition, type StepFacts } from './condition';
import type { StepPhase, StepState, WorkflowPhase } from './types';

type Mode = 'StepByStep' | 'DAG';

/** The name of the step an Application without a workflow runs. */
export const IMPLICIT_DEPLOY_STEP = 'deploy';

/**
 * The workflow an Application runs: its own, or (like KubeVela) one
 * `deploy` of every component through every topology and override policy.
 */
export function workflowOf(
  app: Pick<Application, 'spec'>,
): ApplicationWorkflow {
  if (app.spec.workflow && app.spec.workflow.steps.length > 0)
    return app.spec.workflow;
  const policies = app.spec.policies
    .filter(p => p.type === 'topology' || p.type === 'override')
    .map(p => p.name);
  return {
    steps: [
      {
        name: IMPLICIT_DEPLOY_STEP,
        type: 'deploy',
        properties: policies.length > 0 ? { policies } : {},
        dependsOn: [],
      },
    ],
  };
}

/** KubeVela's `status.workflow.mode`, e.g. `StepByStep-DAG`. */
export function modeOf(workflow: ApplicationWorkflow): {
  steps: Mode;
  subSteps: Mode;
} {
  return {
    steps: workflow.mode?.steps ?? 'StepByStep',
    subSteps: workflow.mode?.subSteps ?? 'DAG',
  };
}

/** Every step pending, as a new run starts. */
export function initialSteps(steps: WorkflowStep[]): StepState[] {
  return steps.map(step => {
    const state: StepState = {
      name: step.name,
      type: step.type,
      phase: 'pending',
    };
    if (step.subSteps) state.subSteps = initialSteps(step.subSteps);
    return state;
  });
}

const FINISHED: ReadonlySet<StepPhase> = new Set([
  'succeeded',
  'failed',
  'skipped',
]);
export const isFinished = (phase: StepPhase) => FINISHED.has(phase);

/** A step the executor must run now (start or continue), by its path of names. */
export interface StepRun {
  path: string[];
  step: WorkflowStep;
  state: StepState;
}

export interface WorkflowPlan {
  steps: StepState[];
  run: StepRun[];
  phase: WorkflowPhase;
  /** True when every step has finished. */
  finished: boolean;
}

interface Level {
  steps: WorkflowStep[];
  mode: Mode;
  where: string;
}

interface Compiled {
  step: WorkflowStep;
  deps: string[];
  /** Steps that must not have failed for a step without `if` to run. */
  upstream: Set<string>;
  condition?: Condition;
}

/** Resolves a level's dependencies and conditions; a bad reference or a cycle is an InputError. */
function compile(level: Level): Map<string, Compiled> {
  const names = new Set(level.steps.map(s => s.name));
  const compiled = new Map<string, Compiled>();
  level.steps.forEach((step, i) => {
    const where = `${level.where}[${i}]`;
    const deps = new Set(step.dependsOn);
    for (const dep of step.dependsOn) {
      if (!names.has(dep) || dep === step.name)
        throw new InputError(
          `${where}.dependsOn: ${
            dep === step.name
              ? 'a step cannot depend on itself'
              : `no step is named "${dep}"`
          }`,
        );
    }
    if (level.mode === 'StepByStep' && i > 0) deps.add(level.steps[i - 1].name);
    let condition: Condition | undefined;
    if (step.if !== undefined && step.if.trim() !== 'always') {
      condition = parseCondition(step.if, `${where}.if`);
      for (const ref of condition.steps) {
        if (!names.has(ref) || ref === step.name)
          throw new InputError(
            `${where}.if: ${
              ref === step.name
                ? 'a step cannot test its own status'
                : `no step is named "${ref}"`
            }`,
          );
        // A step waits for the steps its condition reads, as in KubeVela.
        deps.add(ref);
      }
    }
    if (step.timeout !== undefined)
      parseGoDuration(step.timeout, `${where}.timeout`);
    if (step.type === 'suspend' && step.properties.duration !== undefined)
      parseGoDuration(
        String(step.properties.duration),
        `${where}.properties.duration`,
      );
    compiled.set(step.name, {
      step,
      deps: [...deps],
      upstream: new Set(),
      condition,
    });
  });
  // Upstream = transitive dependencies; a cycle shows up as a step reaching itself.
  const visiting = new Set<string>();
  const resolved = new Set<string>();
  const resolve = (name: string): Set<string> => {
    const entry = compiled.get(name)!;
    if (resolved.has(name)) return entry.upstream;
    if (visiting.has(name))
      throw new InputError(
        `${level.where}: the dependencies of step "${name}" form a cycle`,
      );
    visiting.add(name);
    for (const dep of entry.deps) {
      entry.upstream.add(dep);
      for (const up of resolve(dep)) entry.upstream.add(up);
    }
    visiting.delete(name);
    resolved.add(name);
    return entry.upstream;
  };
  for (const name of compiled.keys()) resolve(name);
  return compiled;
}

function factsOf(state: StepState | undefined): StepFacts {
  const phase = state?.phase ?? 'pending';
  return {
    phase,
    succeeded: phase === 'succeeded',
    failed: phase === 'failed',
    skipped: phase === 'skipped',
    timeout: state?.reason === 'Timeout',
    message: state?.message ?? '',
    reason: state?.reason ?? '',
  };
}

/** Plans one level (top-level steps or a group's sub-steps) in place. */
function planLevel(
  level: Level,
  states: StepState[],
  now: Date,
  subMode: Mode,
  run: StepRun[],
  parents: string[],
): void {
  const compiled = compile(level);
  const byName = new Map(states.map(s => [s.name, s]));
  const stamp = now.toISOString();
  const finish = (
    state: StepState,
    phase: StepPhase,
    reason?: string,
    message?: string,
  ) => {
    state.phase = phase;
    state.finishedAt = stamp;
    if (reason !== undefined) state.reason = reason;
    if (message !== undefined) state.message = message;
    for (const sub of state.subSteps ?? []) {
      if (sub.phase === 'pending') finish(sub, 'skipped', 'Skip');
      else if (!isFinished(sub.phase)) finish(sub, 'failed', reason, message);
    }
  };

  // Steps become ready as others finish within this pass (a skip can unblock the next one).
  for (let changed = true; changed; ) {
    changed = false;
    level.steps.forEach((step, i) => {
      const state = byName.get(step.name)!;
      const { deps, upstream, condition } = compiled.get(step.name)!;
      const where = `${level.where}[${i}]`;

      if (state.phase === 'pending') {
        if (!deps.every(d => isFinished(byName.get(d)!.phase))) return;
        let go: boolean;
        if (step.if?.trim() === 'always') go = true;
        else if (condition)
          go = condition.evaluate(n => factsOf(byName.get(n)));
        else go = [...upstream].every(u => byName.get(u)!.phase !== 'failed');
        changed = true;
        if (!go) {
          finish(
            state,
            'skipped',
            'Skip',
            condition
              ? `if: ${condition.text} is false`
              : 'an earlier step failed',
          );
          return;
        }
        state.startedAt = stamp;
        state.phase = step.type === 'suspend' ? 'suspending' : 'running';
      }
      if (isFinished(state.phase)) return;

      if (step.timeout !== undefined) {
        const limit = parseGoDuration(step.timeout, `${where}.timeout`);
        if (now.getTime() - Date.parse(state.startedAt!) >= limit) {
          finish(
            state,
            'failed',
            'Timeout',
            `did not finish within ${step.timeout}`,
          );
          changed = true;
          return;
        }
      }
      if (step.type === 'suspend') {
        const duration = step.properties.duration;
        if (
          duration !== undefined &&
          now.getTime() - Date.parse(state.startedAt!) >=
            parseGoDuration(String(duration), `${where}.properties.duration`)
        ) {
          finish(state, 'succeeded', undefined, `resumed after ${duration}`);
          changed = true;
        } else {
          state.message =
            duration === undefined
              ? 'waiting to be resumed'
              : `resumes by itself after ${duration}`;
        }
        return;
      }
      if (step.type === 'step-group') {
        const subs = step.subSteps ?? [];
        state.subSteps ??= initialSteps(subs);
        const before = state.subSteps.map(s => s.phase).join();
        planLevel(
          { steps: subs, mode: subMode, where: `${where}.subSteps` },
          state.subSteps,
          now,
          subMode,
          run,
          [...parents, step.name],
        );
        if (state.subSteps.map(s => s.phase).join() !== before) changed = true;
        if (state.subSteps.every(s => isFinished(s.phase))) {
          const failed = state.subSteps.filter(s => s.phase === 'failed');
          finish(
            state,
            failed.length > 0 ? 'failed' : 'succeeded',
            failed.length > 0 ? 'SubStepFailed' : undefined,
            failed.length > 0
              ? `failed: ${failed.map(s => s.name).join(', ')}`
              : undefined,
          );
          changed = true;
        } else {
          state.phase = state.subSteps.some(s => s.phase === 'running')
            ? 'running'
            : 'suspending';
        }
        return;
      }
      state.lastExecuteTime = stamp;
      if (!run.some(r => r.state === state))
        run.push({ path: [...parents, step.name], step, state });
    });
  }
}

function collect(states: StepState[]): StepState[] {
  return states.flatMap(s => [s, ...collect(s.subSteps ?? [])]);
}

/** The Application phase a set of step states amounts to. */
export function workflowPhase(
  steps: StepState[],
  terminated = false,
): WorkflowPhase {
  if (terminated) return 'workflowTerminated';
  const all = collect(steps);
  if (all.some(s => s.phase === 'running')) return 'runningWorkflow';
  // Steps still pending behind a suspended one wait for it: the workflow is suspended.
  if (all.some(s => s.phase === 'suspending')) return 'workflowSuspending';
  if (all.some(s => s.phase === 'pending')) return 'runningWorkflow';
  if (steps.some(s => s.phase === 'failed')) return 'workflowFailed';
  return 'running';
}

/**
 * Decides what happens next, purely: starts steps whose dependencies are
 * done and whose `if` holds, skips the others, fails steps past their
 * `timeout`, resumes `suspend` steps whose `duration` has passed, and lists
 * the steps the executor must run now. The input states are not modified.
 */
export function planWorkflow(
  workflow: ApplicationWorkflow,
  current: StepState[],
  now: Date,
  options: { terminated?: boolean } = {},
): WorkflowPlan {
  const steps = structuredClone(current);
  const run: StepRun[] = [];
  if (!options.terminated) {
    const mode = modeOf(workflow);
    planLevel(
      { steps: workflow.steps, mode: mode.steps, where: 'spec.workflow.steps' },
      steps,
      now,
      mode.subSteps,
      run,
      [],
    );
  }
  return {
    steps,
    run,
    phase: workflowPhase(steps, options.terminated),
    finished: steps.every(s => isFinished(s.phase)),
  };
}

function find(steps: StepState[], path: string[]): StepState | undefined {
  let level = steps;
  let found: StepState | undefined;
  for (const name of path) {
    found = level.find(s => s.name === name);
    if (!found) return undefined;
    level = found.subSteps ?? [];
  }
  return found;
}

/** What running a step came to; `running` means "not done yet, run me again next pass". */
export interface StepOutcome {
  phase: 'running' | 'succeeded' | 'failed';
  message?: string;
  reason?: string;
}

/** Records what the executor saw when it ran a step (pure: returns new states). */
export function recordOutcome(
  steps: StepState[],
  path: string[],
  outcome: StepOutcome,
  now: Date,
): StepState[] {
  const next = structuredClone(steps);
  const state = find(next, path);
  if (!state || isFinished(state.phase)) return next;
  state.phase = outcome.phase;
  state.message = outcome.message;
  if (outcome.reason !== undefined) state.reason = outcome.reason;
  else delete state.reason;
  if (outcome.phase !== 'running') state.finishedAt = now.toISOString();
  return next;
}

/**
 * Resumes a `suspend` step that waits (by name, or `group/sub` for a
 * sub-step). NotFoundError when there is no such step, ConflictError when it
 * is not suspended, so an API can answer 404 and 409.
 */
export function resumeStep(
  steps: StepState[],
  name: string,
  now: Date,
): StepState[] {
  const next = structuredClone(steps);
  const path = name.split('/');
  const state =
    find(next, path) ??
    (path.length === 1
      ? collect(next).find(s => s.name === name && s.type === 'suspend')
      : undefined);
  if (!state) throw new NotFoundError(`The workflow has no step "${name}"`);
  if (state.type !== 'suspend' || state.phase !== 'suspending') {
    throw new ConflictError(
      `Step "${name}" is ${state.phase}, not a suspended step`,
    );
  }
  state.phase = 'succeeded';
  state.finishedAt = now.toISOString();
  state.message = 'resumed';
  return next;
}

/** Stops a workflow: what runs or waits fails with reason `Terminate`, what has not started is skipped. */
export function terminateSteps(steps: StepState[], now: Date): StepState[] {
  const next = structuredClone(steps);
  for (const state of collect(next)) {
    if (isFinished(state.phase)) continue;
    state.finishedAt = now.toISOString();
    if (state.phase === 'pending') {
      state.phase = 'skipped';
      state.reason = 'Terminate';
    } else {
      state.phase = 'failed';
      state.reason = 'Terminate';
      state.message = 'the workflow was terminated';
    }
  }
  return next;
}
