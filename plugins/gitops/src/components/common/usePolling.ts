import {
  DependencyList,
  useCallback,
  useEffect,
  useRef,
  useState,
} from 'react';

/** How often an open page asks the backend again. */
export const POLL_INTERVAL_MS = 5000;

export interface PollingState<T> {
  value?: T;
  /** The last refetch's error; `value` still holds the data from before it. */
  error?: Error;
  /** True only until the first answer, so refetches never blank the page. */
  loading: boolean;
  /** Fetch again now, e.g. right after an action. */
  refresh: () => void;
}

/**
 * Loads `load()` and again every `intervalMs` while mounted. The previous
 * value stays on screen while a refetch runs, so the page does not flicker.
 */
export function usePolling<T>(
  load: () => Promise<T>,
  deps: DependencyList,
  intervalMs: number = POLL_INTERVAL_MS,
): PollingState<T> {
  const [state, setState] = useState<{
    value?: T;
    error?: Error;
    done: boolean;
  }>({ done: false });
  const generation = useRef(0);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const stableLoad = useCallback(load, deps);

  const run = useCallback(async () => {
    const mine = generation.current;
    try {
      const value = await stableLoad();
      if (mine === generation.current) setState({ value, done: true });
    } catch (error) {
      if (mine === generation.current) {
        setState(prev => ({
          value: prev.value,
          error: error as Error,
          done: true,
        }));
      }
    }
  }, [stableLoad]);

  useEffect(() => {
    generation.current += 1;
    setState({ done: false });
    run();
    const timer = setInterval(run, intervalMs);
    return () => {
      // Answers that arrive after unmount or a dependency change are dropped.
      generation.current += 1;
      clearInterval(timer);
    };
  }, [run, intervalMs]);

  return { ...state, loading: !state.done, refresh: run };
}
