import type { Command } from 'commander';
import {
  KubeClient,
  listApplications,
  type ApplicationStatus,
  type KubeObject,
} from '@gitops-workflow/plugin-gitops-node';
import { formatColumns } from './table';

interface LsFlags {
  namespace?: string;
  allNamespaces?: boolean;
  kubeconfig?: string;
  context?: string;
}

/** Go's `time.Time.String()` in UTC, the format `vela ls` prints. */
function goTime(timestamp: string | undefined): string {
  if (!timestamp) return '';
  const d = new Date(timestamp);
  if (Number.isNaN(d.getTime())) return timestamp;
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(
    d.getUTCDate(),
  )} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(
    d.getUTCSeconds(),
  )} +0000 UTC`;
}

/** `vela ls` words; empty before a controller has reported the component. */
function healthWord(healthy: boolean | undefined): string {
  if (healthy === undefined) return '';
  return healthy ? 'healthy' : 'unhealthy';
}

type Component = {
  name?: string;
  type?: string;
  traits?: Array<{ type?: string }>;
};

/**
 * The `vela ls` table: one row per component; the app's name on its first
 * row, tree marks on the others; NAMESPACE first with all namespaces.
 */
export function formatApplicationTable(
  apps: KubeObject[],
  allNamespaces: boolean,
): string {
  const header = [
    'APP',
    'COMPONENT',
    'TYPE',
    'TRAITS',
    'PHASE',
    'HEALTHY',
    'STATUS',
    'CREATED-TIME',
  ];
  const rows: string[][] = [allNamespaces ? ['NAMESPACE', ...header] : header];
  const sorted = [...apps].sort((a, b) =>
    `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(
      `${b.metadata.namespace}/${b.metadata.name}`,
    ),
  );
  for (const app of sorted) {
    const spec = (app.spec ?? {}) as { components?: Component[] };
    const status = (app.status ?? {}) as ApplicationStatus;
    const components = spec.components ?? [];
    // Deleted, waiting for its objects to go: the phase and what is left, from the first moment.
    const deleting = Boolean(app.metadata.deletionTimestamp);
    const left = status.appliedResources?.length ?? 0;
    components.forEach((component, i) => {
      const service = status.services?.find(s => s.name === component.name);
      let appCell = app.metadata.name;
      if (i > 0) appCell = i === components.length - 1 ? '└─' : '├─';
      const row = [
        appCell,
        component.name ?? '',
        component.type ?? '',
        (component.traits ?? []).map(t => t.type ?? '').join(','),
        deleting ? 'deleting' : status.status ?? '',
        healthWord(service?.healthy),
        deleting && i === 0
          ? `${left} object${left === 1 ? '' : 's'} left to delete`
          : service?.message ?? '',
        goTime(app.metadata.creationTimestamp as string | undefined),
      ];
      rows.push(allNamespaces ? [app.metadata.namespace ?? '', ...row] : row);
    });
  }
  return formatColumns(rows);
}

export function registerLsCommand(program: Command): void {
  program
    .command('ls')
    .description(
      'List Applications and their components from the cluster, like `vela ls`',
    )
    .option(
      '-n, --namespace <namespace>',
      "the namespace (default: the kubeconfig context's)",
    )
    .option('-A, --all-namespaces', 'list Applications in every namespace')
    .option(
      '--kubeconfig <file>',
      'kubeconfig file (default: KUBECONFIG, then ~/.kube/config)',
    )
    .option('--context <name>', 'kubeconfig context')
    .action(async (flags: LsFlags) => {
      if (flags.namespace && flags.allNamespaces) {
        throw new Error('use either --namespace or --all-namespaces, not both');
      }
      const client = KubeClient.fromKubeconfigFile(
        flags.kubeconfig,
        flags.context,
      );
      try {
        const namespace = flags.allNamespaces
          ? undefined
          : flags.namespace ?? client.contextNamespace;
        const apps = await listApplications(client, namespace);
        process.stdout.write(
          formatApplicationTable(apps, Boolean(flags.allNamespaces)),
        );
      } finally {
        client.close();
      }
    });
}
