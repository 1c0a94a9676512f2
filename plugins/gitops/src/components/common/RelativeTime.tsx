import Tooltip from '@material-ui/core/Tooltip';
import { useEffect, useState } from 'react';
import { formatExactTime, formatRelativeTime } from './format';

/** How often relative times on screen move on ("1 minute ago" → "2 minutes ago"). */
const TICK_MS = 15_000;

// One timer for every relative time on the page, running only while one is shown.
const listeners = new Set<() => void>();
let timer: ReturnType<typeof setInterval> | undefined;

function subscribe(listener: () => void) {
  if (listeners.size === 0) {
    timer = setInterval(() => listeners.forEach(l => l()), TICK_MS);
  }
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0) clearInterval(timer);
  };
}

/** Renders the caller again every 15 s, with every other relative time. */
function useTick(): void {
  const [, setTicks] = useState(0);
  useEffect(() => subscribe(() => setTicks(t => t + 1)), []);
}

/** A timestamp as `3 minutes ago`, with the exact time (and zone) on hover. */
export function RelativeTime(props: { iso?: string; missing?: string }) {
  useTick();
  if (!props.iso) return <>{props.missing ?? '—'}</>;
  return (
    <Tooltip title={formatExactTime(props.iso)}>
      <time dateTime={props.iso}>
        {formatRelativeTime(props.iso, Date.now())}
      </time>
    </Tooltip>
  );
}
