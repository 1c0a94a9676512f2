import type { Command } from 'commander';
import type { ImageHold } from '@gitops-workflow/plugin-gitops-common';
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

/** Each held component: its tag, who held it, when and why, and what automation would pick instead. */
function holds(list: ImageHold[]): string[] {
  return list.flatMap(hold => [
    `  - Component: ${hold.component}`,
    `    Held at: ${hold.image}:${hold.tag}${
      hold.digest ? `@${hold.digest}` : ''
    }`,
    `    By: ${hold.heldBy} at ${hold.heldAt}${
      hold.automatic && hold.failedTag
        ? ` (rolled back automatically from ${hold.failedTag})`
        : ''
    }`,
    ...(hold.reason ? [`    Reason: ${hold.reason}`] : []),
    ...(hold.wouldPick
      ? [`    Would pick: ${hold.wouldPick} (not committed until released)`]
      : []),
  ]);
}

/** What `vela status` prints: about, the workflow's steps, then the services per cluster; and our image holds. */
export function formatApplicationStatus(app: KubeObject): string {
  const status = (app.status ?? {}) as ApplicationStatus & {
    imageHolds?: ImageHold[];
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
  if (status.imageHolds?.length)
    lines.push('', 'Image holds:', '', ...holds(status.imageHolds));
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
