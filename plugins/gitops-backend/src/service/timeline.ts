import { InputError } from '@backstage/errors';
import {
  AuditAction,
  AuditEntry,
  describeDuration,
  doraFigures,
  ImageHistoryEntry,
  isRolloutChange,
  leadTimeStart,
  ReconcileRun,
  rolloutSucceeded,
  TimelineEvent,
  TimelineEventKind,
  TimelineResponse,
} from '@gitops-workflow/plugin-gitops-common';
import type {
  StepState,
  WorkflowState,
} from '@gitops-workflow/plugin-gitops-node';
import type { GitopsStore } from '../store/GitopsStore';
import { imageName } from './webhooks';

/** `registry/name` of a history row's image, as the registry's notifications name it. */
const imageNameOf = (image: string) => imageName(image) ?? image;

const DAY_MS = 24 * 3600_000;
/** The window when none is asked for: the last seven days. */
export const DEFAULT_WINDOW_MS = 7 * DAY_MS;
/** The widest window one request may ask for. */
export const MAX_WINDOW_MS = 90 * DAY_MS;
/** At most this many records of each kind in one answer: the newest are kept. */
export const MAX_RECORDS = 2000;

/** Everything recorded about one Application that the timeline tells. */
export interface TimelineRecords {
  /** Image history rows, each with when its tag reached the registry when the registry said so. */
  images: Array<ImageHistoryEntry & { tagPushedAt?: string }>;
  /** Reconciles that failed or changed objects. */
  runs: ReconcileRun[];
  audit: AuditEntry[];
  /** The current workflow run (the store keeps only the last). */
  workflow?: WorkflowState;
}

/** The window `?from=&to=` asks for: ISO times; `to` defaults to now, `from` to seven days before `to`. */
export function parseWindow(
  query: { from?: unknown; to?: unknown },
  now: Date,
): { from: Date; to: Date } {
  const time = (name: string, value: unknown): Date | undefined => {
    if (value === undefined || value === '') return undefined;
    const date = typeof value === 'string' ? new Date(value) : undefined;
    if (!date || Number.isNaN(date.getTime())) {
      throw new InputError(
        `${name} must be an ISO 8601 time, e.g. ${now.toISOString()}`,
      );
    }
    return date;
  };
  const to = time('to', query.to) ?? now;
  const from =
    time('from', query.from) ?? new Date(to.getTime() - DEFAULT_WINDOW_MS);
  if (from.getTime() >= to.getTime()) {
    throw new InputError('from must be before to');
  }
  if (to.getTime() - from.getTime() > MAX_WINDOW_MS) {
    throw new InputError(
      `The window from ${from.toISOString()} to ${to.toISOString()} is longer than ${
        MAX_WINDOW_MS / DAY_MS
      } days: ask for a shorter one`,
    );
  }
  return { from, to };
}

/** `user:default/jane` → `jane`; the automatic rollback by name. */
function actorName(actor: string): string {
  if (actor === 'gitops:automatic-rollback') return 'The automatic rollback';
  const user = /^user:(?:[^/]+\/)?(.+)$/.exec(actor);
  return user ? user[1] : actor;
}

const HOLD_ACTIONS: AuditAction[] = [
  'imageRollback',
  'automaticRollback',
  'workflowRollback',
];
const RELEASE_ACTIONS: AuditAction[] = ['imageRelease', 'workflowRelease'];

/** Ties at one instant read in the order a rollout goes. */
const KIND_ORDER: TimelineEventKind[] = [
  'tagPushed',
  'picked',
  'committed',
  'workflowStep',
  'synced',
  'syncFailed',
  'applied',
  'healthy',
  'failed',
  'rolledBack',
  'hold',
  'release',
  'action',
];

function imageEvents(
  row: ImageHistoryEntry & { tagPushedAt?: string },
): TimelineEvent[] {
  const { component, newTag, oldTag } = row;
  const ref = `${row.image}:${newTag}`;
  const links = {
    image: ref,
    imageUpdate: row.id,
    ...(row.commitSha ? { commit: row.commitSha } : {}),
  };
  const event = (
    kind: TimelineEventKind,
    at: string,
    sentence: string,
    actor?: string,
  ): TimelineEvent => ({
    at,
    kind,
    component,
    sentence,
    ...(actor ? { actor } : {}),
    links,
  });
  const was = oldTag ? ` (was ${oldTag})` : '';
  // A marker in another Application's manifest: say whose automation, or for whom.
  let whose = '';
  if (row.committedBy) {
    const by = row.committedBy;
    whose = ` in the image automation of ${by.namespace}/${by.name} (${by.component})`;
  } else if (row.target) {
    const { namespace, name, component: target } = row.target;
    whose = ` for ${namespace}/${name} (${target})`;
  }
  const because = row.reason ? `: ${row.reason}` : '';
  const events: TimelineEvent[] = [];
  if (row.tagPushedAt) {
    events.push(
      event('tagPushed', row.tagPushedAt, `${ref} was pushed to the registry`),
    );
  }
  const requester = row.requestedBy && actorName(row.requestedBy);
  switch (row.action) {
    case 'rollback':
      events.push(
        event(
          'picked',
          row.detectedAt,
          `${
            requester ?? 'A person'
          } rolled ${component} back to ${newTag}${was}${because}`,
          row.requestedBy,
        ),
      );
      break;
    case 'automaticRollback':
      events.push(
        event(
          'picked',
          row.detectedAt,
          `${component} was rolled back to ${newTag} automatically${was}${because}`,
          'gitops:automatic-rollback',
        ),
      );
      break;
    case 'release':
      events.push(
        event(
          'picked',
          row.detectedAt,
          `${row.policy ?? 'The tag policy'} picked ${newTag}${was} once ${
            requester ?? 'a person'
          } released the hold`,
          row.requestedBy,
        ),
      );
      break;
    default:
      events.push(
        event(
          'picked',
          row.detectedAt,
          `${row.policy ?? 'The tag policy'} picked ${newTag}${was}${whose}`,
        ),
      );
  }
  if (row.pushedAt) {
    const commit = row.commitSha ? ` ${row.commitSha.slice(0, 7)}` : '';
    events.push(
      event(
        'committed',
        row.pushedAt,
        `The bot pushed commit${commit}: ${component} ${
          oldTag ?? '—'
        } → ${newTag}`,
      ),
    );
  }
  if (row.appliedAt) {
    events.push(event('applied', row.appliedAt, `${ref} was applied`));
  }
  if (rolloutSucceeded(row)) {
    const since = leadTimeStart(row);
    let after = 'the rollback was committed';
    if (isRolloutChange(row))
      after = row.tagPushedAt ? 'the tag was pushed' : 'the policy picked it';
    events.push(
      event(
        'healthy',
        row.healthyAt,
        `${component} is healthy on ${newTag}, ${describeDuration(
          new Date(row.healthyAt).getTime() - new Date(since).getTime(),
        )} after ${after}`,
      ),
    );
  }
  if (row.failedAt) {
    events.push(
      event(
        'failed',
        row.failedAt,
        `${ref} failed${row.failure ? `: ${row.failure}` : ''}`,
      ),
    );
  }
  if (row.rolledBackAt) {
    events.push(
      event('rolledBack', row.rolledBackAt, `${newTag} was rolled back`),
    );
  }
  return events;
}

function runEvent(run: ReconcileRun): TimelineEvent {
  const sha = /@sha1:([0-9a-f]{7,64})$/.exec(run.revision ?? '')?.[1];
  const links = { run: run.id, ...(sha ? { commit: sha } : {}) };
  if (run.result === 'failed') {
    const repeats = run.repeats
      ? ` ${run.repeats} times, until ${run.finishedAt}`
      : '';
    return {
      at: run.startedAt,
      kind: 'syncFailed',
      sentence: `Sync (${run.trigger}) failed${repeats}: ${
        run.error ?? 'no reason recorded'
      }`,
      links,
    };
  }
  const n = run.objectsChanged ?? 0;
  const drift = run.cloudDrift?.length
    ? `; found changed outside Git: ${run.cloudDrift.join(', ')}`
    : '';
  return {
    at: run.finishedAt ?? run.startedAt,
    kind: 'synced',
    sentence: `Sync (${run.trigger}) changed ${n} object${n === 1 ? '' : 's'}${
      run.revision ? ` at ${run.revision}` : ''
    }${drift}`,
    links,
  };
}

function auditEvent(entry: AuditEntry): TimelineEvent {
  let kind: TimelineEventKind = 'action';
  if (HOLD_ACTIONS.includes(entry.action)) kind = 'hold';
  if (RELEASE_ACTIONS.includes(entry.action)) kind = 'release';
  return {
    at: entry.at,
    kind,
    ...(entry.component ? { component: entry.component } : {}),
    sentence: `${actorName(entry.actor)} ${entry.summary}${
      entry.reason ? ` (“${entry.reason}”)` : ''
    }`,
    actor: entry.actor,
    links: {},
  };
}

function workflowEvents(state: WorkflowState): TimelineEvent[] {
  const event = (at: string, sentence: string): TimelineEvent => ({
    at,
    kind: 'workflowStep',
    sentence,
    links: {},
  });
  const steps = (list: StepState[]): TimelineEvent[] =>
    list.flatMap(step => [
      ...(step.startedAt
        ? [
            event(
              step.startedAt,
              step.phase === 'suspending'
                ? `Step ${step.name} (${step.type}) waits to be resumed`
                : `Step ${step.name} (${step.type}) started`,
            ),
          ]
        : []),
      ...steps(step.subSteps ?? []),
      ...(step.finishedAt
        ? [
            event(
              step.finishedAt,
              `Step ${step.name} ${step.phase}${
                step.message ? `: ${step.message}` : ''
              }`,
            ),
          ]
        : []),
    ]);
  return [
    event(state.startedAt, `Workflow of revision ${state.revision} started`),
    ...steps(state.steps),
    ...(state.finishedAt
      ? [
          event(
            state.finishedAt,
            `Workflow of revision ${state.revision} ${
              state.terminated ? 'was terminated' : 'finished'
            }`,
          ),
        ]
      : []),
  ];
}

/** The records' events in `[from, to]`, oldest first; at one instant, in the order a rollout goes. */
export function timelineEvents(
  records: TimelineRecords,
  window: { from: Date; to: Date },
): TimelineEvent[] {
  const from = window.from.getTime();
  const to = window.to.getTime();
  const all = [
    ...records.images.flatMap(imageEvents),
    ...records.runs.map(runEvent),
    ...records.audit.map(auditEvent),
    ...(records.workflow ? workflowEvents(records.workflow) : []),
  ];
  return all
    .map((event, index) => ({ event, index, at: new Date(event.at).getTime() }))
    .filter(({ at }) => at >= from && at <= to)
    .sort(
      (a, b) =>
        a.at - b.at ||
        KIND_ORDER.indexOf(a.event.kind) - KIND_ORDER.indexOf(b.event.kind) ||
        a.index - b.index,
    )
    .map(({ event }) => event);
}

/** An Application's timeline and DORA figures, from the store's records. */
export class TimelineService {
  constructor(
    private readonly options: {
      store: Pick<
        GitopsStore,
        'timelineRecords' | 'tagPushTimes' | 'getWorkflowState'
      >;
    },
  ) {}

  async timeline(
    appKey: string,
    window: { from: Date; to: Date },
  ): Promise<TimelineResponse> {
    const { store } = this.options;
    const [records, workflow] = await Promise.all([
      store.timelineRecords(appKey, window, MAX_RECORDS),
      store.getWorkflowState(appKey),
    ]);
    const pushes = await store.tagPushTimes(
      records.images.map(r => ({ image: imageNameOf(r.image), tag: r.newTag })),
    );
    const images = records.images.map(row => {
      const pushedAt = pushes.get(`${imageNameOf(row.image)}:${row.newTag}`);
      // A rollback's tag was pushed for an earlier rollout; a tag pushed
      // again after it was picked, for a later one.
      return pushedAt &&
        isRolloutChange(row) &&
        new Date(pushedAt) <= new Date(row.detectedAt)
        ? { ...row, tagPushedAt: pushedAt }
        : row;
    });
    const iso = {
      from: window.from.toISOString(),
      to: window.to.toISOString(),
    };
    const response: TimelineResponse = {
      ...iso,
      events: timelineEvents(
        { images, runs: records.runs, audit: records.audit, workflow },
        window,
      ),
      dora: doraFigures(images, iso),
    };
    if (records.truncated) response.truncated = true;
    return response;
  }
}
