import { CloudResourceStatus } from '@gitops-workflow/plugin-gitops-common';
import { configure, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import {
  annotated,
  app,
  cloudResource,
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
const APPROVE = 'Approve the plan of orders-db';

/** A backend whose component an approval moves on to applying, as ours does. */
function statefulApi() {
  let resource: CloudResourceStatus = cloudResource;
  return stubApi({
    getApplication: async () => ({ ...app, cloudResources: [resource] }),
    approveCloudPlan: async () => {
      resource = {
        ...resource,
        state: 'applying',
        message: 'Applying: 2 to add, 1 to change, 0 to destroy',
      };
      return { resource };
    },
  });
}

describe('cloud resources in the GitOps tab', () => {
  it('shows the plan summary, outputs by name with sensitive ones hidden, the connection Secret and drift', async () => {
    await render(annotated, statefulApi());
    const card = await screen.findByRole('region', {
      name: 'Cloud resource orders-db',
    });
    expect(card).toHaveTextContent(
      'waiting for approval: the plan is applied once someone approves it',
    );
    expect(within(card).getByText('+2 ~1 −0')).toBeInTheDocument();
    expect(
      within(card).getByLabelText('2 to add, 1 to change, 0 to destroy'),
    ).toBeInTheDocument();
    const outputs = within(card)
      .getAllByRole('listitem')
      .map(item => item.textContent);
    expect(outputs).toEqual(['host: 127.0.0.1', 'password: sensitive']);
    // Not in the text, nor in any attribute (a tooltip's title).
    expect(document.body.innerHTML).not.toContain('s3cr3t-never-shown');
    expect(card).toHaveTextContent(/Connection Secret\s*orders-db-conn/i);
    expect(card).toHaveTextContent(
      /drifted \(checked .* ago\): terraform_data\.database: the database orders is gone/,
    );
    expect(card).toHaveTextContent(
      'Plan: 2 to add, 1 to change, 0 to destroy. Waiting for approval.',
    );
  });

  it('approves after confirming: the plan in words first, then the state moves on and Approve is gone', async () => {
    const api = statefulApi();
    await render(annotated, api);
    await userEvent.click(await enabled(APPROVE));
    const dialog = await screen.findByRole('dialog', {
      name: 'Approve the plan of orders-db?',
    });
    expect(dialog).toHaveTextContent(
      'OpenTofu applies the plan: 2 to add, 1 to change, 0 to destroy.',
    );
    await userEvent.click(
      within(dialog).getByRole('button', { name: 'Approve' }),
    );
    expect(api.approveCloudPlan).toHaveBeenCalledWith(REF, 'orders-db', {
      reason: undefined,
    });
    expect(await screen.findByRole('status')).toHaveTextContent(
      'Approved the plan of orders-db: Applying: 2 to add, 1 to change, 0 to destroy',
    );
    const card = screen.getByRole('region', {
      name: 'Cloud resource orders-db',
    });
    await waitFor(() => expect(card).toHaveTextContent('applying the plan'));
    expect(
      screen.queryByRole('button', { name: APPROVE }),
    ).not.toBeInTheDocument();
  });

  it('keeps the dialog open with the backend’s words when the approval is refused', async () => {
    const refused = await responseError(
      409,
      'orders-db has no plan waiting for approval: it was planned again at 10:10, look at the new plan first',
    );
    const api = statefulApi();
    api.approveCloudPlan.mockImplementation(async () =>
      Promise.reject(refused),
    );
    await render(annotated, api);
    await userEvent.click(await enabled(APPROVE));
    const dialog = await screen.findByRole('dialog', {
      name: 'Approve the plan of orders-db?',
    });
    await userEvent.click(
      within(dialog).getByRole('button', { name: 'Approve' }),
    );
    expect(await within(dialog).findByRole('alert')).toHaveTextContent(
      'Could not approve the plan: orders-db has no plan waiting for approval: it was planned again at 10:10, look at the new plan first',
    );
  });

  it('a ready component has no Approve; one never planned or checked says so', async () => {
    await render(
      annotated,
      stubApi({
        getApplication: async () => ({
          ...app,
          cloudResources: [
            {
              ...cloudResource,
              state: 'ready',
              drift: { checkedAt: '2026-11-23T10:05:00Z', drifted: false },
            },
            {
              component: 'cache',
              state: 'planning',
              outputs: [],
            },
          ],
        }),
      }),
    );
    const ready = await screen.findByRole('region', {
      name: 'Cloud resource orders-db',
    });
    expect(ready).toHaveTextContent('ready: applied, outputs written');
    expect(ready).toHaveTextContent(/no drift \(checked .* ago\)/);
    const planning = screen.getByRole('region', {
      name: 'Cloud resource cache',
    });
    expect(planning).toHaveTextContent(/Last plan\s*no plan yet/i);
    expect(planning).toHaveTextContent(/Outputs\s*none yet/i);
    expect(planning).toHaveTextContent(/Drift\s*not checked yet/i);
    expect(planning).toHaveTextContent(/Last applied\s*never/i);
    expect(
      screen.queryByRole('button', { name: /^Approve/ }),
    ).not.toBeInTheDocument();
  });

  it('disables Approve, with the reason, for a user without gitops.cloud.approve', async () => {
    const api = statefulApi();
    await render(annotated, api, name => name !== 'gitops.cloud.approve');
    const approve = await screen.findByRole('button', { name: APPROVE });
    await waitFor(() =>
      expect(approve.parentElement).toHaveAttribute(
        'title',
        expect.stringContaining(
          'You are not allowed to approve cloud resource plans of default/first-vela-workflow (permission gitops.cloud.approve on component:default/first-vela-workflow)',
        ),
      ),
    );
    expect(approve).toBeDisabled();
    expect(
      await screen.findByText(
        /You are not allowed to approve cloud resource plans of default\/first-vela-workflow/,
      ),
    ).toBeInTheDocument();
    expect(api.approveCloudPlan).not.toHaveBeenCalled();
  });
});
