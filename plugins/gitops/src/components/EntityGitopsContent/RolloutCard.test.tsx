import { RolloutStatus } from '@gitops-workflow/plugin-gitops-common';
import { configure, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import {
  annotated,
  app,
  canaryRollout,
  enabled,
  render,
  responseError,
  stubApi,
} from './__testUtils__/testing';

// The tab is large: role queries skip the (slow) visibility check, and the
// backend's answers may take a while on a loaded machine.
configure({ defaultHidden: true, asyncUtilTimeout: 10_000 });
jest.setTimeout(60_000);

const REF = { namespace: 'default', name: 'first-vela-workflow' };
const PROMOTE = 'Promote the rollout of test-server on local';
const ABORT = 'Abort the rollout of test-server on local';

function withRollouts(...rollouts: RolloutStatus[]) {
  return stubApi({ getApplication: async () => ({ ...app, rollouts }) });
}

/** The cells of the analysis row of check `name`. */
function analysisRow(name: string) {
  const table = screen.getByRole('table', {
    name: 'Analysis of test-server on local',
  });
  const row = within(table).getByText(name).closest('tr')!;
  return within(row)
    .getAllByRole('cell')
    .map(cell => cell.textContent);
}

describe('progressive rollouts in the GitOps tab', () => {
  it('shows a canary at step 2 of 3 with half the traffic, both images and each analysis result', async () => {
    await render(annotated, withRollouts(canaryRollout));
    const rollout = await screen.findByRole('region', {
      name: 'Rollout of test-server on local',
    });
    expect(rollout).toHaveTextContent(
      'step 2 of 3 at 50% of traffic on the canary',
    );
    expect(
      within(rollout).getByRole('progressbar', {
        name: 'Traffic on the canary of test-server',
      }),
    ).toHaveAttribute('aria-valuenow', '50');
    expect(rollout).toHaveTextContent(
      'progressing: shifting traffic to the canary step by step',
    );
    expect(rollout).toHaveTextContent(
      /Stable\s*registry\.local\/test-server:1\.0\.1/,
    );
    expect(rollout).toHaveTextContent(
      /Canary\s*registry\.local\/test-server:1\.0\.2/,
    );
    expect(rollout).toHaveTextContent(
      'failed checks 1 of 2: success rate 95.0% < 99%',
    );
    // Value against threshold, and whether it passed.
    expect(analysisRow('request-success-rate')).toEqual([
      'request-success-rate',
      '95.0%',
      '≥ 99%',
      'failed',
      expect.any(String),
      '',
    ]);
    expect(analysisRow('request-duration').slice(0, 4)).toEqual([
      'request-duration',
      '412 ms',
      '≤ 500 ms',
      'passed',
    ]);
    // A check without a value says why.
    expect(analysisRow('smoke-test')).toEqual([
      'smoke-test',
      'no value',
      '',
      'failed',
      expect.any(String),
      'The webhook http://127.0.0.1:9/check did not answer in 10 s',
    ]);
  });

  it('promotes with a reason after confirming, sends the rollout’s cluster and loads the Application again', async () => {
    const api = withRollouts(canaryRollout);
    api.promoteRollout.mockImplementation(async () => ({
      rollout: {
        ...canaryRollout,
        phase: 'healthy',
        canaryWeight: 0,
        message: 'promoted: 1.0.2 is stable',
      },
    }));
    await render(annotated, api);
    await userEvent.click(await enabled(PROMOTE));
    const dialog = await screen.findByRole('dialog', {
      name: 'Promote the rollout of test-server on local?',
    });
    expect(dialog).toHaveTextContent(
      "The canary's version (registry.local/test-server:1.0.2) becomes stable now",
    );
    const loads = api.getApplication.mock.calls.length;
    await userEvent.click(
      within(dialog).getByRole('textbox', { name: /Reason/ }),
    );
    await userEvent.paste('error budget is fine');
    await userEvent.click(
      within(dialog).getByRole('button', { name: 'Promote' }),
    );
    expect(api.promoteRollout).toHaveBeenCalledWith(REF, 'test-server', {
      cluster: 'local',
      reason: 'error budget is fine',
    });
    expect(await screen.findByRole('status')).toHaveTextContent(
      'Promoted the rollout of test-server on local: promoted: 1.0.2 is stable',
    );
    await waitFor(() =>
      expect(screen.queryByRole('dialog')).not.toBeInTheDocument(),
    );
    await waitFor(() =>
      expect(api.getApplication.mock.calls.length).toBeGreaterThan(loads),
    );
    expect(api.abortRollout).not.toHaveBeenCalled();
  });

  it('keeps the Abort dialog open with the backend’s words when the abort is refused', async () => {
    const refused = await responseError(
      409,
      'The rollout of test-server on local finished at 10:09: there is nothing to abort; roll the image back instead',
    );
    const api = withRollouts(canaryRollout);
    api.abortRollout.mockImplementation(async () => Promise.reject(refused));
    await render(annotated, api);
    await userEvent.click(await enabled(ABORT));
    const dialog = await screen.findByRole('dialog', {
      name: 'Abort the rollout of test-server on local?',
    });
    expect(dialog).toHaveTextContent(
      'All traffic goes back to the stable version (registry.local/test-server:1.0.1)',
    );
    await userEvent.click(
      within(dialog).getByRole('button', { name: 'Abort' }),
    );
    expect(await within(dialog).findByRole('alert')).toHaveTextContent(
      'Could not abort the rollout: The rollout of test-server on local finished at 10:09: there is nothing to abort; roll the image back instead',
    );
    expect(dialog).toBeInTheDocument();
    expect(api.abortRollout).toHaveBeenCalledWith(REF, 'test-server', {
      cluster: 'local',
      reason: undefined,
    });
  });

  it('offers no decision on a finished rollout, and says an aborted one is back on stable', async () => {
    const aborted: RolloutStatus = {
      ...canaryRollout,
      cluster: 'eu',
      phase: 'aborted',
      currentStep: undefined,
      canaryWeight: 0,
      message: 'aborted: success rate 95.0% < 99%',
    };
    await render(
      annotated,
      withRollouts({ ...canaryRollout, phase: 'healthy' }, aborted),
    );
    const onEu = await screen.findByRole('region', {
      name: 'Rollout of test-server on eu',
    });
    expect(onEu).toHaveTextContent(
      'aborted: all traffic is back on the stable version',
    );
    expect(onEu).toHaveTextContent('0% of traffic on the canary');
    expect(onEu).not.toHaveTextContent('step');
    expect(onEu).toHaveTextContent('aborted: success rate 95.0% < 99%');
    expect(
      screen.getByRole('region', { name: 'Rollout of test-server on local' }),
    ).toHaveTextContent('healthy: the new version is stable');
    expect(
      screen.queryByRole('button', { name: /^(Promote|Abort) the rollout/ }),
    ).not.toBeInTheDocument();
  });

  it('disables Promote and Abort, with the reason, for a user without gitops.rollout.decide', async () => {
    const api = withRollouts(canaryRollout);
    await render(annotated, api, name => name !== 'gitops.rollout.decide');
    const promote = await screen.findByRole('button', { name: PROMOTE });
    await waitFor(() =>
      expect(promote.parentElement).toHaveAttribute(
        'title',
        expect.stringContaining(
          'You are not allowed to promote or abort rollouts of default/first-vela-workflow (permission gitops.rollout.decide on component:default/first-vela-workflow)',
        ),
      ),
    );
    expect(promote).toBeDisabled();
    expect(screen.getByRole('button', { name: ABORT })).toBeDisabled();
    expect(
      await screen.findByText(
        /You are not allowed to promote or abort rollouts of default\/first-vela-workflow/,
      ),
    ).toBeInTheDocument();
    // The other actions stay the user's.
    expect(
      screen.getByRole('button', {
        name: 'Sync default/first-vela-workflow now',
      }),
    ).toBeEnabled();
    expect(api.promoteRollout).not.toHaveBeenCalled();
  });
});
