import type { Command } from 'commander';
import { registerSecret } from '../secrets';

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

/** POSTs to an Application's route of the gitops API; the backend's own sentence on failure. */
export async function postToApplication(
  flags: BackendFlags,
  app: string,
  route: string,
  body: object,
): Promise<any> {
  const url = `${flags.backend.replace(
    /\/$/,
    '',
  )}/api/gitops/applications/${encodeURIComponent(
    flags.namespace,
  )}/${encodeURIComponent(app)}/${route}`;
  const token = tokenOf(flags);
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  }).catch(error => {
    throw new Error(
      `could not reach the backend at ${flags.backend}: ${
        error.cause?.code ?? error.message
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
      .option('--step <name>', 'the suspended step to resume'),
  ).action(async (app: string, flags: BackendFlags & { step?: string }) => {
    const result = await postToApplication(
      flags,
      app,
      'workflow/resume',
      flags.step ? { step: flags.step } : {},
    );
    process.stdout.write(
      `Resumed step ${result.step} of ${flags.namespace}/${app}\n`,
    );
  });
}

export function registerRollbackCommand(program: Command): void {
  withBackendOptions(
    program
      .command('rollback <app>')
      .description(
        'Redeploy an earlier revision of an Application (default: the one before the current)',
      )
      .option('--revision <n>', 'the revision to redeploy', value =>
        Number(value),
      ),
  ).action(async (app: string, flags: BackendFlags & { revision?: number }) => {
    const result = await postToApplication(
      flags,
      app,
      'rollback',
      flags.revision ? { revision: flags.revision } : {},
    );
    process.stdout.write(
      `Rolling ${flags.namespace}/${app} back to revision ${result.revision}\n`,
    );
  });
}
