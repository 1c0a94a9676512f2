import { formatApplicationStatus } from './status';

describe('formatApplicationStatus', () => {
  it('prints the workflow steps and the services per cluster, like vela status', () => {
    const text = formatApplicationStatus({
      apiVersion: 'core.oam.dev/v1beta1',
      kind: 'Application',
      metadata: {
        name: 'shop',
        namespace: 'default',
        creationTimestamp: '2026-11-23T10:00:00Z',
      },
      status: {
        status: 'workflowSuspending',
        workflow: {
          mode: 'StepByStep-DAG',
          suspend: true,
          steps: [
            { name: 'deploy-staging', type: 'deploy', phase: 'succeeded' },
            {
              name: 'approval',
              type: 'suspend',
              phase: 'suspending',
              message: 'waiting for a person',
            },
          ],
        },
        services: [
          {
            name: 'web',
            namespace: 'default',
            cluster: 'staging',
            healthy: true,
            message: 'Ready:1/1',
            traits: [{ type: 'scaler', healthy: true }],
          },
        ],
      },
    });
    expect(text).toContain('  Status:     workflowSuspending\n');
    expect(text).toContain('  suspend: true\n');
    expect(text).toContain(
      '  - name: approval\n    type: suspend\n    phase: suspending\n    message: waiting for a person\n',
    );
    expect(text).toContain(
      '  - Name: web\n    Cluster: staging  Namespace: default\n    Healthy Ready:1/1\n    Traits:\n      ✅ scaler\n',
    );
  });

  it('says when nothing has reconciled the Application yet', () => {
    const text = formatApplicationStatus({
      apiVersion: 'core.oam.dev/v1beta1',
      kind: 'Application',
      metadata: { name: 'fresh', namespace: 'default' },
    });
    expect(text).toContain('Status:     not reconciled yet');
    expect(text).toContain('Services:\n\n  none reported yet\n');
  });

  it('lists the image holds: the tag, who held it and why, and what automation would pick', () => {
    const text = formatApplicationStatus({
      apiVersion: 'core.oam.dev/v1beta1',
      kind: 'Application',
      metadata: { name: 'git-app', namespace: 'default' },
      status: {
        status: 'running',
        services: [],
        imageHolds: [
          {
            component: 'gitops',
            image: 'registry.local/gitops',
            tag: '0.1.5',
            heldBy: 'user:default/jane',
            heldAt: '2026-12-01T10:00:00.000Z',
            reason: '0.1.6 leaks memory',
            automatic: false,
            wouldPick: '0.1.6',
          },
        ],
      },
    });
    expect(text).toContain(
      [
        'Image holds:',
        '',
        '  - Component: gitops',
        '    Held at: registry.local/gitops:0.1.5',
        '    By: user:default/jane at 2026-12-01T10:00:00.000Z',
        '    Reason: 0.1.6 leaks memory',
        '    Would pick: 0.1.6 (not committed until released)',
        '',
      ].join('\n'),
    );
  });
});
