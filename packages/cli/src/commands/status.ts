import type { Command } from 'commander';
import {
  APPLICATION_GVK,
  KubeClient,
  type ApplicationStatus,
  type KubeObject,
} from '@gitops-workflow/plugin-gitops-node';

interface WorkflowStepStatus {
  name: string;
  type?: string;
  phase?: string;
  message?: string;
  reason?: string;
  subSteps?: WorkflowStepStatus[];
}

function steps(list: WorkflowStepStatus[], indent: string): string[] {
  return list.flatMap(step => [
    `${indent}- name: ${step.name}`,
    `${indent}  type: ${step.type ?? ''}`,
    `${indent}  phase: ${step.phase ?? ''}`,
    ...(step.reason ? [`${indent}  reason: ${step.reason}`] : []),
    ...(step.message ? [`${indent}  message: ${step.message}`] : []),
    ...(step.subSteps?.length
      ? [`${indent}  subSteps:`, ...steps(step.subSteps, `${indent}    `)]
      : []),
  ]);
}

/** What `vela status` prints: about, the workflow's steps, then the services per cluster. */
export function formatApplicationStatus(app: KubeObject): string {
  const status = (app.status ?? {}) as ApplicationStatus & {
    workflow?: {
      mode?: string;
      finished?: boolean;
      suspend?: boolean;
      terminated?: boolean;
      steps?: WorkflowStepStatus[];
    };
  };
  const lines = [
    'About:',
    '',
    `  Name:       ${app.metadata.name}`,
    `  Namespace:  ${app.metadata.namespace ?? ''}`,
    `  Created at: ${app.metadata.creationTimestamp ?? ''}`,
    `  Status:     ${status.status ?? 'not reconciled yet'}`,
    '',
  ];
  const workflow = status.workflow;
  if (workflow) {
    lines.push(
      'Workflow:',
      '',
      `  mode: ${workflow.mode ?? ''}`,
      `  finished: ${Boolean(workflow.finished)}`,
      `  suspend: ${Boolean(workflow.suspend)}`,
      `  terminated: ${Boolean(workflow.terminated)}`,
      '  steps:',
      ...steps(workflow.steps ?? [], '  '),
      '',
    );
  }
  lines.push('Services:', '');
  for (const service of status.services ?? []) {
    lines.push(
      `  - Name: ${service.name}`,
      `    Cluster: ${service.cluster ?? 'local'}  Namespace: ${
        service.namespace ?? ''
      }`,
      `    ${service.healthy ? 'Healthy' : 'Unhealthy'} ${
        service.message ?? ''
      }`.trimEnd(),
      ...(service.traits?.length
        ? [
            '    Traits:',
            ...service.traits.map(
              t =>
                `      ${t.healthy ? '✅' : '❌'} ${t.type}${
                  t.message ? `: ${t.message}` : ''
                }`,
            ),
          ]
        : ['    No trait applied']),
    );
  }
  if (!status.services?.length) lines.push('  none reported yet');
  return `${lines.join('\n')}\n`;
}

export function registerStatusCommand(program: Command): void {
  program
    .command('status <app>')
    .description(
      "Show an Application's workflow and services from the cluster, like `vela status`",
    )
    .option(
      '-n, --namespace <namespace>',
      "the namespace (default: the kubeconfig context's)",
    )
    .option(
      '--kubeconfig <file>',
      'kubeconfig file (default: KUBECONFIG, then ~/.kube/config)',
    )
    .option('--context <name>', 'kubeconfig context')
    .action(
      async (
        name: string,
        flags: { namespace?: string; kubeconfig?: string; context?: string },
      ) => {
        const client = KubeClient.fromKubeconfigFile(
          flags.kubeconfig,
          flags.context,
        );
        try {
          const namespace = flags.namespace ?? client.contextNamespace;
          const app = await client.get({ ...APPLICATION_GVK, namespace, name });
          if (!app)
            throw new Error(
              `No Application ${namespace}/${name} in the cluster`,
            );
          process.stdout.write(formatApplicationStatus(app));
        } finally {
          client.close();
        }
      },
    );
}
