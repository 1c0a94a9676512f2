import { InputError } from '@backstage/errors';

/** Throws the validation error every parser here uses: the field path, then why. */
export function invalid(path: string, reason: string): never {
  throw new InputError(`${path}: ${reason}`);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (isRecord(value)) return 'a map';
  return `a ${typeof value}`;
}

/** `a.b` for identifier-like keys, `a["/"]` for others, so paths stay unambiguous. */
export function childPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)
    ? `${path}.${key}`
    : `${path}[${JSON.stringify(key)}]`;
}

/**
 * Typed, path-aware reads from a user-supplied map: every mistake becomes an
 * InputError that names the exact field and what was expected.
 */
export class Fields {
  static of(value: unknown, path: string): Fields {
    if (value === undefined || value === null) return new Fields({}, path);
    if (!isRecord(value)) invalid(path, `must be a map, got ${kindOf(value)}`);
    return new Fields(value, path);
  }

  private constructor(
    readonly value: Record<string, unknown>,
    readonly path: string,
  ) {}

  pathOf(key: string): string {
    return childPath(this.path, key);
  }

  has(key: string): boolean {
    return this.value[key] !== undefined && this.value[key] !== null;
  }

  string(key: string): string {
    const value = this.optionalString(key);
    if (value === undefined) invalid(this.pathOf(key), 'is required');
    return value;
  }

  optionalString(key: string): string | undefined {
    const value = this.value[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string') {
      invalid(this.pathOf(key), `must be a string, got ${kindOf(value)}`);
    }
    return value;
  }

  /** Kubernetes quantities (`cpu: 0.5`, `memory: "512Mi"`) may be written as numbers or strings. */
  optionalQuantity(key: string): string | undefined {
    const value = this.value[key];
    if (typeof value === 'number' && Number.isFinite(value))
      return String(value);
    return this.optionalString(key);
  }

  optionalInt(
    key: string,
    range: { min?: number; max?: number } = {},
  ): number | undefined {
    const value = this.value[key];
    if (value === undefined || value === null) return undefined;
    return checkInt(value, this.pathOf(key), range);
  }

  optionalBoolean(key: string): boolean | undefined {
    const value = this.value[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'boolean') {
      invalid(this.pathOf(key), `must be true or false, got ${kindOf(value)}`);
    }
    return value;
  }

  optionalStringList(key: string): string[] | undefined {
    const list = this.optionalList(key);
    return list?.map((item, i) => {
      if (typeof item !== 'string') {
        invalid(
          childPath(this.pathOf(key), i),
          `must be a string, got ${kindOf(item)}`,
        );
      }
      return item;
    });
  }

  optionalStringMap(key: string): Record<string, string> | undefined {
    const map = this.optionalMap(key);
    if (!map) return undefined;
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(map.value)) {
      if (typeof v !== 'string') {
        invalid(map.pathOf(k), `must be a string, got ${kindOf(v)}`);
      }
      out[k] = v;
    }
    return out;
  }

  optionalList(key: string): unknown[] | undefined {
    const value = this.value[key];
    if (value === undefined || value === null) return undefined;
    if (!Array.isArray(value)) {
      invalid(this.pathOf(key), `must be a list, got ${kindOf(value)}`);
    }
    return value;
  }

  optionalMap(key: string): Fields | undefined {
    const value = this.value[key];
    if (value === undefined || value === null) return undefined;
    return Fields.of(value, this.pathOf(key));
  }

  /** Rejects keys nobody reads, so a typo (`replica:`) is an error instead of a silent no-op. */
  onlyKeys(allowed: readonly string[]): void {
    for (const key of Object.keys(this.value)) {
      if (!allowed.includes(key)) {
        invalid(
          this.pathOf(key),
          `is not a known field (known: ${allowed.join(', ')})`,
        );
      }
    }
  }
}

export function checkInt(
  value: unknown,
  path: string,
  { min, max }: { min?: number; max?: number } = {},
): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    invalid(path, `must be an integer, got ${kindOf(value)}`);
  }
  if (min !== undefined && value < min)
    invalid(path, `must be at least ${min}, got ${value}`);
  if (max !== undefined && value > max)
    invalid(path, `must be at most ${max}, got ${value}`);
  return value;
}
