import { renderInTestApp } from '@backstage/test-utils';
import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { formatExactTime, formatRelativeTime, shortenRef } from './format';
import { RelativeTime } from './RelativeTime';
import { ShortRef } from './ShortRef';

const SHA = '3f1c2a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a';
const DIGEST = `sha256:${'0123456789abcdef'.repeat(4)}`;

describe('shortenRef', () => {
  it.each([
    [`master@sha1:${SHA}`, 'master@sha1:3f1c2a9'],
    [DIGEST, 'sha256:0123456789ab…'],
    [
      `127.0.0.1:5000/team/services/web:0.1.6@${DIGEST}`,
      '…/web:0.1.6@sha256:0123456789ab…',
    ],
    [
      '127.0.0.1:41235/gitops-demo/first-vela-workflow:master-3f1c2a9-1764590000',
      '…/first-vela-workflow:master-3f1c2a9-1764590000',
    ],
    ['registry.local/web:0.1.6', 'registry.local/web:0.1.6'],
  ])('%s → %s', (value, short) => {
    expect(shortenRef(value)).toBe(short);
  });

  it('keeps the start and end of any other long value', () => {
    const shortened = shortenRef(
      'a-very-long-branch-name-without-any-slash-in-it-at-all-0123456789',
    );
    expect(shortened.length).toBeLessThanOrEqual(48);
    expect(shortened).toMatch(/^a-very-long-branch.*….*0123456789$/);
  });
});

describe('formatRelativeTime', () => {
  const now = Date.parse('2026-12-01T12:00:00Z');
  it.each([
    ['2026-12-01T11:59:50Z', '10 seconds ago'],
    ['2026-12-01T11:57:00Z', '3 minutes ago'],
    ['2026-12-01T09:00:00Z', '3 hours ago'],
    ['2026-11-30T12:00:00Z', 'yesterday'],
    ['2026-11-23T12:00:00Z', '8 days ago'],
    ['2026-12-01T12:00:30Z', 'in 30 seconds'],
  ])('%s is %s', (iso, words) => {
    expect(formatRelativeTime(iso, now)).toBe(words);
  });
});

describe('RelativeTime and ShortRef', () => {
  it('shows a date relative to now, with the exact time on hover', async () => {
    const iso = new Date(Date.now() - 5 * 60_000).toISOString();
    await renderInTestApp(<RelativeTime iso={iso} />);
    const time = screen.getByText('5 minutes ago');
    expect(time.tagName).toBe('TIME');
    expect(time).toHaveAttribute('dateTime', iso);
    expect(time).toHaveAttribute('title', formatExactTime(iso));
  });

  it('says what is missing instead of a date', async () => {
    await renderInTestApp(<RelativeTime missing="not yet" />);
    expect(screen.getByText('not yet')).toBeInTheDocument();
  });

  it('shortens a ref, shows it whole on hover and copies it whole', async () => {
    let copied: string | undefined;
    // jsdom has no clipboard: the copy is the selection at execCommand('copy').
    document.execCommand = jest.fn(command => {
      if (command === 'copy') copied = document.getSelection()?.toString();
      return true;
    });
    const image = `127.0.0.1:5000/team/services/web:0.1.6@${DIGEST}`;
    await renderInTestApp(<ShortRef value={image} label="image" />);
    const short = screen.getByText('…/web:0.1.6@sha256:0123456789ab…');
    expect(short).toHaveAttribute('title', image);
    await userEvent.click(
      screen.getByRole('button', { name: `Copy ${image}` }),
    );
    expect(copied).toBe(image);
  });
});
