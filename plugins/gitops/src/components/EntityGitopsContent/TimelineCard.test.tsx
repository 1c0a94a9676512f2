import {
  doraFigures,
  Rollout,
  TimelineEvent,
  TimelineResponse,
} from '@gitops-workflow/plugin-gitops-common';
import { renderInTestApp, TestApiProvider } from '@backstage/test-utils';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { GitopsApi, gitopsApiRef } from '../../api';
import {
  annotated,
  app,
  config,
  render,
  SHA,
  stubApi,
} from './__testUtils__/testing';
import { spreadMarks, TimelineCard } from './TimelineCard';

const DAY_MS = 24 * 3600_000;
const IMAGE = 'registry.local/test-server';
const FROM = '2026-11-16T10:00:00.000Z';
const TO = '2026-11-23T10:00:00.000Z';

/* A week of test-server: a release healthy 15 s after its push, a bad one rolled back automatically. */
const rollouts: Rollout[] = [
  {
    id: 1,
    component: 'test-server',
    action: 'update',
    tagPushedAt: '2026-11-20T09:59:58Z',
    detectedAt: '2026-11-20T10:00:00Z',
    appliedAt: '2026-11-20T10:00:05Z',
    healthyAt: '2026-11-20T10:00:13Z',
  },
  {
    id: 2,
    component: 'test-server',
    action: 'update',
    detectedAt: '2026-11-22T10:00:00Z',
    appliedAt: '2026-11-22T10:00:05Z',
    failedAt: '2026-11-22T10:05:00Z',
    rolledBackAt: '2026-11-22T10:05:01Z',
  },
  {
    id: 3,
    component: 'test-server',
    action: 'automaticRollback',
    detectedAt: '2026-11-22T10:05:01Z',
    healthyAt: '2026-11-22T10:05:40Z',
  },
];

const ev = (
  at: string,
  kind: TimelineEvent['kind'],
  sentence: string,
  more: Partial<TimelineEvent> = {},
): TimelineEvent => ({ at, kind, sentence, links: {}, ...more });

// As the backend tells them: oldest first.
const events: TimelineEvent[] = [
  ev(
    '2026-11-20T09:59:58Z',
    'tagPushed',
    `${IMAGE}:1.0.1 was pushed to the registry`,
    {
      component: 'test-server',
      links: { image: `${IMAGE}:1.0.1`, imageUpdate: 1 },
    },
  ),
  ev(
    '2026-11-20T10:00:00Z',
    'picked',
    'semver >=1.0.0 picked 1.0.1 (was 1.0.0)',
    {
      component: 'test-server',
      links: { image: `${IMAGE}:1.0.1`, imageUpdate: 1, commit: SHA },
    },
  ),
  ev(
    '2026-11-20T10:00:02Z',
    'workflowStep',
    'Step deploy-prod (deploy) started',
  ),
  ev(
    '2026-11-20T10:00:05Z',
    'synced',
    `Sync (webhook) changed 3 objects at main@sha1:${SHA}`,
    {
      links: { run: 14, commit: SHA },
    },
  ),
  ev(
    '2026-11-20T10:00:13Z',
    'healthy',
    'test-server is healthy on 1.0.1, 15 s after the tag was pushed',
    {
      component: 'test-server',
      links: { image: `${IMAGE}:1.0.1`, imageUpdate: 1, commit: SHA },
    },
  ),
  ev('2026-11-22T09:00:00Z', 'action', 'alice asked for a sync', {
    actor: 'user:default/alice',
  }),
  ev(
    '2026-11-22T10:05:00Z',
    'failed',
    `${IMAGE}:1.0.2 failed: Deployment test-server: ProgressDeadlineExceeded`,
    {
      component: 'test-server',
      links: { image: `${IMAGE}:1.0.2`, imageUpdate: 2 },
    },
  ),
  ev(
    '2026-11-22T10:05:40Z',
    'healthy',
    'test-server is healthy on 1.0.1, 39 s after the rollback was committed',
    {
      component: 'test-server',
      links: { image: `${IMAGE}:1.0.1`, imageUpdate: 3 },
    },
  ),
];

/** The backend's answer for a window: the week's events, and its figures computed from the rollouts. */
function answer(window: { from: string; to: string }): TimelineResponse {
  return {
    ...window,
    events,
    dora: doraFigures(rollouts, window),
  };
}

/** The card alone, as the tab mounts it for the fixture's Application. */
async function renderCard(api: GitopsApi) {
  await renderInTestApp(
    <TestApiProvider apis={[[gitopsApiRef, api]]}>
      <TimelineCard
        appRef={{ namespace: app.namespace, name: app.name }}
        components={app.components.map(c => c.name)}
        gitUrl={config.components[0].git.url}
      />
    </TestApiProvider>,
  );
}

async function timelineCard() {
  const title = await screen.findByText('Timeline');
  return within(title.closest<HTMLElement>('.MuiCard-root')!);
}

describe('TimelineCard', () => {
  it('lists the events oldest first, each linked to its commit, image and sync', async () => {
    await renderCard(
      stubApi({ getTimeline: async () => answer({ from: FROM, to: TO }) }),
    );
    const card = await timelineCard();
    const table = await card.findByRole('table', { name: 'Timeline events' });
    const rows = within(table).getAllByRole('row').slice(1);
    expect(
      rows.map(r => within(r).getAllByRole('cell')[2].textContent),
    ).toEqual(events.map(e => e.sentence));
    expect(
      rows.map(r => within(r).getAllByRole('cell')[1].textContent),
    ).toEqual([
      'test-server',
      'test-server',
      'Application',
      'Application',
      'test-server',
      'Application',
      'test-server',
      'test-server',
    ]);
    // The commit links to the forge (the sync configuration's Git URL is GitHub's).
    expect(
      await within(rows[1]).findByRole('link', {
        name: /^Open commit 3f1c2a9/,
      }),
    ).toHaveAttribute(
      'href',
      `https://github.com/example/deploy/commit/${SHA}`,
    );
    expect(
      within(rows[0]).getByRole('button', { name: `Copy ${IMAGE}:1.0.1` }),
    ).toBeInTheDocument();
    expect(within(rows[3]).getByText('sync #14')).toBeInTheDocument();
    expect(
      within(rows[0]).getByText((_, el) => el?.tagName === 'TIME'),
    ).toHaveAttribute('datetime', '2026-11-20T09:59:58Z');
  });

  it('draws a lane for the Application and one per component, each event a mark of its kind', async () => {
    await renderCard(
      stubApi({ getTimeline: async () => answer({ from: FROM, to: TO }) }),
    );
    const card = await timelineCard();
    const chart = await card.findByRole('img', {
      name: 'Timeline chart: 8 events in 3 lanes',
    });
    const kinds = (lane: string) =>
      within(within(chart).getByRole('list', { name: `Lane ${lane}` }))
        .queryAllByRole('listitem')
        .map(mark => mark.getAttribute('data-kind'));
    expect(kinds('Application')).toEqual(['workflowStep', 'synced', 'action']);
    expect(kinds('test-server')).toEqual([
      'tagPushed',
      'picked',
      'healthy',
      'failed',
      'healthy',
    ]);
    // The Application's other component: a lane with nothing in it this week.
    expect(kinds('deploy')).toEqual([]);
    // Marks of one kind share a colour; another kind has another; left to right in time.
    const marks = within(chart).getAllByRole('listitem');
    const fill = (kind: string) =>
      marks
        .filter(m => m.getAttribute('data-kind') === kind)
        .map(m => m.getAttribute('fill'));
    expect(new Set(fill('healthy')).size).toBe(1);
    expect(fill('healthy')[0]).not.toBe(fill('failed')[0]);
    const xs = within(
      within(chart).getByRole('list', { name: 'Lane test-server' }),
    )
      .getAllByRole('listitem')
      .map(m => Number(m.getAttribute('cx')));
    expect([...xs].sort((a, b) => a - b)).toEqual(xs);
    expect(card.getByLabelText('Legend')).toHaveTextContent(
      'tag pushedpickedworkflow stepsyncedhealthyfailed',
    );
  });

  it("shows the window's DORA figures, and another window's when it is picked", async () => {
    const day = {
      from: '2026-11-22T00:00:00.000Z',
      to: '2026-11-23T00:00:00.000Z',
    };
    // The backend's figures for whichever window is asked: the fixture's day, else its week.
    const api = stubApi({
      getTimeline: async (_ref, window) =>
        answer(
          Date.parse(window.to) - Date.parse(window.from) === DAY_MS
            ? day
            : { from: FROM, to: TO },
        ),
    });
    await renderCard(api);
    const card = await timelineCard();
    const figure = async (name: string) =>
      (await card.findByRole('group', { name })).textContent;
    const lastWindow = () => {
      const { calls } = api.getTimeline.mock;
      const [, window] = calls[calls.length - 1];
      return Date.parse(window.to) - Date.parse(window.from);
    };

    expect(lastWindow()).toBe(7 * DAY_MS);
    expect(await figure('Deployment frequency')).toBe(
      'Deployment frequency0.14 / day1 deployment of 2 rollouts in the last 7 days',
    );
    expect(await figure('Lead time')).toBe(
      'Lead time15 sp90 15 s, from the tag push',
    );
    expect(await figure('Change failure rate')).toBe(
      'Change failure rate50 %1 of 2 finished rollouts failed or rolled back',
    );
    expect(await figure('Time to restore')).toBe(
      'Time to restore40 s1 restored',
    );

    await userEvent.click(card.getByRole('button', { name: 'Last 24 hours' }));
    await waitFor(() => expect(lastWindow()).toBe(DAY_MS));
    await waitFor(async () =>
      expect(await figure('Deployment frequency')).toBe(
        'Deployment frequency0 / day0 deployments of 1 rollout in the last 24 hours',
      ),
    );
    expect(await figure('Lead time')).toBe(
      'Lead time—no deployments in this window',
    );
    expect(await figure('Change failure rate')).toBe(
      'Change failure rate100 %1 of 1 finished rollout failed or rolled back',
    );
    expect(await figure('Time to restore')).toBe(
      'Time to restore40 s1 restored',
    );
  });

  it("says what to do in a window where nothing happened, on the entity's tab", async () => {
    await render(annotated, stubApi());
    const card = await timelineCard();
    expect(
      await card.findByText(
        /Nothing happened in the last 7 days\. Push a new image tag/,
      ),
    ).toBeInTheDocument();
    expect(
      (await card.findByRole('group', { name: 'Lead time' })).textContent,
    ).toBe('Lead time—no deployments in this window');
    expect(
      card.getByRole('group', { name: 'Change failure rate' }),
    ).toHaveTextContent('no finished rollouts in this window');
    expect(
      card.queryByRole('img', { name: /Timeline chart/ }),
    ).not.toBeInTheDocument();
  });

  it('says when the timeline could not be loaded', async () => {
    await renderCard(
      stubApi({
        getTimeline: async () => {
          throw new Error('the database is down');
        },
      }),
    );
    const card = await timelineCard();
    expect(
      await card.findByText(/Could not load the timeline/),
    ).toBeInTheDocument();
    expect(card.getAllByText(/the database is down/).length).toBeGreaterThan(0);
  });

  it('spreads marks too close to tell apart, in order and inside the chart', () => {
    expect(spreadMarks([100, 100, 104, 300], 0, 1000)).toEqual([
      100, 109, 118, 300,
    ]);
    expect(spreadMarks([998, 1000, 1000], 0, 1000)).toEqual([982, 991, 1000]);
    expect(spreadMarks([], 0, 1000)).toEqual([]);
  });
});
