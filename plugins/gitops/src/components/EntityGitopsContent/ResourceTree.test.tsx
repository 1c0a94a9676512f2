import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { ResourceTreeNode } from '@gitops-workflow/plugin-gitops-common';
import {
  annotated,
  render,
  responseError,
  stubApi,
  tree,
} from './__testUtils__/testing';

const item = (name: string) => screen.getByRole('treeitem', { name });

describe('ResourceTree', () => {
  it('shows Application → component → Deployment → ReplicaSet → Pods with health and messages', async () => {
    const api = stubApi();
    await render(annotated, api);
    expect(
      await screen.findByRole('tree', {
        name: 'Resource tree of default/first-vela-workflow',
      }),
    ).toBeInTheDocument();
    expect(api.getResourceTree).toHaveBeenCalledWith({
      namespace: 'default',
      name: 'first-vela-workflow',
    });

    const application = item('Application default/first-vela-workflow');
    const component = within(application).getByRole('treeitem', {
      name: 'Component test-server',
    });
    const deployment = within(component).getByRole('treeitem', {
      name: 'Deployment default/test-server',
    });
    const replicaSet = within(deployment).getByRole('treeitem', {
      name: 'ReplicaSet default/test-server-7c9f8d6b5',
    });
    const ready = within(replicaSet).getByRole('treeitem', {
      name: 'Pod default/test-server-7c9f8d6b5-x2k4q',
    });
    const crashing = within(replicaSet).getByRole('treeitem', {
      name: 'Pod default/test-server-7c9f8d6b5-m8z1p',
    });
    expect(ready).toHaveAttribute('aria-level', '5');
    expect(within(ready).getByText('Current')).toBeInTheDocument();
    expect(within(ready).getByText('Pod is Ready')).toBeInTheDocument();
    expect(within(crashing).getByText('Failed')).toBeInTheDocument();
    expect(
      within(crashing).getByText(
        'Container test-server is in CrashLoopBackOff',
      ),
    ).toBeInTheDocument();
    // The Deployment's older ReplicaSets are counted, not listed.
    expect(
      within(deployment).getByText('+4 more not shown'),
    ).toBeInTheDocument();
    // Health rolls up: the component and the Application say what is wrong.
    expect(
      within(application).getAllByText('test-server: Ready:1/2')[0],
    ).toBeInTheDocument();
    expect(
      within(component).getByRole('treeitem', {
        name: 'Service default/test-server',
      }),
    ).toHaveTextContent('Service is ready');
  });

  it('collapses and expands a node', async () => {
    await render(annotated, stubApi());
    await screen.findByRole('tree');
    const deployment = item('Deployment default/test-server');
    expect(deployment).toHaveAttribute('aria-expanded', 'true');
    await userEvent.click(
      within(deployment).getByRole('button', {
        name: 'Collapse Deployment default/test-server',
      }),
    );
    expect(deployment).toHaveAttribute('aria-expanded', 'false');
    expect(
      screen.queryByRole('treeitem', {
        name: 'ReplicaSet default/test-server-7c9f8d6b5',
      }),
    ).not.toBeInTheDocument();
    await userEvent.click(
      within(deployment).getByRole('button', {
        name: 'Expand Deployment default/test-server',
      }),
    );
    expect(
      item('ReplicaSet default/test-server-7c9f8d6b5'),
    ).toBeInTheDocument();
  });

  it('starts a node with many children collapsed, and says when a component has no objects yet', async () => {
    const pods: ResourceTreeNode[] = Array.from({ length: 12 }, (_, i) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      namespace: 'default',
      name: `worker-${i}`,
      health: 'Current',
      message: 'Pod is Ready',
      children: [],
    }));
    const wide = structuredClone(tree);
    wide.components[0].objects[0].children[0].children = pods;
    await render(annotated, stubApi({ getResourceTree: async () => wide }));
    await screen.findByRole('tree');
    expect(item('ReplicaSet default/test-server-7c9f8d6b5')).toHaveAttribute(
      'aria-expanded',
      'false',
    );
    expect(
      screen.queryByRole('treeitem', { name: 'Pod default/worker-0' }),
    ).not.toBeInTheDocument();
    expect(
      within(item('Component deploy')).getByText(
        'No objects applied yet: they appear after its first sync',
      ),
    ).toBeInTheDocument();
  });

  it("says why a node's children could not be read", async () => {
    const broken = structuredClone(tree);
    broken.components[0].objects[0].childrenError =
      'Could not read its ReplicaSets and Pods: GET /apis/apps/v1/namespaces/default/replicasets: forbidden';
    await render(annotated, stubApi({ getResourceTree: async () => broken }));
    expect(
      await screen.findByText(
        /Could not read its ReplicaSets and Pods: .*forbidden/,
      ),
    ).toBeInTheDocument();
  });

  it("shows the backend's error when the tree cannot be loaded", async () => {
    const error = await responseError(
      503,
      'Could not read Application default/first-vela-workflow from cluster "local": connect ECONNREFUSED',
    );
    await render(
      annotated,
      stubApi({
        getResourceTree: async () => {
          throw error;
        },
      }),
    );
    expect(
      await screen.findByText(/Could not load the resource tree/),
    ).toBeInTheDocument();
    await waitFor(() =>
      expect(
        screen.getAllByText(/connect ECONNREFUSED/).length,
      ).toBeGreaterThan(0),
    );
  });
});
