/**
 * Keeps secrets out of everything the CLI prints. A secret is the value of
 * an environment variable whose name says it is one (GITOPS_TOKEN, any
 * `*_TOKEN`, `*PASSWORD*`, `*SECRET*`, `*_KEY`), or a value registered here
 * (e.g. `--token` given on the command line); each is replaced by `***`,
 * as are credentials written into a URL (`https://user:pw@host`).
 */
const SECRET_NAME = /TOKEN|PASSWORD|PASSWD|SECRET|_KEY$|^KEY$/i;

/** Shorter values would mask ordinary words ("1", "dev") in messages. */
const MIN_LENGTH = 4;

const registered = new Set<string>();

/** Adds a value to mask, e.g. a token passed as an argument. */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= MIN_LENGTH) registered.add(value);
}

function secretValues(env: NodeJS.ProcessEnv): string[] {
  const values = new Set(registered);
  for (const [name, value] of Object.entries(env)) {
    if (value && value.length >= MIN_LENGTH && SECRET_NAME.test(name)) {
      values.add(value);
    }
  }
  // Longest first, so a secret that contains another is masked whole.
  return [...values].sort((a, b) => b.length - a.length);
}

export function redactSecrets(
  text: string,
  env: NodeJS.ProcessEnv = process.env,
): string {
  let out = text.replace(/(\/\/)[^/@\s]+@/g, '$1***@');
  for (const value of secretValues(env)) out = out.split(value).join('***');
  return out;
}
