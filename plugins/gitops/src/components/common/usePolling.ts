import {
  DependencyList,
  useCallback,
  useEffect,
  useRef,
  useState,
} from 'react';
import { useApi } from '@backstage/core-plugin-api';
import {
  ApplicationRef,
  stringifyApplicationRef,
} from '@gitops-workflow/plugin-gitops-common';
import { gitopsApiRef } from '../../api';
import { listenToChanges } from './applicationChanges';

/** How often an open page asks the backend again when nothing tells it of changes. */
export const POLL_INTERVAL_MS = 5000;

export interface PollingOptions {
  intervalMs?: number;
  /**
   * Load again whenever this Application changes, as the backend's event
   * stream tells (one stream per Application per tab), instead of every
   * `intervalMs`; polls only while that stream is unavailable.
   */
  refreshOn?: ApplicationRef;
}

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
 * Loads `load()`, then again on each change of `refreshOn` (or every
 * `intervalMs` without one, or while its stream is down). The previous
 * value stays on screen while a refetch runs, so the page does not flicker;
 * of answers that overtake each other, the newest request's wins.
 */
export function usePolling<T>(
  load: () => Promise<T>,
  deps: DependencyList,
  options: PollingOptions = {},
): PollingState<T> {
  const { intervalMs = POLL_INTERVAL_MS, refreshOn } = options;
  const api = useApi(gitopsApiRef);
  const [state, setState] = useState<{
    value?: T;
    error?: Error;
    done: boolean;
  }>({ done: false });
  const [streaming, setStreaming] = useState(false);
  const generation = useRef(0);
  const latest = useRef(0);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const stableLoad = useCallback(load, deps);

  const run = useCallback(async () => {
    const mine = generation.current;
    const request = ++latest.current;
    const current = () =>
      mine === generation.current && request === latest.current;
    try {
      const value = await stableLoad();
      if (current()) setState({ value, done: true });
    } catch (error) {
      if (current()) {
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
    // Answers that arrive after unmount or a dependency change are dropped.
    return () => {
      generation.current += 1;
    };
  }, [run]);

  const refKey = refreshOn && stringifyApplicationRef(refreshOn);
  useEffect(() => {
    if (!refreshOn) return undefined;
    return listenToChanges(api, refreshOn, {
      changed: () => run(),
      streaming: setStreaming,
    });
    // refKey stands for refreshOn, which callers rebuild on each render.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [api, refKey, run]);

  const polling = !refreshOn || !streaming;
  useEffect(() => {
    if (!polling) return undefined;
    const timer = setInterval(run, intervalMs);
    return () => clearInterval(timer);
  }, [run, intervalMs, polling]);

  return { ...state, loading: !state.done, refresh: run };
}
