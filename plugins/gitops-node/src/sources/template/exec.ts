import { TemplateError } from './errors';
import {
  formatValue,
  goTypeName,
  sortedEntries,
  sprint,
  sprintf,
  sprintln,
} from './format';
import { Arg, Command, ControlNode, Node, ParsedTemplate, Pipe } from './parse';

/** Bounds so that a template like `{{range 1000000000}}` cannot stall a reconcile. */
const MAX_OUTPUT = 1 << 20;
const MAX_STEPS = 1_000_000;

const MISSING = Symbol('missing');
type Final = unknown | typeof MISSING;

class ExecFailure extends Error {
  constructor(
    readonly pos: number,
    readonly node: string,
    readonly reason: string,
  ) {
    super(reason);
  }
}
class Break {}
class Continue {}

/** Go's truth: false, 0, nil and empty strings, slices and maps are false. */
export function isTrue(v: unknown): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string' || Array.isArray(v)) return v.length > 0;
  if (v instanceof Map) return v.size > 0;
  return true;
}

type Basic = 'bool' | 'number' | 'string' | 'nil';
function basicKind(v: unknown): Basic | undefined {
  if (v === undefined || v === null) return 'nil';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return 'number';
  if (typeof v === 'string') return 'string';
  return undefined;
}

function fnError(reason: string): never {
  throw new Error(reason);
}

function eq(a: unknown, ...rest: unknown[]): boolean {
  if (rest.length === 0) fnError('missing argument for comparison');
  const ka = basicKind(a);
  return rest.some(b => {
    const kb = basicKind(b);
    if (!ka || !kb) {
      if (a === b) return true;
      return fnError(
        `non-comparable types ${goTypeName(a)} and ${goTypeName(b)}`,
      );
    }
    if (ka === 'nil' || kb === 'nil') return ka === kb;
    if (ka !== kb)
      fnError(
        `incompatible types for comparison: ${goTypeName(a)} and ${goTypeName(
          b,
        )}`,
      );
    return a === b;
  });
}

function lt(a: unknown, b: unknown): boolean {
  const ka = basicKind(a);
  const kb = basicKind(b);
  if (ka !== kb)
    fnError(
      `incompatible types for comparison: ${goTypeName(a)} and ${goTypeName(
        b,
      )}`,
    );
  if (ka !== 'number' && ka !== 'string')
    fnError(`invalid type for comparison: ${goTypeName(a)}`);
  return (a as number | string) < (b as number | string);
}

function len(v: unknown): number {
  if (typeof v === 'string') return Buffer.byteLength(v, 'utf8');
  if (Array.isArray(v)) return v.length;
  if (v instanceof Map) return v.size;
  return fnError(`len of type ${goTypeName(v)}`);
}

/** Go's `slice x i j`: strings by bytes, slices by element; 3-index form for slices only. */
function slice(item: unknown, ...idx: unknown[]): unknown {
  if (item === undefined || item === null) fnError('slice of untyped nil');
  const isString = typeof item === 'string';
  if (!isString && !Array.isArray(item)) {
    return fnError(`can't slice item of type ${goTypeName(item)}`);
  }
  if (idx.length > 3 || (isString && idx.length > 2)) {
    fnError(`too many slice indexes: ${idx.length}`);
  }
  const bytes = isString ? Buffer.from(item as string) : undefined;
  const size = bytes ? bytes.length : (item as unknown[]).length;
  const cap = size;
  const ints = idx.map(i =>
    typeof i === 'number' && Number.isInteger(i)
      ? i
      : fnError(`cannot index slice/array with type ${goTypeName(i)}`),
  );
  const [lo = 0, hi = size] = ints;
  for (const i of ints) {
    if (i < 0 || i > cap) fnError(`index out of range: ${i}`);
  }
  for (let k = 1; k < ints.length; k++) {
    if (ints[k - 1] > ints[k]) {
      fnError(`invalid slice index: ${ints[k - 1]} > ${ints[k]}`);
    }
  }
  return bytes
    ? bytes.subarray(lo, hi).toString('utf8')
    : (item as unknown[]).slice(lo, hi);
}

function index(item: unknown, ...keys: unknown[]): unknown {
  let v = item;
  for (const k of keys) {
    if (Array.isArray(v) || typeof v === 'string') {
      if (typeof k !== 'number' || !Number.isInteger(k))
        fnError(`cannot index slice/array with type ${goTypeName(k)}`);
      const n = k as number;
      const size = typeof v === 'string' ? Buffer.byteLength(v) : v.length;
      if (n < 0 || n >= size) fnError(`index out of range: ${n}`);
      v = typeof v === 'string' ? Buffer.from(v)[n] : v[n];
    } else if (v instanceof Map) {
      v = v.get(k);
    } else if (v === undefined || v === null) {
      fnError('index of untyped nil');
    } else {
      fnError(`can't index item of type ${goTypeName(v)}`);
    }
  }
  return v;
}

const FUNCTIONS: Record<string, (...args: unknown[]) => unknown> = {
  not: (...a) =>
    a.length === 1
      ? !isTrue(a[0])
      : fnError(`wrong number of args for not: want 1 got ${a.length}`),
  len: (...a) =>
    a.length === 1
      ? len(a[0])
      : fnError(`wrong number of args for len: want 1 got ${a.length}`),
  index: (item, ...keys) => index(item, ...keys),
  slice: (item, ...idx) => slice(item, ...idx),
  print: (...a) => sprint(a),
  println: (...a) => sprintln(a),
  printf: (format, ...a) =>
    typeof format === 'string'
      ? sprintf(format, a)
      : fnError(`printf format must be a string, got ${goTypeName(format)}`),
  eq,
  ne: (a, b) => !eq(a, b),
  lt: (a, b) => lt(a, b),
  le: (a, b) => lt(a, b) || eq(a, b),
  gt: (a, b) => !lt(a, b) && !eq(a, b),
  ge: (a, b) => !lt(a, b),
};

/**
 * Go exports only capitalised names, and so do we: it keeps templates away
 * from `constructor`, `__proto__` and other JavaScript internals.
 */
function lookupField(
  receiver: unknown,
  name: string,
): { found: boolean; value?: unknown; self?: unknown } {
  if (receiver instanceof Map)
    return { found: true, value: receiver.get(name) };
  if (
    receiver === null ||
    typeof receiver !== 'object' ||
    Array.isArray(receiver) ||
    !/^\p{Lu}/u.test(name)
  ) {
    return { found: false };
  }
  let proto: object | null = receiver as object;
  while (proto && proto !== Object.prototype) {
    if (Object.prototype.hasOwnProperty.call(proto, name)) {
      return {
        found: true,
        value: (receiver as Record<string, unknown>)[name],
        self: receiver,
      };
    }
    proto = Object.getPrototypeOf(proto);
  }
  return { found: false };
}

interface Variable {
  name: string;
  value: unknown;
}

class State {
  out = '';
  steps = 0;
  vars: Variable[];

  constructor(readonly t: ParsedTemplate, data: unknown) {
    this.vars = [{ name: '$', value: data }];
  }

  step(pos: number) {
    if (++this.steps > MAX_STEPS)
      throw new ExecFailure(pos, '', 'template exceeds its execution budget');
  }

  write(pos: number, s: string) {
    this.out += s;
    if (this.out.length > MAX_OUTPUT)
      throw new ExecFailure(pos, '', 'template output exceeds 1 MiB');
  }

  walk(dot: unknown, nodes: Node[]): void {
    for (const node of nodes) {
      switch (node.type) {
        case 'text':
          this.write(0, node.text);
          break;
        case 'action': {
          const v = this.pipeline(dot, node.pipe);
          // Like Go, an action that only declares a variable prints nothing.
          if (node.pipe.decl.length === 0) this.write(node.pos, formatValue(v));
          break;
        }
        case 'if':
        case 'with': {
          const mark = this.vars.length;
          const v = this.pipeline(dot, node.pipe);
          if (isTrue(v)) this.walk(node.type === 'with' ? v : dot, node.list);
          else if (node.elseList) this.walk(dot, node.elseList);
          this.vars.length = mark;
          break;
        }
        case 'range':
          this.range(dot, node);
          break;
        case 'break':
          throw new Break();
        case 'continue':
          throw new Continue();
        default:
          break;
      }
    }
  }

  range(dot: unknown, node: ControlNode): void {
    const mark = this.vars.length;
    const { pipe } = node;
    const v = this.evalPipelineValue(dot, pipe);
    let entries: Array<[unknown, unknown]>;
    if (Array.isArray(v)) entries = v.map((e, i) => [i, e]);
    else if (v instanceof Map) entries = sortedEntries(v);
    else if (typeof v === 'number' && Number.isInteger(v)) {
      if (pipe.decl.length > 1)
        throw new ExecFailure(
          node.pos,
          'range',
          "can't use two variables when ranging over an integer",
        );
      entries = Array.from(
        { length: Math.max(0, Math.min(v, MAX_STEPS + 1)) },
        (_, i) => [i, i],
      );
    } else if (v === undefined || v === null) entries = [];
    else
      throw new ExecFailure(
        node.pos,
        'range',
        `range can't iterate over ${formatValue(v)}`,
      );

    if (entries.length === 0) {
      if (node.elseList) this.walk(dot, node.elseList);
      this.vars.length = mark;
      return;
    }
    for (const [key, elem] of entries) {
      this.step(node.pos);
      if (pipe.decl.length === 1) this.setVar(pipe, 0, elem);
      if (pipe.decl.length === 2) {
        this.setVar(pipe, 0, key);
        this.setVar(pipe, 1, elem);
      }
      try {
        this.walk(elem, node.list);
      } catch (e) {
        if (e instanceof Break) break;
        if (!(e instanceof Continue)) throw e;
      } finally {
        this.vars.length = mark + (pipe.isAssign ? 0 : pipe.decl.length);
      }
    }
    this.vars.length = mark;
  }

  setVar(pipe: Pipe, i: number, value: unknown) {
    const name = pipe.decl[i];
    if (pipe.isAssign) {
      for (let j = this.vars.length - 1; j >= 0; j--) {
        if (this.vars[j].name === name) {
          this.vars[j].value = value;
          return;
        }
      }
    }
    this.vars.push({ name, value });
  }

  /** The value of a range pipeline, whose declarations bind per element, not to the whole. */
  evalPipelineValue(dot: unknown, pipe: Pipe): unknown {
    return this.pipeline(dot, { ...pipe, decl: [] });
  }

  pipeline(dot: unknown, pipe: Pipe): unknown {
    let value: Final = MISSING;
    for (const cmd of pipe.cmds) value = this.command(dot, cmd, value);
    if (pipe.decl.length === 1) this.setVar(pipe, 0, value);
    return value;
  }

  command(dot: unknown, cmd: Command, final: Final): unknown {
    const first = cmd.args[0];
    this.step(first.pos);
    switch (first.type) {
      case 'field':
        return this.fieldChain(dot, dot, first, first.ident, cmd.args, final);
      case 'chain':
        return this.fieldChain(
          dot,
          this.arg(dot, first.node),
          first,
          first.field,
          cmd.args,
          final,
        );
      case 'variable': {
        const value = this.variable(first);
        if (first.ident.length === 1) {
          this.notAFunction(first, cmd.args, final);
          return value;
        }
        return this.fieldChain(
          dot,
          value,
          first,
          first.ident.slice(1),
          cmd.args,
          final,
        );
      }
      case 'identifier':
        return this.call(dot, first, cmd.args, final);
      case 'nil':
        throw new ExecFailure(first.pos, first.text, 'nil is not a command');
      default:
        this.notAFunction(first, cmd.args, final);
        return this.arg(dot, first);
    }
  }

  notAFunction(first: Arg, args: Arg[], final: Final) {
    if (args.length > 1 || final !== MISSING) {
      throw new ExecFailure(
        first.pos,
        first.text,
        `can't give argument to non-function ${first.text}`,
      );
    }
  }

  variable(arg: Arg & { type: 'variable' }): unknown {
    for (let j = this.vars.length - 1; j >= 0; j--) {
      if (this.vars[j].name === arg.ident[0]) return this.vars[j].value;
    }
    throw new ExecFailure(
      arg.pos,
      arg.text,
      `undefined variable: ${arg.ident[0]}`,
    );
  }

  fieldChain(
    dot: unknown,
    receiver: unknown,
    node: Arg,
    idents: string[],
    args: Arg[],
    final: Final,
  ): unknown {
    let v = receiver;
    idents.forEach((name, i) => {
      const last = i === idents.length - 1;
      v = this.field(
        dot,
        v,
        name,
        node,
        last ? args : [],
        last ? final : MISSING,
      );
    });
    return v;
  }

  field(
    dot: unknown,
    receiver: unknown,
    name: string,
    node: Arg,
    args: Arg[],
    final: Final,
  ): unknown {
    if (receiver === undefined || receiver === null) {
      throw new ExecFailure(
        node.pos,
        node.text,
        `nil pointer evaluating ${goTypeName(receiver)}.${name}`,
      );
    }
    const found = lookupField(receiver, name);
    if (!found.found) {
      throw new ExecFailure(
        node.pos,
        node.text,
        `can't evaluate field ${name} in type ${goTypeName(receiver)}`,
      );
    }
    const hasArgs = args.length > 1 || final !== MISSING;
    if (typeof found.value === 'function') {
      const argv = args.slice(1).map(a => this.arg(dot, a));
      if (final !== MISSING) argv.push(final);
      try {
        return (found.value as (...a: unknown[]) => unknown).apply(
          found.self,
          argv,
        );
      } catch (e) {
        throw new ExecFailure(
          node.pos,
          node.text,
          `error calling ${name}: ${(e as Error).message}`,
        );
      }
    }
    if (hasArgs)
      throw new ExecFailure(
        node.pos,
        node.text,
        `${name} has arguments but cannot be invoked as function`,
      );
    return found.value;
  }

  call(
    dot: unknown,
    fn: Arg & { type: 'identifier' },
    args: Arg[],
    final: Final,
  ): unknown {
    const rest = args.slice(1);
    const withFinal = (vals: unknown[]) =>
      final === MISSING ? vals : [...vals, final];
    try {
      // and/or stop evaluating at the first deciding argument, as Go 1.18+ does.
      if (fn.name === 'and' || fn.name === 'or') {
        const thunks = rest.map(a => () => this.arg(dot, a));
        if (final !== MISSING) thunks.push(() => final);
        if (thunks.length === 0)
          throw new Error(
            `wrong number of args for ${fn.name}: want at least 1 got 0`,
          );
        let v: unknown;
        for (const thunk of thunks) {
          v = thunk();
          if (isTrue(v) === (fn.name === 'or')) return v;
        }
        return v;
      }
      return FUNCTIONS[fn.name](...withFinal(rest.map(a => this.arg(dot, a))));
    } catch (e) {
      if (e instanceof ExecFailure) throw e;
      // Like Go, name the whole call: `<index .List 7>`.
      const last = args[args.length - 1];
      throw new ExecFailure(
        fn.pos,
        this.t.source.slice(fn.pos, last.pos + last.text.length),
        `error calling ${fn.name}: ${(e as Error).message}`,
      );
    }
  }

  arg(dot: unknown, arg: Arg): unknown {
    switch (arg.type) {
      case 'dot':
        return dot;
      case 'nil':
        return null;
      case 'literal':
        return arg.value;
      case 'field':
        return this.fieldChain(dot, dot, arg, arg.ident, [arg], MISSING);
      case 'variable': {
        const v = this.variable(arg);
        return arg.ident.length === 1
          ? v
          : this.fieldChain(dot, v, arg, arg.ident.slice(1), [arg], MISSING);
      }
      case 'chain':
        return this.fieldChain(
          dot,
          this.arg(dot, arg.node),
          arg,
          arg.field,
          [arg],
          MISSING,
        );
      case 'pipe':
        return this.pipeline(dot, arg.pipe);
      case 'identifier':
        return this.call(dot, arg, [arg], MISSING);
      default:
        return undefined;
    }
  }
}

/** Runs a parsed template over `data` and returns the text. */
export function executeTemplate(t: ParsedTemplate, data: unknown): string {
  const state = new State(t, data);
  try {
    state.walk(data, t.root);
  } catch (e) {
    if (e instanceof ExecFailure) {
      const at = e.node ? `executing "${t.name}" at <${e.node}>: ` : '';
      throw TemplateError.at(
        t.name,
        t.source,
        e.pos,
        `${at}${e.reason}`,
        t.firstLine,
      );
    }
    throw e;
  }
  return state.out;
}
