import { assessHealth } from '../assess/health';
import { objectKey, type KubeObject } from '../kube/objects';
import type { ApplicationComponent } from '../model/types';
import type { RenderedComponent } from '../render/render';
import { runAnalysis, type AnalysisOptions } from './analysis';
import { roleOf, shapeObjects } from './objects';
import {
  advance,
  beginPass,
  shapeOf,
  versionsOf,
  type RolloutState,
} from './progress';
import {
  BLUE_GREEN_TRAIT,
  CANARY_TRAIT,
  rolloutSpecOf,
  type RolloutSpec,
} from './spec';

/** A rollout ended by analysis, its deadline or a person: the deploy step fails with its message. */
export class RolloutAbortedError extends Error {
  readonly name = 'RolloutAbortedError';
}

interface Tracked {
  spec: RolloutSpec;
  state: RolloutState;
  objects: KubeObject[];
  namespace: string;
}

/**
 * The rollouts of one deploy on one cluster, for one pass: `prepare` shapes
 * the rendered objects from the persisted state before they are applied,
 * `progress` moves each rollout on from what the cluster then shows. The
 * states live in the workflow state (`WorkflowState.rollouts`), which the
 * caller persists.
 */
export class ClusterRollouts {
  private readonly tracked: Tracked[] = [];

  constructor(
    private readonly states: RolloutState[],
    private readonly cluster: string,
    private readonly options: AnalysisOptions & { now: () => Date },
  ) {}

  /** Shapes the objects of every rendered component that has a rollout trait. */
  prepare(
    components: ApplicationComponent[],
    rendered: RenderedComponent[],
    namespace: string,
  ): void {
    for (const output of rendered) {
      const component = components.find(c => c.name === output.name);
      const spec = component && rolloutSpecOf(component);
      if (!spec) continue;
      // One state per namespace: a component deployed to two rolls out in each.
      const index = this.states.findIndex(
        s =>
          s.component === output.name &&
          s.cluster === this.cluster &&
          (s.namespace ?? namespace) === namespace,
      );
      const stable = output.objects.find(o => roleOf(o) === 'stable');
      const desiredSpec = (stable?.spec ?? {}) as {
        template?: unknown;
        replicas?: number;
      };
      const state = beginPass(
        spec,
        index < 0 ? undefined : this.states[index],
        {
          template: structuredClone(desiredSpec.template),
          replicas: desiredSpec.replicas ?? 1,
        },
        { component: output.name, cluster: this.cluster, namespace },
        this.options.now(),
      );
      if (index < 0) this.states.push(state);
      else this.states[index] = state;
      shapeObjects(output.objects, shapeOf(spec, state));
      this.tracked.push({ spec, state, objects: output.objects, namespace });
    }
  }

  /**
   * Moves each rollout on from the live objects the apply returned. Says
   * what it waits for, and whether the objects must be applied again (a
   * step, a switch, a promotion or an abort changed them).
   */
  async progress(
    live: ReadonlyMap<string, KubeObject>,
  ): Promise<{ waiting: string[]; reshaped: boolean }> {
    const waiting: string[] = [];
    let reshaped = false;
    for (const tracked of this.tracked) {
      const { spec, objects, namespace } = tracked;
      const { state } = tracked;
      const health = (role: 'stable' | 'canary') => {
        const object = objects.find(o => roleOf(o) === role);
        const found = object && assessHealth(live.get(objectKey(object)));
        return {
          ready: found?.status === 'Current',
          message: found?.message ?? 'not rendered',
        };
      };
      const before = JSON.stringify(shapeOf(spec, state));
      const stable = objects.find(o => roleOf(o) === 'stable')!;
      const canary = objects.find(o => roleOf(o) === 'canary')!;
      const message = await advance(
        spec,
        state,
        { stable: health('stable'), canary: health('canary') },
        () =>
          runAnalysis(
            spec.analysis,
            {
              target: stable.metadata.name,
              canary: canary.metadata.name,
              namespace,
              interval: spec.analysis.interval,
              ...versionsOf(state),
            },
            this.options,
            this.options.now(),
          ),
        this.options.now(),
      );
      if (message) waiting.push(message);
      if (JSON.stringify(shapeOf(spec, state)) !== before) {
        shapeObjects(objects, shapeOf(spec, state));
        reshaped = true;
      }
    }
    return { waiting, reshaped };
  }

  /** The first aborted rollout's message, once its objects are back on stable. */
  aborted(): string | undefined {
    return this.tracked.map(t => t.state).find(s => s.phase === 'aborted')
      ?.message;
  }
}

/** The components of a deploy that roll out progressively. */
export const hasRollout = (components: ApplicationComponent[]) =>
  components.some(c =>
    c.traits.some(t => t.type === CANARY_TRAIT || t.type === BLUE_GREEN_TRAIT),
  );
