import { parseApplication } from '../render/parse';
import {
  applicationToRun,
  applyWorkflowCommand,
  releaseRollback,
  rollbackTo,
  WorkflowExecutor,
} from './execute';
import type { WorkflowState } from './types';

/*
 * A workflow that only waits for a person touches no cluster, so what a
 * pass runs (which revision, which spec, which Git commits) shows without
 * one. Applying objects is covered on real clusters in test/src/workflow.
 */

const app = (greeting: string) =>
  parseApplication({
    apiVersion: 'core.oam.dev/v1beta1',
    kind: 'Application',
    metadata: { name: 'shop', namespace: 'default' },
    spec: {
      components: [
        {
          name: 'web',
          type: 'webservice',
          properties: {
            image: 'registry.local/shop:1.0.0',
            env: [{ name: 'GREETING', value: greeting }],
          },
        },
      ],
      workflow: { steps: [{ name: 'approval', type: 'suspend' }] },
    },
  });

const commit = (c: string) => `main@sha1:${c.repeat(40)}`;
const greetingOf = (state: WorkflowState, live = app('live')) =>
  (
    applicationToRun(live, state).app.spec.components[0].properties as {
      env: Array<{ value: string }>;
    }
  ).env[0].value;

describe('a rolled-back revision stays pinned until released', () => {
  const executor = new WorkflowExecutor({ clusters: [] });
  const pass = async (
    greeting: string,
    previous: WorkflowState | undefined,
    built: string,
  ) =>
    (
      await executor.run(app(greeting), previous, {
        sourceRevisions: { web: commit(built) },
      })
    ).state;

  it('runs the pinned spec at its recorded commits whatever the spec becomes, until released', async () => {
    const one = await pass('hello', undefined, 'a');
    // Refreshed while it runs: a rollback to it builds what it ran last.
    const oneLater = await pass('hello', one, 'b');
    const two = await pass('bonjour', oneLater, 'c');
    expect(two.revisions.map(r => [r.revision, r.sources])).toEqual([
      [1, { web: commit('b') }],
      [2, { web: commit('c') }],
    ]);

    const at = new Date('2026-12-01T17:00:00Z');
    const back = applyWorkflowCommand(
      two,
      {
        type: 'rollback',
        revision: 1,
        by: 'user:default/jane',
        reason: 'bonjour is rude',
      },
      at,
    );
    expect(back.rollback).toEqual({
      revision: 1,
      at: at.toISOString(),
      by: 'user:default/jane',
      reason: 'bonjour is rude',
    });

    // The spec changes twice and Git moves on: revision 1 stays, as it ran.
    let state = back;
    for (const greeting of ['hallo', 'ciao']) {
      state = await pass(greeting, state, 'd');
      expect(state.revision).toBe(1);
      expect(greetingOf(state)).toBe('hello');
      expect(applicationToRun(app(greeting), state).pinnedRevisions).toEqual({
        web: commit('b'),
      });
    }
    expect(state.revisions.map(r => r.revision)).toEqual([1, 2]);
    expect(state.revisions[0].sources).toEqual({ web: commit('b') });

    const released = applyWorkflowCommand(state, { type: 'release' });
    expect(released.rollback).toBeUndefined();
    const current = await pass('ciao', released, 'd');
    expect(current.revision).toBe(3);
    expect(greetingOf(current, app('ciao'))).toBe('ciao');
    expect(applicationToRun(app('ciao'), current).pinnedRevisions).toBe(
      undefined,
    );
    expect(current.revisions.at(-1)!.sources).toEqual({ web: commit('d') });
  });

  it('says so when there is no rollback to release, or no revision to roll back to', async () => {
    const one = await pass('hello', undefined, 'a');
    expect(() => releaseRollback(one)).toThrow(
      expect.objectContaining({
        name: 'ConflictError',
        message:
          'No rollback is in force: the workflow already runs the current spec',
      }),
    );
    expect(() => rollbackTo(one, 7)).toThrow(
      expect.objectContaining({
        name: 'NotFoundError',
        message: 'Revision 7 is not kept (kept: 1)',
      }),
    );
  });
});
