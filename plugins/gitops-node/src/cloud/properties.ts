import { childPath, Fields, invalid } from '../model/fields';
import { parseGoDuration } from '../util/duration';

/** An environment variable of the tofu process: a value, or a key of a Secret in the Application's namespace. */
export type TerraformEnv =
  | { name: string; value: string }
  | { name: string; secretKeyRef: { name: string; key: string } };

/** `properties` of a `terraform` component, checked and with defaults. */
export interface TerraformProperties {
  /** The configuration: inline (`main.tf`), or a directory of a Git branch. */
  source:
    | { hcl: string }
    | {
        git: { url: string; branch: string; path: string; secretRef?: string };
      };
  /** Input variables (written as `terraform.tfvars.json`, never on a command line). */
  variables: Record<string, unknown>;
  /** The Secret the outputs are written to, in the Application's namespace. */
  connectionSecret?: string;
  env: TerraformEnv[];
  approve: 'auto' | 'manual';
  deletionPolicy: 'Delete' | 'Retain';
  driftIntervalMs: number;
}

export const DEFAULT_DRIFT_INTERVAL_MS = 10 * 60_000;

const KEYS = [
  'source',
  'variables',
  'writeConnectionSecretToRef',
  'env',
  'approve',
  'deletionPolicy',
  'driftInterval',
];

/** A Kubernetes object name (DNS subdomain). */
const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
/** What a process environment variable may be called. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function oneOf<T extends string>(
  fields: Fields,
  key: string,
  allowed: readonly T[],
  fallback: T,
): T {
  const value = fields.optionalString(key) ?? fallback;
  if (!allowed.includes(value as T))
    invalid(
      fields.pathOf(key),
      `must be one of ${allowed.join(', ')}, got "${value}"`,
    );
  return value as T;
}

function secretName(fields: Fields, key: string): string {
  const name = fields.string(key);
  if (!NAME.test(name))
    invalid(fields.pathOf(key), `"${name}" is not a valid Secret name`);
  return name;
}

/** Reads and checks a `terraform` component's properties; every mistake names its field. */
export function readTerraformProperties(fields: Fields): TerraformProperties {
  fields.onlyKeys(KEYS);
  const source = fields.optionalMap('source');
  if (!source)
    invalid(fields.pathOf('source'), 'is required (source.hcl or source.git)');
  source.onlyKeys(['hcl', 'git']);
  const git = source.optionalMap('git');
  if (git === undefined) source.string('hcl');
  else if (source.has('hcl'))
    invalid(source.path, 'set either hcl or git, not both');
  git?.onlyKeys(['url', 'ref', 'path', 'secretRef']);
  const url = git?.string('url');
  if (url !== undefined && !/^https?:\/\//.test(url))
    invalid(git!.pathOf('url'), 'must be an http(s) URL');
  const variables = fields.optionalMap('variables')?.value ?? {};
  const ref = fields.optionalMap('writeConnectionSecretToRef');
  ref?.onlyKeys(['name']);
  const env = (fields.optionalList('env') ?? []).map((item, i) => {
    const entry = Fields.of(item, childPath(fields.pathOf('env'), i));
    entry.onlyKeys(['name', 'value', 'valueFrom']);
    const name = entry.string('name');
    if (!ENV_NAME.test(name))
      invalid(entry.pathOf('name'), `"${name}" is not a variable name`);
    const value = entry.optionalString('value');
    const from = entry.optionalMap('valueFrom');
    if ((value === undefined) === (from === undefined))
      invalid(entry.path, 'set either value or valueFrom.secretKeyRef');
    if (value !== undefined) return { name, value };
    from!.onlyKeys(['secretKeyRef']);
    const secret = from!.optionalMap('secretKeyRef');
    if (!secret) invalid(from!.pathOf('secretKeyRef'), 'is required');
    secret.onlyKeys(['name', 'key']);
    return {
      name,
      secretKeyRef: {
        name: secretName(secret, 'name'),
        key: secret.string('key'),
      },
    };
  });
  const drift = fields.optionalString('driftInterval');
  const properties: TerraformProperties = {
    source: git
      ? {
          git: {
            url: url!,
            branch: git.optionalString('ref') ?? 'main',
            path: git.optionalString('path') ?? '.',
            ...(git.has('secretRef')
              ? { secretRef: secretName(git, 'secretRef') }
              : {}),
          },
        }
      : { hcl: source.string('hcl') },
    variables,
    env,
    approve: oneOf(fields, 'approve', ['auto', 'manual'] as const, 'auto'),
    deletionPolicy: oneOf(
      fields,
      'deletionPolicy',
      ['Delete', 'Retain'] as const,
      'Delete',
    ),
    driftIntervalMs: drift
      ? parseGoDuration(drift, fields.pathOf('driftInterval'))
      : DEFAULT_DRIFT_INTERVAL_MS,
  };
  if (ref) properties.connectionSecret = secretName(ref, 'name');
  return properties;
}
