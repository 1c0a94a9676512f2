/**
 * Go's fmt semantics for the values a template sees: `%v`/Sprint printing,
 * and the Printf verbs a commit message needs.
 */

/** A Go Stringer: any object with its own `toString`, e.g. an image reference. */
function isStringer(v: object): boolean {
  return (
    typeof (v as { toString?: unknown }).toString === 'function' &&
    (v as { toString: unknown }).toString !== Object.prototype.toString &&
    !Array.isArray(v) &&
    !(v instanceof Map)
  );
}

export function goTypeName(v: unknown): string {
  if (v === undefined || v === null) return '<nil>';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float64';
  if (Array.isArray(v)) return 'slice';
  if (v instanceof Map) return 'map';
  if (typeof v === 'function') return 'func';
  const ctor = (v as object).constructor;
  return ctor && ctor !== Object ? ctor.name : 'struct';
}

/** Go's `%g` with the shortest representation (JS and Go agree except the exponent's digits). */
function formatFloat(v: number): string {
  if (Number.isInteger(v) && Math.abs(v) < 1e21) return String(v);
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  const exp = Math.floor(Math.log10(Math.abs(v)));
  if (exp < -4 || exp >= 21) {
    const [mantissa, e] = v.toExponential().split('e');
    const sign = e.startsWith('-') ? '-' : '+';
    return `${mantissa}e${sign}${e.replace(/^[+-]/, '').padStart(2, '0')}`;
  }
  return String(v);
}

/** `fmt.Sprint` of one value (`%v`); `plus` is `%+v`, which names struct fields. */
export function formatValue(v: unknown, plus = false): string {
  if (v === undefined) return '<no value>';
  if (v === null) return '<nil>';
  switch (typeof v) {
    case 'string':
      return v;
    case 'number':
      return formatFloat(v);
    case 'boolean':
      return String(v);
    case 'function':
      return '<func>';
    default:
      break;
  }
  if (Array.isArray(v))
    return `[${v.map(e => formatValue(e, plus)).join(' ')}]`;
  if (v instanceof Map) {
    const entries = sortedEntries(v).map(
      ([k, e]) => `${formatValue(k, plus)}:${formatValue(e, plus)}`,
    );
    return `map[${entries.join(' ')}]`;
  }
  if (isStringer(v as object)) return String(v);
  const fields = Object.entries(v as object).map(([k, e]) =>
    plus ? `${k}:${formatValue(e, plus)}` : formatValue(e, plus),
  );
  return `{${fields.join(' ')}}`;
}

/** Map entries in Go's print/range order: keys sorted by value. */
export function sortedEntries(
  m: Map<unknown, unknown>,
): Array<[unknown, unknown]> {
  return [...m.entries()].sort(([a], [b]) => {
    if (typeof a === 'number' && typeof b === 'number') return a - b;
    const sa = formatValue(a);
    const sb = formatValue(b);
    if (sa < sb) return -1;
    return sa > sb ? 1 : 0;
  });
}

/** strconv.Quote: a double-quoted Go string literal. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    const named: Record<string, string> = {
      '\x07': '\\a',
      '\b': '\\b',
      '\f': '\\f',
      '\n': '\\n',
      '\r': '\\r',
      '\t': '\\t',
      '\v': '\\v',
      '\\': '\\\\',
      '"': '\\"',
    };
    if (named[ch]) out += named[ch];
    else if (cp < 0x20 || cp === 0x7f)
      out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else if (/[\p{C}]/u.test(ch)) {
      out +=
        cp > 0xffff
          ? `\\U${cp.toString(16).padStart(8, '0')}`
          : `\\u${cp.toString(16).padStart(4, '0')}`;
    } else out += ch;
  }
  return `${out}"`;
}

/** fmt.Sprint: spaces between operands when neither side is a string. */
export function sprint(args: unknown[]): string {
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string')
      out += ' ';
    out += formatValue(a);
  });
  return out;
}

export function sprintln(args: unknown[]): string {
  return `${args.map(a => formatValue(a)).join(' ')}\n`;
}

interface Spec {
  minus: boolean;
  plus: boolean;
  zero: boolean;
  space: boolean;
  sharp: boolean;
  width?: number;
  precision?: number;
}

function pad(s: string, spec: Spec, numeric: boolean): string {
  if (spec.width === undefined || s.length >= spec.width) return s;
  if (spec.minus) return s.padEnd(spec.width);
  if (spec.zero && numeric) {
    const sign = /^[+-]/.test(s) ? s[0] : '';
    return sign + s.slice(sign.length).padStart(spec.width - sign.length, '0');
  }
  return s.padStart(spec.width);
}

function badVerb(verb: string, v: unknown): string {
  return v === undefined || v === null
    ? `%!${verb}(<nil>)`
    : `%!${verb}(${goTypeName(v)}=${formatValue(v)})`;
}

function withSign(s: string, n: number, spec: Spec): string {
  if (n >= 0 && spec.plus) return `+${s}`;
  if (n >= 0 && spec.space) return ` ${s}`;
  return s;
}

function formatOne(verb: string, v: unknown, spec: Spec): string {
  switch (verb) {
    case 'v':
      return pad(
        spec.sharp && typeof v === 'string'
          ? goQuote(v)
          : formatValue(v, spec.plus),
        spec,
        false,
      );
    case 's':
    case 'q': {
      if (
        typeof v === 'number' ||
        typeof v === 'boolean' ||
        v === undefined ||
        v === null
      ) {
        if (verb === 'q' && typeof v === 'number' && Number.isInteger(v)) {
          return pad(`'${String.fromCodePoint(v)}'`, spec, false);
        }
        return badVerb(verb, v);
      }
      let s = formatValue(v);
      if (spec.precision !== undefined)
        s = [...s].slice(0, spec.precision).join('');
      if (verb === 'q')
        s = spec.sharp && !s.includes('`') ? `\`${s}\`` : goQuote(s);
      return pad(s, spec, false);
    }
    case 'd':
    case 'x':
    case 'X':
    case 'o':
    case 'b':
    case 'c': {
      if (typeof v === 'string' && (verb === 'x' || verb === 'X')) {
        const hex = Buffer.from(v, 'utf8').toString('hex');
        return pad(verb === 'X' ? hex.toUpperCase() : hex, spec, false);
      }
      if (typeof v !== 'number' || !Number.isInteger(v))
        return badVerb(verb, v);
      if (verb === 'c') return pad(String.fromCodePoint(v), spec, false);
      const radix = { d: 10, x: 16, X: 16, o: 8, b: 2 }[verb];
      let s = Math.abs(v).toString(radix);
      if (verb === 'X') s = s.toUpperCase();
      if (spec.sharp && verb === 'x') s = `0x${s}`;
      if (spec.sharp && verb === 'X') s = `0X${s}`;
      return pad(withSign(v < 0 ? `-${s}` : s, v, spec), spec, true);
    }
    case 'f':
    case 'F':
    case 'e':
    case 'g': {
      if (typeof v !== 'number') return badVerb(verb, v);
      let s: string;
      if (verb === 'e') {
        const [m, e] = v.toExponential(spec.precision ?? 6).split('e');
        s = `${m}e${e[0] === '-' ? '-' : '+'}${e
          .replace(/^[+-]/, '')
          .padStart(2, '0')}`;
      } else if (verb === 'g') {
        s =
          spec.precision === undefined
            ? formatFloat(v)
            : String(Number(v.toPrecision(spec.precision)));
      } else {
        s = v.toFixed(spec.precision ?? 6);
      }
      return pad(withSign(s, v, spec), spec, true);
    }
    case 't':
      return typeof v === 'boolean'
        ? pad(String(v), spec, false)
        : badVerb(verb, v);
    default:
      return badVerb(verb, v);
  }
}

/** Reads a width or precision (digits, or `*` taking the next argument) at the cursor. */
function readNumber(
  format: string,
  cur: { i: number; argi: number },
  args: unknown[],
): number | undefined {
  if (format[cur.i] === '*') {
    cur.i++;
    const a = args[cur.argi++];
    return typeof a === 'number' ? a : undefined;
  }
  const m = /^\d+/.exec(format.slice(cur.i));
  if (!m) return undefined;
  cur.i += m[0].length;
  return Number(m[0]);
}

/** fmt.Sprintf for the common verbs; mistakes print Go's `%!verb(…)` markers instead of failing. */
export function sprintf(format: string, args: unknown[]): string {
  let out = '';
  const cur = { i: 0, argi: 0 };
  while (cur.i < format.length) {
    const c = format[cur.i];
    if (c !== '%') {
      out += c;
      cur.i++;
      continue;
    }
    cur.i++;
    if (format[cur.i] === '%') {
      out += '%';
      cur.i++;
      continue;
    }
    const spec: Spec = {
      minus: false,
      plus: false,
      zero: false,
      space: false,
      sharp: false,
    };
    for (; cur.i < format.length; cur.i++) {
      const f = format[cur.i];
      if (f === '-') spec.minus = true;
      else if (f === '+') spec.plus = true;
      else if (f === '0') spec.zero = true;
      else if (f === ' ') spec.space = true;
      else if (f === '#') spec.sharp = true;
      else break;
    }
    spec.width = readNumber(format, cur, args);
    if (format[cur.i] === '.') {
      cur.i++;
      spec.precision = readNumber(format, cur, args) ?? 0;
    }
    const verb = format[cur.i++];
    if (verb === undefined) {
      out += '%!(NOVERB)';
      break;
    }
    if (cur.argi >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    out += formatOne(verb, args[cur.argi++], spec);
  }
  if (cur.argi < args.length) {
    const extra = args
      .slice(cur.argi)
      .map(a => `${goTypeName(a)}=${formatValue(a)}`);
    out += `%!(EXTRA ${extra.join(', ')})`;
  }
  return out;
}
