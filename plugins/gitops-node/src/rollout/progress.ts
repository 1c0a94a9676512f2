import type {
  RolloutAnalysisResult,
  RolloutPhase,
  RolloutStatus,
} from '@gitops-workflow/plugin-gitops-common';
import { ConflictError, NotFoundError } from '@backstage/errors';
import { describeFailure } from './analysis';
import { imageOf, templateHash, type RolloutShape } from './objects';
import type { CanarySpec, CanaryStep, RolloutSpec } from './spec';

/** A person's decision, queued until the next pass applies it. */
export interface RolloutDecision {
  action: 'promote' | 'abort';
  by?: string;
  reason?: string;
}

/**
 * One component's rollout in one namespace of one cluster, persisted with
 * the workflow state so that a restarted backend goes on where the last
 * pass stopped.
 */
export interface RolloutState {
  component: string;
  cluster: string;
  /** Where its workloads run; absent in states kept before namespaces were told apart. */
  namespace?: string;
  strategy: RolloutSpec['strategy'];
  phase: RolloutPhase;
  stableTemplate: unknown;
  stableHash: string;
  /** The version in flight (canary or preview). */
  canaryTemplate?: unknown;
  canaryHash?: string;
  /** A version that was aborted: it does not roll out again until Git asks for another. */
  abortedHash?: string;
  abortedImage?: string;
  /** 0-based canary step. */
  step: number;
  stepStartedAt?: string;
  /** The current step's analysis passed. */
  analysed?: boolean;
  lastAnalysisAt?: string;
  pauseUntil?: string;
  failures: number;
  /** Blue-green: when the active Service switched to the new version. */
  switchedAt?: string;
  /** The stable workload got the new version; done once it is ready. */
  promoting?: boolean;
  /** Stable replicas when the rollout started, for percentages. */
  replicas: number;
  analysis: RolloutAnalysisResult[];
  message?: string;
  startedAt?: string;
  updatedAt?: string;
  decision?: RolloutDecision;
  /** Set by a pass that aborted it (by analysis, deadline or a person), for the hold placed after. */
  abortedAt?: string;
}

/** Analysis results kept per rollout, newest last. */
const ANALYSIS_KEPT = 50;

function tagOf(image: string | undefined): string | undefined {
  if (!image) return undefined;
  const name = image.split('@')[0];
  const colon = name.lastIndexOf(':');
  return colon > name.lastIndexOf('/') ? name.slice(colon + 1) : undefined;
}

export const stableImageOf = (s: RolloutState) => imageOf(s.stableTemplate);
export const canaryImageOf = (s: RolloutState) =>
  imageOf(s.canaryTemplate) ?? s.abortedImage;

/** The image tags a query's `{{ version }}` and `{{ stableVersion }}` stand for. */
export const versionsOf = (s: RolloutState) => ({
  version: tagOf(imageOf(s.canaryTemplate)) ?? '',
  stableVersion: tagOf(imageOf(s.stableTemplate)) ?? '',
});

const inFlight = (s: RolloutState) =>
  s.canaryHash !== undefined && s.phase !== 'aborted' && s.phase !== 'healthy';

/** The canary's pod count at a step: its own, a share of the stable's, or the weight's share. */
function stepReplicas(spec: CanarySpec, state: RolloutState): number {
  const step = spec.steps[Math.min(state.step, spec.steps.length - 1)];
  const of = (percent: number) =>
    Math.max(1, Math.ceil((state.replicas * percent) / 100));
  if (typeof step.replicas === 'number') return step.replicas;
  if (typeof step.replicas === 'string')
    return of(Number.parseInt(step.replicas, 10));
  return of(step.weight);
}

/** What the objects look like for a state. */
export function shapeOf(spec: RolloutSpec, state: RolloutState): RolloutShape {
  const flying = inFlight(state);
  const shape: RolloutShape = {
    stableTemplate: state.stableTemplate,
    stableHash: state.stableHash,
    canaryReplicas: 0,
    weight: 0,
    activeHash: state.stableHash,
  };
  if (!flying) return shape;
  shape.canaryTemplate = state.canaryTemplate;
  shape.canaryHash = state.canaryHash;
  if (spec.strategy === 'canary') {
    shape.canaryReplicas = stepReplicas(spec, state);
    shape.weight =
      spec.steps[Math.min(state.step, spec.steps.length - 1)].weight;
  } else {
    shape.canaryReplicas = state.replicas;
    if (state.switchedAt) {
      shape.activeHash = state.canaryHash!;
      shape.weight = 100;
    }
  }
  return shape;
}

function touch(state: RolloutState, now: Date, message?: string): void {
  state.updatedAt = now.toISOString();
  if (message !== undefined) state.message = message;
}

function abort(state: RolloutState, now: Date, message: string): void {
  state.phase = 'aborted';
  state.abortedHash = state.canaryHash;
  state.abortedImage = imageOf(state.canaryTemplate);
  state.abortedAt = now.toISOString();
  state.canaryHash = undefined;
  state.canaryTemplate = undefined;
  state.switchedAt = undefined;
  state.pauseUntil = undefined;
  state.promoting = undefined;
  touch(state, now, message);
}

function promoteStable(state: RolloutState, now: Date): void {
  state.stableTemplate = state.canaryTemplate;
  state.stableHash = state.canaryHash!;
  state.promoting = true;
  state.phase = 'progressing';
  state.pauseUntil = undefined;
  touch(
    state,
    now,
    `promoting ${imageOf(
      state.canaryTemplate,
    )}: the stable workload takes the new version`,
  );
}

/** Past the current step: the next one, the switch (blue-green) or promotion. */
function nextStep(spec: RolloutSpec, state: RolloutState, now: Date): void {
  state.pauseUntil = undefined;
  state.analysed = false;
  state.failures = 0;
  if (spec.strategy === 'blueGreen') {
    if (!state.switchedAt) {
      state.switchedAt = now.toISOString();
      state.phase = 'progressing';
      touch(
        state,
        now,
        `switched users to ${imageOf(
          state.canaryTemplate,
        )}; the old version scales down after ${
          spec.scaleDownDelayMs / 1000
        } s`,
      );
    } else promoteStable(state, now);
    return;
  }
  if (state.step + 1 < spec.steps.length) {
    state.step++;
    state.stepStartedAt = now.toISOString();
    state.phase = 'progressing';
    touch(
      state,
      now,
      `step ${state.step + 1}/${spec.steps.length}: ${
        spec.steps[state.step].weight
      }% to the canary`,
    );
  } else promoteStable(state, now);
}

/**
 * The state a pass starts from, given the version Git asks for now: the
 * first sight of a component makes it stable at once; a new pod template
 * starts a rollout (a newer one during a rollout restarts it); the stable
 * template again ends one; an aborted version stays aborted. A queued
 * decision of a person is applied here, before anything is written.
 */
export function beginPass(
  spec: RolloutSpec,
  previous: RolloutState | undefined,
  desired: { template: unknown; replicas: number },
  where: { component: string; cluster: string; namespace: string },
  now: Date,
): RolloutState {
  const hash = templateHash(desired.template);
  const at = now.toISOString();
  if (!previous || previous.strategy !== spec.strategy) {
    return {
      ...where,
      strategy: spec.strategy,
      phase: 'healthy',
      stableTemplate: previous?.stableTemplate ?? desired.template,
      stableHash: previous?.stableHash ?? hash,
      step: 0,
      failures: 0,
      replicas: desired.replicas,
      analysis: [],
      updatedAt: at,
    };
  }
  const state: RolloutState = { ...structuredClone(previous), ...where };
  const decision = state.decision;
  state.decision = undefined;
  if (hash === state.stableHash) {
    // (While promoting, the version in flight is the stable one already.)
    if (
      (state.canaryHash !== undefined && state.canaryHash !== hash) ||
      state.phase === 'aborted'
    ) {
      // Git went back to the stable version: nothing is in flight any more.
      state.canaryHash = undefined;
      state.canaryTemplate = undefined;
      state.switchedAt = undefined;
      state.promoting = undefined;
      state.phase = 'healthy';
      state.replicas = desired.replicas;
      touch(
        state,
        now,
        `back on ${imageOf(state.stableTemplate)}, as Git asks`,
      );
    }
  } else if (hash === state.abortedHash && state.phase === 'aborted') {
    // Stays aborted until Git asks for another version.
  } else if (hash !== state.canaryHash) {
    Object.assign(state, {
      phase: 'progressing' as RolloutPhase,
      canaryTemplate: desired.template,
      canaryHash: hash,
      abortedHash: undefined,
      abortedImage: undefined,
      step: 0,
      stepStartedAt: at,
      analysed: false,
      lastAnalysisAt: undefined,
      pauseUntil: undefined,
      failures: 0,
      switchedAt: undefined,
      promoting: undefined,
      replicas: desired.replicas,
      analysis: [],
      startedAt: at,
    });
    touch(
      state,
      now,
      spec.strategy === 'canary'
        ? `step 1/${spec.steps.length}: ${
            spec.steps[0].weight
          }% to the canary ${imageOf(desired.template)}`
        : `${imageOf(desired.template)} starting behind the preview Service`,
    );
  }
  if (decision && inFlight(state)) {
    if (decision.action === 'abort') {
      abort(
        state,
        now,
        `aborted by ${decision.by ?? 'a person'}${
          decision.reason ? `: ${decision.reason}` : ''
        }`,
      );
    } else if (!state.promoting) {
      nextStep(spec, state, now);
    }
  }
  return state;
}

/**
 * Checks a decision against the states it would apply to, as the pass will
 * (NotFound/Conflict): the component's rollouts on the cluster that are in
 * flight, in every namespace it deploys to, get it.
 */
export function decideRollout(
  rollouts: RolloutState[],
  component: string,
  cluster: string,
  decision: RolloutDecision,
): RolloutState[] {
  const states = rollouts.filter(
    r => r.component === component && r.cluster === cluster,
  );
  if (states.length === 0)
    throw new NotFoundError(
      `Component ${component} has no progressive rollout on cluster ${cluster} (it needs a kruise-rollout or blue-green trait, and a pass that deployed it)`,
    );
  const flying = states.filter(inFlight);
  if (flying.length === 0)
    throw new ConflictError(
      `Nothing of ${component} is rolling out on ${cluster} (it is ${states[0].phase}): there is nothing to ${decision.action}`,
    );
  const decided = flying.filter(s => !s.promoting);
  if (decided.length === 0)
    throw new ConflictError(
      `${component} on ${cluster} is already being promoted: the stable workload has the new version`,
    );
  return rollouts.map(r => (decided.includes(r) ? { ...r, decision } : r));
}

/** What the live workloads tell a pass: whether each is ready, and why not. */
export interface WorkloadReadiness {
  stable: { ready: boolean; message: string };
  canary: { ready: boolean; message: string };
}

/** Runs the analysis of the current step; the caller supplies how (Prometheus and webhooks). */
export type Analyse = () => Promise<RolloutAnalysisResult[]>;

/** How a passed step waits: the canary step's `pause`; blue-green's manual or timed switch. */
function pauseAfterAnalysis(
  spec: RolloutSpec,
  state: RolloutState,
): CanaryStep['pause'] {
  if (spec.strategy === 'canary') return spec.steps[state.step].pause;
  if (spec.manual) return {};
  if (spec.autoPromotionMs !== undefined)
    return { durationMs: spec.autoPromotionMs };
  return undefined;
}

/**
 * One pass's progress after the objects were applied: waits for the canary
 * (or preview) to be ready within the progress deadline, runs the step's
 * analysis, pauses as the step says, then steps on, switches or promotes;
 * aborts on too many failed analyses or a missed deadline. Returns what it
 * waits for, or undefined once nothing is in flight.
 */
export async function advance(
  spec: RolloutSpec,
  state: RolloutState,
  live: WorkloadReadiness,
  analyse: Analyse,
  now: Date,
): Promise<string | undefined> {
  if (!inFlight(state)) return undefined;
  const label = `${state.component} on ${state.cluster}`;
  if (state.promoting) {
    if (!live.stable.ready)
      return `${label}: promoting, the stable workload is rolling out (${live.stable.message})`;
    const image = imageOf(state.stableTemplate);
    state.phase = 'healthy';
    state.promoting = undefined;
    state.canaryHash = undefined;
    state.canaryTemplate = undefined;
    state.switchedAt = undefined;
    touch(state, now, `promoted ${image}`);
    return undefined;
  }
  if (spec.strategy === 'blueGreen' && state.switchedAt) {
    const downAt = Date.parse(state.switchedAt) + spec.scaleDownDelayMs;
    if (now.getTime() < downAt)
      return `${label}: switched; the old version scales down at ${new Date(
        downAt,
      ).toISOString()}`;
    promoteStable(state, now);
    return `${label}: the old version scales down`;
  }
  if (state.phase === 'paused') {
    if (now.getTime() < Date.parse(state.pauseUntil!))
      return `${label}: paused until ${state.pauseUntil}`;
    nextStep(spec, state, now);
    return `${label}: ${state.message}`;
  }
  if (state.phase === 'waitingForApproval')
    return `${label}: waiting for Promote or Abort`;

  if (!live.canary.ready) {
    const started = Date.parse(
      state.stepStartedAt ?? state.startedAt ?? now.toISOString(),
    );
    if (now.getTime() - started > spec.progressDeadlineMs) {
      abort(
        state,
        now,
        `aborted: the ${
          spec.strategy === 'canary' ? 'canary' : 'preview'
        } was not ready within the progress deadline of ${
          spec.progressDeadlineMs / 1000
        } s (${live.canary.message})`,
      );
      return undefined;
    }
    return `${label}: waiting for the ${
      spec.strategy === 'canary' ? 'canary' : 'preview'
    } to be ready (${live.canary.message})`;
  }
  const checks = spec.analysis.metrics.length + spec.analysis.webhooks.length;
  if (!state.analysed && checks > 0) {
    // After a failure tolerated by failureLimit, the next try waits an interval.
    if (
      state.failures > 0 &&
      state.lastAnalysisAt &&
      now.getTime() - Date.parse(state.lastAnalysisAt) <
        spec.analysis.intervalMs
    )
      return `${label}: analysis failed ${state.failures} time(s), trying again`;
    const results = await analyse();
    state.lastAnalysisAt = now.toISOString();
    state.analysis = [...state.analysis, ...results].slice(-ANALYSIS_KEPT);
    const failed = results.find(r => !r.passed);
    if (failed) {
      state.failures++;
      const reason = describeFailure(spec.analysis, failed);
      if (state.failures > spec.failureLimit) {
        abort(state, now, `aborted: ${reason}`);
        return undefined;
      }
      touch(
        state,
        now,
        `analysis failed (${reason}); ${state.failures} of ${spec.failureLimit} failures tolerated`,
      );
      return `${label}: ${state.message}`;
    }
  }
  state.analysed = true;
  const pause = pauseAfterAnalysis(spec, state);
  if (!pause) {
    nextStep(spec, state, now);
    return `${label}: ${state.message}`;
  }
  if (pause.durationMs === undefined) {
    state.phase = 'waitingForApproval';
    touch(state, now, 'waiting for Promote or Abort');
    return `${label}: waiting for Promote or Abort`;
  }
  state.phase = 'paused';
  state.pauseUntil = new Date(now.getTime() + pause.durationMs).toISOString();
  touch(state, now);
  return `${label}: paused until ${state.pauseUntil}`;
}

/** The contract's view of a rollout (GET /applications/:ns/:name). */
export function rolloutStatusOf(
  state: RolloutState,
  spec?: RolloutSpec,
): RolloutStatus {
  const canary = spec?.strategy === 'canary' ? spec : undefined;
  const status: RolloutStatus = {
    component: state.component,
    cluster: state.cluster,
    ...(state.namespace ? { namespace: state.namespace } : {}),
    strategy: state.strategy,
    phase: state.phase,
    canaryWeight: spec ? shapeOf(spec, state).weight : 0,
    analysis: state.analysis,
  };
  const stableImage = stableImageOf(state);
  const canaryImage = canaryImageOf(state);
  if (stableImage) status.stableImage = stableImage;
  if (canaryImage && canaryImage !== stableImage)
    status.canaryImage = canaryImage;
  if (canary) {
    status.totalSteps = canary.steps.length;
    if (inFlight(state)) status.currentStep = state.step;
  }
  if (state.message) status.message = state.message;
  if (state.startedAt) status.startedAt = state.startedAt;
  if (state.updatedAt) status.updatedAt = state.updatedAt;
  return status;
}
