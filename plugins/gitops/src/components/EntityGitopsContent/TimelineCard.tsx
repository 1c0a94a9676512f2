import {
  InfoCard,
  Progress,
  ResponseErrorPanel,
} from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import {
  ApplicationRef,
  stringifyApplicationRef,
  TimelineEvent,
  TimelineEventKind,
} from '@gitops-workflow/plugin-gitops-common';
import Box from '@material-ui/core/Box';
import Button from '@material-ui/core/Button';
import Table from '@material-ui/core/Table';
import TableBody from '@material-ui/core/TableBody';
import TableCell from '@material-ui/core/TableCell';
import TableHead from '@material-ui/core/TableHead';
import TableRow from '@material-ui/core/TableRow';
import Typography from '@material-ui/core/Typography';
import ToggleButton from '@material-ui/lab/ToggleButton';
import ToggleButtonGroup from '@material-ui/lab/ToggleButtonGroup';
import { useState } from 'react';
import useMeasure from 'react-use/esm/useMeasure';
import { gitopsApiRef } from '../../api';
import { CommitLink } from '../common/CommitLink';
import { useTableLayoutStyles } from '../common/layout';
import { RelativeTime } from '../common/RelativeTime';
import { ShortRef } from '../common/ShortRef';
import { usePolling } from '../common/usePolling';
import { DoraFigures } from './DoraFigures';

const HOUR_MS = 3600_000;

/** The windows a person picks from; they end now. */
export const TIMELINE_WINDOWS = [
  { key: '24h', label: '24 hours', ms: 24 * HOUR_MS },
  { key: '7d', label: '7 days', ms: 7 * 24 * HOUR_MS },
  { key: '30d', label: '30 days', ms: 30 * 24 * HOUR_MS },
] as const;
type WindowKey = (typeof TIMELINE_WINDOWS)[number]['key'];

/** Each kind's words and mark colour, in the order a rollout goes (the legend's order). */
export const EVENT_KINDS: Record<
  TimelineEventKind,
  { label: string; color: string }
> = {
  tagPushed: { label: 'tag pushed', color: '#78909c' },
  picked: { label: 'picked', color: '#1e88e5' },
  committed: { label: 'committed', color: '#3949ab' },
  workflowStep: { label: 'workflow step', color: '#9e9e9e' },
  synced: { label: 'synced', color: '#00acc1' },
  syncFailed: { label: 'sync failed', color: '#ad1457' },
  applied: { label: 'applied', color: '#00897b' },
  healthy: { label: 'healthy', color: '#43a047' },
  failed: { label: 'failed', color: '#e53935' },
  rolledBack: { label: 'rolled back', color: '#fb8c00' },
  hold: { label: 'hold', color: '#f9a825' },
  release: { label: 'release', color: '#7cb342' },
  action: { label: "a person's action", color: '#8e24aa' },
};

/** The lane of events about the whole Application rather than one component. */
// Component names are DNS labels, lowercase: this one cannot be a component's.
const APPLICATION_LANE = 'Application';
const laneOf = (event: TimelineEvent) => event.component ?? APPLICATION_LANE;

/** Events shown in the list until the reader asks for all. */
const LIST_ROWS = 50;

const LANE_HEIGHT = 28;
const LABEL_WIDTH = 150;
const AXIS_HEIGHT = 24;
const FALLBACK_WIDTH = 800;
/** The axis' six labels; the ends' stay inside the chart. */
const TICK_ANCHORS = [
  'start',
  'middle',
  'middle',
  'middle',
  'middle',
  'end',
] as const;

/** Marks of one lane closer than this are spread apart, keeping their order. */
const MARK_GAP = 9;

/**
 * The marks' x positions in one lane: at their times, except that marks
 * closer than {@link MARK_GAP} (a release's push, pick, commit, apply and
 * healthy happen within seconds) are spread so each stays visible, in
 * order, inside `[min, max]`.
 */
export function spreadMarks(xs: number[], min: number, max: number): number[] {
  const spread = [...xs];
  for (let i = 1; i < spread.length; i++) {
    spread[i] = Math.max(spread[i], spread[i - 1] + MARK_GAP);
  }
  for (let i = spread.length - 1; i >= 0; i--) {
    const limit = i === spread.length - 1 ? max : spread[i + 1] - MARK_GAP;
    spread[i] = Math.max(Math.min(spread[i], limit), min);
  }
  return spread;
}

function tickLabel(at: number, spanMs: number): string {
  const date = new Date(at);
  return spanMs <= 36 * HOUR_MS
    ? date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })
    : date.toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
}

/**
 * Time across, one lane per component (and one for the Application), each
 * event a mark in its kind's colour with its sentence on hover.
 */
function TimelineChart(props: {
  events: TimelineEvent[];
  lanes: string[];
  from: number;
  to: number;
}) {
  const { events, lanes, from, to } = props;
  const [measure, { width: measured }] = useMeasure<HTMLDivElement>();
  const width = measured || FALLBACK_WIDTH;
  const plotWidth = Math.max(width - LABEL_WIDTH - 16, 100);
  const height = lanes.length * LANE_HEIGHT + AXIS_HEIGHT;
  const x = (iso: string) =>
    LABEL_WIDTH +
    (Math.min(Math.max(Date.parse(iso) - from, 0), to - from) / (to - from)) *
      plotWidth;
  const ticks = [0, 1, 2, 3, 4, 5].map(i => from + (i * (to - from)) / 5);
  const laneMarks = (lane: string) => {
    const inLane = events.filter(e => laneOf(e) === lane);
    const xs = spreadMarks(
      inLane.map(e => x(e.at)),
      LABEL_WIDTH,
      LABEL_WIDTH + plotWidth,
    );
    return inLane.map((event, i) => ({ event, cx: xs[i] }));
  };
  return (
    <div ref={measure} style={{ width: '100%' }}>
      <svg
        width={width}
        height={height}
        role="img"
        aria-label={`Timeline chart: ${events.length} events in ${lanes.length} lanes`}
        style={{ display: 'block', fontSize: 12 }}
      >
        {lanes.map((lane, i) => (
          <g key={lane} role="list" aria-label={`Lane ${lane}`}>
            <line
              x1={LABEL_WIDTH}
              x2={LABEL_WIDTH + plotWidth}
              y1={(i + 0.5) * LANE_HEIGHT}
              y2={(i + 0.5) * LANE_HEIGHT}
              stroke="currentColor"
              strokeOpacity={0.15}
            />
            <text
              x={LABEL_WIDTH - 8}
              y={(i + 0.5) * LANE_HEIGHT}
              textAnchor="end"
              dominantBaseline="middle"
              fill="currentColor"
            >
              <title>{lane}</title>
              {lane.length > 20 ? `${lane.slice(0, 19)}…` : lane}
            </text>
            {laneMarks(lane).map(({ event, cx }, j) => (
              <circle
                key={j}
                role="listitem"
                aria-label={`${EVENT_KINDS[event.kind].label}: ${
                  event.sentence
                }`}
                data-kind={event.kind}
                cx={cx}
                cy={(i + 0.5) * LANE_HEIGHT}
                r={5}
                fill={EVENT_KINDS[event.kind].color}
                stroke="#fff"
                strokeWidth={1}
              >
                <title>{`${new Date(event.at).toLocaleString()}: ${
                  event.sentence
                }`}</title>
              </circle>
            ))}
          </g>
        ))}
        <g aria-hidden>
          {ticks.map((t, i) => (
            <text
              key={t}
              x={LABEL_WIDTH + ((t - from) / (to - from)) * plotWidth}
              y={lanes.length * LANE_HEIGHT + AXIS_HEIGHT / 2}
              textAnchor={TICK_ANCHORS[i]}
              dominantBaseline="middle"
              fill="currentColor"
              fillOpacity={0.7}
            >
              {tickLabel(t, to - from)}
            </text>
          ))}
        </g>
      </svg>
    </div>
  );
}

function Legend(props: { kinds: Set<TimelineEventKind> }) {
  const kinds = (Object.keys(EVENT_KINDS) as TimelineEventKind[]).filter(k =>
    props.kinds.has(k),
  );
  return (
    <Box display="flex" flexWrap="wrap" my={1} aria-label="Legend">
      {kinds.map(kind => (
        <Box key={kind} display="flex" alignItems="center" mr={2}>
          <KindDot kind={kind} />
          <Typography variant="caption">{EVENT_KINDS[kind].label}</Typography>
        </Box>
      ))}
    </Box>
  );
}

function KindDot({ kind }: { kind: TimelineEventKind }) {
  return (
    <span
      aria-hidden
      style={{
        display: 'inline-block',
        width: 10,
        height: 10,
        borderRadius: '50%',
        marginRight: 6,
        flexShrink: 0,
        background: EVENT_KINDS[kind].color,
      }}
    />
  );
}

function EventLinks(props: { event: TimelineEvent; gitUrl?: string }) {
  const { links } = props.event;
  return (
    <Box display="flex" alignItems="center" flexWrap="wrap" style={{ gap: 8 }}>
      {links.commit && <CommitLink sha={links.commit} gitUrl={props.gitUrl} />}
      {links.image && <ShortRef value={links.image} label="image reference" />}
      {links.run !== undefined && (
        <span style={{ whiteSpace: 'nowrap' }}>sync #{links.run}</span>
      )}
    </Box>
  );
}

function EventList(props: { events: TimelineEvent[]; gitUrl?: string }) {
  const { events, gitUrl } = props;
  const [all, setAll] = useState(false);
  const classes = useTableLayoutStyles();
  const shown = all ? events : events.slice(-LIST_ROWS);
  return (
    <>
      {shown.length < events.length && (
        <Button size="small" onClick={() => setAll(true)}>
          Show all {events.length} events (the {LIST_ROWS} newest are shown)
        </Button>
      )}
      <Table
        size="small"
        aria-label="Timeline events"
        className={classes.tables}
      >
        <TableHead>
          <TableRow>
            <TableCell>When</TableCell>
            <TableCell>Lane</TableCell>
            <TableCell>What</TableCell>
            <TableCell>Links</TableCell>
          </TableRow>
        </TableHead>
        <TableBody>
          {shown.map((event, i) => (
            <TableRow key={i}>
              <TableCell>
                <RelativeTime iso={event.at} />
              </TableCell>
              <TableCell style={{ whiteSpace: 'nowrap' }}>
                {laneOf(event)}
              </TableCell>
              <TableCell>
                <Box display="flex" alignItems="center">
                  <KindDot kind={event.kind} />
                  <span>{event.sentence}</span>
                </Box>
              </TableCell>
              <TableCell>
                <EventLinks event={event} gitUrl={gitUrl} />
              </TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
    </>
  );
}

/**
 * The Application's timeline over a window the reader picks (24 hours, 7
 * days, 30 days): its DORA figures, a chart with a lane per component and
 * the events beneath, oldest first, each linked to its commit, image and
 * sync.
 */
export function TimelineCard(props: {
  appRef: ApplicationRef;
  /** The component lanes to draw even when nothing happened in them. */
  components: string[];
  gitUrl?: string;
}) {
  const { appRef, components, gitUrl } = props;
  const api = useApi(gitopsApiRef);
  const [windowKey, setWindowKey] = useState<WindowKey>('7d');
  const chosen = TIMELINE_WINDOWS.find(w => w.key === windowKey)!;
  const timeline = usePolling(
    () => {
      const to = new Date();
      return api.getTimeline(appRef, {
        from: new Date(to.getTime() - chosen.ms).toISOString(),
        to: to.toISOString(),
      });
    },
    [api, stringifyApplicationRef(appRef), chosen.ms],
    { refreshOn: appRef },
  );

  const picker = (
    <ToggleButtonGroup
      size="small"
      exclusive
      value={windowKey}
      onChange={(_, value: WindowKey | null) => value && setWindowKey(value)}
      aria-label="Timeline window"
    >
      {TIMELINE_WINDOWS.map(w => (
        <ToggleButton key={w.key} value={w.key} aria-label={`Last ${w.label}`}>
          {w.key}
        </ToggleButton>
      ))}
    </ToggleButtonGroup>
  );

  let body;
  if (timeline.value) {
    const { events, dora, truncated } = timeline.value;
    const lanes = [
      APPLICATION_LANE,
      ...new Set([...components, ...events.flatMap(e => e.component ?? [])]),
    ];
    body = (
      <>
        <DoraFigures dora={dora} windowLabel={chosen.label} />
        <Box mt={3}>
          {events.length === 0 ? (
            <Typography variant="body2" color="textSecondary">
              Nothing happened in the last {chosen.label}. Push a new image tag
              or commit to the Git repository and its rollout shows here, or
              pick a longer window.
            </Typography>
          ) : (
            <>
              {truncated && (
                <Typography variant="body2" color="textSecondary">
                  This window holds more records than one answer carries: the
                  oldest are left out. Pick a shorter window to see them all.
                </Typography>
              )}
              <TimelineChart
                events={events}
                lanes={lanes}
                from={Date.parse(timeline.value.from)}
                to={Date.parse(timeline.value.to)}
              />
              <Legend kinds={new Set(events.map(e => e.kind))} />
              <EventList events={events} gitUrl={gitUrl} />
            </>
          )}
        </Box>
      </>
    );
  } else if (timeline.error) {
    body = (
      <ResponseErrorPanel
        error={timeline.error}
        title="Could not load the timeline"
      />
    );
  } else {
    body = <Progress />;
  }

  return (
    <InfoCard title="Timeline" action={<Box mt={1}>{picker}</Box>}>
      {body}
    </InfoCard>
  );
}
