import { executeTemplate } from './exec';
import { parseTemplate } from './parse';

/** KubeVela's fixed commit prefix; CI filters the bot's own commits on it. */
export const DEFAULT_COMMIT_PREFIX = 'Update image automatically.';

/**
 * Renders the commit message as KubeVela does: the prefix, a newline and the
 * user's `commitMessage`, executed as one template (so a leading `{{-` in
 * the user's text trims that newline exactly as it would there). Errors
 * point at lines of the user's template.
 */
export function renderCommitMessage(
  template: string | undefined,
  data: unknown,
  prefix: string = DEFAULT_COMMIT_PREFIX,
): string {
  if (!template) return prefix;
  if (prefix.includes('\n') || prefix.includes('{{')) {
    // Positions are only shifted by one line, so the prefix must be one plain line.
    throw new TypeError(
      'commit prefix must be a single line without template actions',
    );
  }
  const parsed = parseTemplate(`${prefix}\n${template}`, {
    name: 'commitMessage',
    firstLine: 0,
  });
  return executeTemplate(parsed, data);
}

/** Parses and executes a Go text/template in one step. */
export function renderTemplate(
  source: string,
  data: unknown,
  name = 'template',
): string {
  return executeTemplate(parseTemplate(source, { name }), data);
}
