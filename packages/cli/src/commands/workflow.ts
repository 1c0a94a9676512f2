import type { Command } from 'commander';
import type {
  AuditEntry,
  ImageHoldResponse,
  Page,
} from '@gitops-workflow/plugin-gitops-common';
import { registerSecret } from '../secrets';
import { formatColumns } from './table';

/** How long the backend may take to answer one request. */
const BACKEND_TIMEOUT_MS = 60_000;

interface BackendFlags {
  backend: string;
  token?: string;
  namespace: string;
}

/**
 * Options for the commands that act through the gitops backend, which keeps
 * the workflow state: its URL, and a token Backstage accepts (e.g. a static
 * token from `backend.auth.externalAccess`).
 */
export function withBackendOptions(command: Command): Command {
  return (
    command
      .option(
        '-n, --namespace <namespace>',
        "the Application's namespace",
        'default',
      )
      .option(
        '--backend <url>',
        'the Backstage backend',
        process.env.GITOPS_BACKEND_URL ?? 'http://localhost:7007',
      )
      // No default value here: commander would print it in --help.
      .option(
        '--token <token>',
        'a token the backend accepts (default: the GITOPS_TOKEN environment variable)',
      )
  );
}

/** The token to send: `--token`, else GITOPS_TOKEN; registered so that no output shows it. */
function tokenOf(flags: BackendFlags): string | undefined {
  const token = flags.token ?? process.env.GITOPS_TOKEN;
  registerSecret(token);
  return token;
}

/** Calls an Application's route of the gitops API; the backend's own sentence on failure. */
async function callApplication(
  flags: BackendFlags,
  app: string,
  route: string,
  init: { method: 'GET' } | { method: 'POST'; body: object },
): Promise<any> {
  const url = `${flags.backend.replace(
    /\/$/,
    '',
  )}/api/gitops/applications/${encodeURIComponent(
    flags.namespace,
  )}/${encodeURIComponent(app)}/${route}`;
  const token = tokenOf(flags);
  const response = await fetch(url, {
    method: init.method,
    headers: {
      ...(init.method === 'POST' ? { 'content-type': 'application/json' } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: init.method === 'POST' ? JSON.stringify(init.body) : undefined,
    signal: AbortSignal.timeout(BACKEND_TIMEOUT_MS),
  }).catch(error => {
    throw new Error(
      `could not reach the backend at ${flags.backend}: ${
        error.name === 'TimeoutError'
          ? `no answer within ${BACKEND_TIMEOUT_MS / 1000} s`
          : error.cause?.code ?? error.message
      }`,
    );
  });
  const text = await response.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!response.ok) {
    throw new Error(
      json?.error?.message ??
        `the backend answered ${response.status} ${response.statusText}`,
    );
  }
  return json;
}

/** POSTs to an Application's route of the gitops API. */
export function postToApplication(
  flags: BackendFlags,
  app: string,
  route: string,
  body: object,
): Promise<any> {
  return callApplication(flags, app, route, { method: 'POST', body });
}

/** The optional `reason` of a request, only when given. */
const withReason = (body: object, reason?: string) =>
  reason ? { ...body, reason } : body;

export function registerWorkflowCommand(program: Command): void {
  const workflow = program
    .command('workflow')
    .description("Act on an Application's delivery workflow");
  withBackendOptions(
    workflow
      .command('resume <app>')
      .description(
        'Resume the step waiting in suspend (or the one named with --step)',
      )
      .option('--step <name>', 'the suspended step to resume')
      .option('--reason <text>', 'why, for the audit trail'),
  ).action(
    async (
      app: string,
      flags: BackendFlags & { step?: string; reason?: string },
    ) => {
      const result = await postToApplication(
        flags,
        app,
        'workflow/resume',
        withReason(flags.step ? { step: flags.step } : {}, flags.reason),
      );
      process.stdout.write(
        `Resumed step ${result.step} of ${flags.namespace}/${app}\n`,
      );
    },
  );
}

type RollbackFlags = BackendFlags & {
  revision?: number;
  component?: string;
  to?: string;
  reason?: string;
};

/** What a hold means, in the CLI's words. */
function describeHold({ hold }: ImageHoldResponse): string {
  return `${hold.image}:${hold.tag} (held by ${hold.heldBy}${
    hold.reason ? `: ${hold.reason}` : ''
  })`;
}

export function registerRollbackCommand(program: Command): void {
  withBackendOptions(
    program
      .command('rollback <app>')
      .description(
        "Roll a component's image back to a tag it ran and hold it there (--component, --to), " +
          'or redeploy an earlier revision of the workflow (default: the one before the current)',
      )
      .option(
        '--component <name>',
        'the kustomize component whose image to roll back',
      )
      .option('--to <tag>', 'the tag to roll the image back to')
      .option('--revision <n>', 'the workflow revision to redeploy', value =>
        Number(value),
      )
      .option('--reason <text>', 'why, for the audit trail and the commit'),
  ).action(async (app: string, flags: RollbackFlags) => {
    const name = `${flags.namespace}/${app}`;
    if (flags.component || flags.to) {
      if (!flags.component || !flags.to)
        throw new Error(
          'an image rollback needs both --component and --to, e.g. --component web --to 0.1.5',
        );
      if (flags.revision)
        throw new Error(
          '--revision rolls back the workflow, --component and --to an image: use one or the other',
        );
      const result: ImageHoldResponse = await postToApplication(
        flags,
        app,
        `images/${encodeURIComponent(flags.component)}/rollback`,
        withReason({ to: flags.to }, flags.reason),
      );
      process.stdout.write(
        `Rolling ${flags.component} of ${name} back to ${describeHold(
          result,
        )}; automation keeps it there until \`gitops release\`\n`,
      );
      return;
    }
    const result = await postToApplication(
      flags,
      app,
      'rollback',
      withReason(
        flags.revision ? { revision: flags.revision } : {},
        flags.reason,
      ),
    );
    process.stdout.write(
      `Rolling ${name} back to revision ${result.revision}; it stays until \`gitops release ${app}\`\n`,
    );
  });
}

export function registerReleaseCommand(program: Command): void {
  withBackendOptions(
    program
      .command('release <app>')
      .description(
        "Release the hold on a component's image (--component): automation picks the newest tag again; " +
          'without --component, release a rolled-back workflow revision: the current spec deploys again',
      )
      .option('--component <name>', 'the held kustomize component')
      .option('--reason <text>', 'why, for the audit trail and the commit'),
  ).action(
    async (
      app: string,
      flags: BackendFlags & { component?: string; reason?: string },
    ) => {
      if (!flags.component) {
        const released = await postToApplication(
          flags,
          app,
          'rollback/release',
          withReason({}, flags.reason),
        );
        process.stdout.write(
          `Released ${flags.namespace}/${app} from revision ${released.revision}; its current spec deploys at once\n`,
        );
        return;
      }
      const result: ImageHoldResponse = await postToApplication(
        flags,
        app,
        `images/${encodeURIComponent(flags.component)}/release`,
        withReason({}, flags.reason),
      );
      process.stdout.write(
        `Released ${flags.component} of ${
          flags.namespace
        }/${app} from ${describeHold(
          result,
        )}; automation picks the newest tag at once\n`,
      );
    },
  );
}

/** The audit trail as a table, newest first. */
export function formatAuditTable(page: Page<AuditEntry>): string {
  const rows = [['TIME', 'ACTOR', 'ACTION', 'COMPONENT', 'SUMMARY', 'REASON']];
  for (const entry of page.items) {
    rows.push([
      entry.at.replace(/\.\d+Z$/, 'Z'),
      entry.actor,
      entry.action,
      entry.component ?? '',
      entry.summary,
      entry.reason ?? '',
    ]);
  }
  const more =
    page.totalCount > page.items.length
      ? `(${page.items.length} of ${page.totalCount}; --limit shows more)\n`
      : '';
  return formatColumns(rows) + more;
}

export function registerAuditCommand(program: Command): void {
  withBackendOptions(
    program
      .command('audit <app>')
      .description(
        'Who did what to an Application and why: sync, suspend, resume, rollback, release',
      )
      .option(
        '--limit <n>',
        'how many entries, newest first (up to 500)',
        value => Number(value),
        50,
      ),
  ).action(async (app: string, flags: BackendFlags & { limit: number }) => {
    const page: Page<AuditEntry> = await callApplication(
      flags,
      app,
      `audit?limit=${flags.limit}`,
      { method: 'GET' },
    );
    process.stdout.write(formatAuditTable(page));
  });
}
