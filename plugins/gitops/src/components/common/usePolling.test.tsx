import { act, renderHook, waitFor } from '@testing-library/react';
import { TestApiProvider } from '@backstage/test-utils';
import { ApplicationChangeEvent, GitopsApi, gitopsApiRef } from '../../api';
import { usePolling } from './usePolling';

/**
 * A stand-in for our backend's event stream: the test opens, breaks and
 * feeds the streams the page opened, and counts them.
 */
function fakeStreams() {
  const open: Array<{
    emit: (event: ApplicationChangeEvent) => void;
    fail: () => void;
    signal: AbortSignal;
  }> = [];
  let opened = 0;
  let refuse = false;
  const api = {
    followChanges: (
      _ref: unknown,
      onEvent: (event: ApplicationChangeEvent) => void,
      signal: AbortSignal,
    ) => {
      opened++;
      if (refuse) return Promise.reject(new Error('503'));
      return new Promise<void>((resolve, reject) => {
        const stream = {
          emit: onEvent,
          fail: () => reject(new Error('the stream broke')),
          signal,
        };
        open.push(stream);
        signal.addEventListener('abort', () => resolve());
        // As over a network: after every part of the page has subscribed.
        setTimeout(() => onEvent('ready'), 0);
      });
    },
  } as unknown as GitopsApi;
  return {
    api,
    open: () => open.filter(s => !s.signal.aborted),
    opened: () => opened,
    refuse: (value: boolean) => {
      refuse = value;
    },
  };
}

describe('usePolling with refreshOn', () => {
  const ref = { namespace: 'default', name: 'web' };

  function render(api: GitopsApi, parts: number, intervalMs: number) {
    const loads = Array.from({ length: parts }, () => 0);
    const hooks = renderHook(
      () =>
        loads.map((_, i) =>
          usePolling(async () => ++loads[i], [], {
            refreshOn: ref,
            intervalMs,
          }),
        ),
      {
        wrapper: ({ children }) => (
          <TestApiProvider apis={[[gitopsApiRef, api]]}>
            {children}
          </TestApiProvider>
        ),
      },
    );
    return { loads, hooks };
  }

  it('opens one stream for every part of the page, reads again on each change, and does not poll while it lasts', async () => {
    const streams = fakeStreams();
    // An interval no test would wait for: only the stream can cause reads.
    const { loads, hooks } = render(streams.api, 3, 3_600_000);
    await waitFor(() => expect(loads).toEqual([2, 2, 2])); // first load + `ready`
    expect(streams.opened()).toBe(1);

    act(() => streams.open()[0].emit('changed'));
    await waitFor(() => expect(loads).toEqual([3, 3, 3]));
    expect(hooks.result.current.map(h => h.value)).toEqual([3, 3, 3]);

    hooks.unmount();
    expect(streams.open()).toHaveLength(0);
  });

  it('polls while the backend refuses the stream, and stops once it is back', async () => {
    const streams = fakeStreams();
    streams.refuse(true);
    const { loads, hooks } = render(streams.api, 2, 20);
    await waitFor(() => expect(loads[0]).toBeGreaterThan(3));
    expect(streams.open()).toHaveLength(0);

    streams.refuse(false);
    await waitFor(() => expect(streams.open()).toHaveLength(1), {
      timeout: 15_000,
    });
    // Back on the stream: once what it asked for has arrived, nothing more is asked.
    await waitFor(() =>
      expect(hooks.result.current.map(h => h.value)).toEqual(loads),
    );
    const settled = [...loads];
    await new Promise(r => setTimeout(r, 200)); // ten polling intervals
    expect(loads).toEqual(settled);
    act(() => streams.open()[0].fail());
    await waitFor(() => expect(loads[0]).toBeGreaterThan(settled[0] + 3));
    hooks.unmount();
  }, 30_000);
});
