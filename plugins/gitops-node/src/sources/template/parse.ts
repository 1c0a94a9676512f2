import { TemplateError } from './errors';
import { Item, Token, lex } from './lexer';

export type Arg =
  | { type: 'field'; pos: number; text: string; ident: string[] }
  | { type: 'variable'; pos: number; text: string; ident: string[] }
  | { type: 'chain'; pos: number; text: string; node: Arg; field: string[] }
  | { type: 'pipe'; pos: number; text: string; pipe: Pipe }
  | { type: 'identifier'; pos: number; text: string; name: string }
  | { type: 'dot'; pos: number; text: string }
  | { type: 'nil'; pos: number; text: string }
  | {
      type: 'literal';
      pos: number;
      text: string;
      value: string | number | boolean;
    };

export interface Command {
  pos: number;
  args: Arg[];
}

export interface Pipe {
  pos: number;
  /** Variables declared (`:=`) or assigned (`=`) by this pipeline. */
  decl: string[];
  isAssign: boolean;
  cmds: Command[];
}

export interface ControlNode {
  type: 'if' | 'with' | 'range';
  pos: number;
  pipe: Pipe;
  list: Node[];
  elseList?: Node[];
}

export type Node =
  | { type: 'text'; text: string }
  | { type: 'action'; pos: number; pipe: Pipe }
  | ControlNode
  | { type: 'break' | 'continue'; pos: number };

export interface ParsedTemplate {
  name: string;
  source: string;
  firstLine: number;
  root: Node[];
}

/** Functions a template may call; Go rejects unknown names at parse time, so do we. */
export const BUILTIN_FUNCTIONS = new Set([
  'and',
  'or',
  'not',
  'len',
  'index',
  'slice',
  'print',
  'printf',
  'println',
  'eq',
  'ne',
  'lt',
  'le',
  'gt',
  'ge',
]);

function unquote(tok: Token, fail: (reason: string) => never): string {
  const { text } = tok;
  if (text.startsWith('`')) return text.slice(1, -1);
  const body = text.slice(1, -1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = body[++i];
    const simple: Record<string, string> = {
      a: '\x07',
      b: '\b',
      f: '\f',
      n: '\n',
      r: '\r',
      t: '\t',
      v: '\v',
      '\\': '\\',
      '"': '"',
      "'": "'",
    };
    if (e in simple) {
      out += simple[e];
    } else if (e === 'x' || e === 'u' || e === 'U') {
      const len = { x: 2, u: 4, U: 8 }[e];
      const hex = body.slice(i + 1, i + 1 + len);
      if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== len)
        fail(`invalid syntax: ${text}`);
      out += String.fromCodePoint(parseInt(hex, 16));
      i += len;
    } else if (e !== undefined && /[0-7]/.test(e)) {
      const oct = body.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(oct)) fail(`invalid syntax: ${text}`);
      out += String.fromCharCode(parseInt(oct, 8));
      i += 2;
    } else {
      fail(`invalid syntax: ${text}`);
    }
  }
  return out;
}

function parseNumber(text: string): number | undefined {
  const clean = text.replace(/_/g, '');
  let sign = 1;
  let body = clean;
  if (body.startsWith('-') || body.startsWith('+')) {
    sign = body.startsWith('-') ? -1 : 1;
    body = body.slice(1);
  }
  let value: number;
  if (/^0[xX][0-9a-fA-F]+$/.test(body)) value = parseInt(body.slice(2), 16);
  else if (/^0[oO]?[0-7]+$/.test(body))
    value = parseInt(body.replace(/^0[oO]?/, ''), 8);
  else if (/^0[bB][01]+$/.test(body)) value = parseInt(body.slice(2), 2);
  else if (/^(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(body))
    value = Number(body);
  else return undefined;
  return sign * value;
}

/** Recursive-descent parser with Go text/template's grammar and parse-time checks. */
class Parser {
  private items: Item[];
  private at = 0;
  private vars: string[] = ['$'];
  private rangeDepth = 0;

  constructor(private readonly t: ParsedTemplate) {
    this.items = lex(t.name, t.source, t.firstLine);
  }

  fail(pos: number, reason: string): never {
    throw TemplateError.at(
      this.t.name,
      this.t.source,
      pos,
      reason,
      this.t.firstLine,
    );
  }

  parse(): Node[] {
    const { nodes, stop } = this.list();
    if (stop) this.fail(stop.pos, `unexpected {{${stop.tokens[0].text}}}`);
    return nodes;
  }

  /** Parses nodes until `{{end}}`/`{{else…}}` (returned as `stop`) or the end of input. */
  private list(): { nodes: Node[]; stop?: Item & { kind: 'action' } } {
    const nodes: Node[] = [];
    while (this.at < this.items.length) {
      const item = this.items[this.at++];
      if (item.kind === 'text') {
        nodes.push({ type: 'text', text: item.text });
        continue;
      }
      const tokens = item.tokens.filter(
        (tk, i) => !(i === 0 && tk.kind === 'space'),
      );
      const first = tokens[0];
      if (!first) this.fail(item.pos, 'missing value for command');
      if (first.kind === 'keyword') {
        switch (first.text) {
          case 'end':
          case 'else':
            return { nodes, stop: { ...item, tokens } };
          case 'if':
          case 'with':
          case 'range':
            nodes.push(this.control(first.text, tokens.slice(1), first.pos));
            continue;
          case 'break':
          case 'continue':
            if (this.rangeDepth === 0)
              this.fail(first.pos, `{{${first.text}}} outside {{range}}`);
            if (tokens.some((tk, i) => i > 0 && tk.kind !== 'space')) {
              this.fail(first.pos, `unexpected token in {{${first.text}}}`);
            }
            nodes.push({ type: first.text, pos: first.pos });
            continue;
          default:
            this.fail(
              first.pos,
              `{{${first.text}}} is not supported in commit message templates`,
            );
        }
      }
      nodes.push({
        type: 'action',
        pos: first.pos,
        pipe: this.pipeline(tokens, first.pos, 'command'),
      });
    }
    return { nodes };
  }

  private control(
    kind: 'if' | 'with' | 'range',
    tokens: Token[],
    pos: number,
  ): Node {
    const scope = this.vars.length;
    const pipe = this.pipeline(tokens, pos, kind);
    if (kind === 'range') this.rangeDepth++;
    const body = this.list();
    if (kind === 'range') this.rangeDepth--;
    const node: Node = { type: kind, pos, pipe, list: body.nodes };
    let stop = body.stop;
    if (!stop) this.fail(pos, `unexpected EOF: {{${kind}}} has no {{end}}`);
    if (stop.tokens[0].text === 'else') {
      const rest = stop.tokens
        .slice(1)
        .filter((tk, i) => !(i === 0 && tk.kind === 'space'));
      // `{{else if …}}` / `{{else with …}}` nest a new control that shares our {{end}}.
      if (
        rest.length > 0 &&
        rest[0].kind === 'keyword' &&
        rest[0].text === kind &&
        kind !== 'range'
      ) {
        this.vars.length = scope;
        node.elseList = [this.control(kind, rest.slice(1), rest[0].pos)];
        this.vars.length = scope;
        return node;
      }
      if (rest.length > 0)
        this.fail(
          rest[0].pos,
          `unexpected ${JSON.stringify(rest[0].text)} in else`,
        );
      const elseBody = this.list();
      node.elseList = elseBody.nodes;
      stop = elseBody.stop;
      if (!stop) this.fail(pos, `unexpected EOF: {{${kind}}} has no {{end}}`);
      if (stop.tokens[0].text !== 'end')
        this.fail(
          stop.pos,
          `expected {{end}}, found {{${stop.tokens[0].text}}}`,
        );
    }
    if (stop.tokens.length > 1)
      this.fail(stop.tokens[1].pos, 'unexpected token in {{end}}');
    this.vars.length = scope;
    return node;
  }

  private pipeline(tokens: Token[], pos: number, context: string): Pipe {
    let i = 0;
    const skip = () => {
      while (tokens[i]?.kind === 'space') i++;
    };
    const pipe: Pipe = { pos, decl: [], isAssign: false, cmds: [] };
    skip();
    // Declarations: `$x :=`, `$x =`, or in a range `$i, $v :=`.
    const look = (from: number) =>
      tokens.slice(from).filter(tk => tk.kind !== 'space');
    const ahead = look(i);
    if (ahead[0]?.kind === 'variable') {
      if (ahead[1]?.kind === 'declare' || ahead[1]?.kind === 'assign') {
        pipe.decl = [ahead[0].text];
        pipe.isAssign = ahead[1].kind === 'assign';
        i = tokens.indexOf(ahead[1]) + 1;
      } else if (
        ahead[1]?.kind === 'comma' &&
        ahead[2]?.kind === 'variable' &&
        (ahead[3]?.kind === 'declare' || ahead[3]?.kind === 'assign')
      ) {
        if (context !== 'range')
          this.fail(ahead[1].pos, `too many declarations in ${context}`);
        pipe.decl = [ahead[0].text, ahead[2].text];
        pipe.isAssign = ahead[3].kind === 'assign';
        i = tokens.indexOf(ahead[3]) + 1;
      }
    }
    for (const v of pipe.decl) {
      if (pipe.isAssign) {
        if (!this.vars.includes(v)) this.fail(pos, `undefined variable "${v}"`);
      }
    }
    const end = tokens.length;
    const { cmds, next } = this.commands(tokens, i, end, pos);
    if (next !== end)
      this.fail(
        tokens[next].pos,
        `unexpected ${JSON.stringify(tokens[next].text)} in ${context}`,
      );
    if (cmds.length === 0) this.fail(pos, `missing value for ${context}`);
    pipe.cmds = cmds;
    // Declared after the pipeline is parsed: `{{$x := $x}}` must see the outer $x.
    if (!pipe.isAssign) this.vars.push(...pipe.decl);
    return pipe;
  }

  /** Commands separated by `|`, up to a closing paren or `end`. */
  private commands(
    tokens: Token[],
    from: number,
    end: number,
    pos: number,
  ): { cmds: Command[]; next: number } {
    const cmds: Command[] = [];
    let i = from;
    for (;;) {
      const args: Arg[] = [];
      while (i < end) {
        const tk = tokens[i];
        if (tk.kind === 'space') {
          i++;
          continue;
        }
        if (tk.kind === 'pipe' || tk.kind === 'rightParen') break;
        const r = this.operand(tokens, i, end);
        args.push(r.arg);
        i = r.next;
        if (
          i < end &&
          !['space', 'pipe', 'rightParen'].includes(tokens[i].kind)
        ) {
          this.fail(
            tokens[i].pos,
            `unexpected ${JSON.stringify(tokens[i].text)} in operand`,
          );
        }
      }
      const cmdPos = args[0]?.pos ?? tokens[i]?.pos ?? pos;
      if (args.length === 0) this.fail(cmdPos, 'missing value for command');
      cmds.push({ pos: cmdPos, args });
      if (i < end && tokens[i].kind === 'pipe') {
        i++;
        continue;
      }
      return { cmds, next: i };
    }
  }

  /** A term followed by any `.Field` chain written without spaces. */
  private operand(
    tokens: Token[],
    from: number,
    end: number,
  ): { arg: Arg; next: number } {
    const tk = tokens[from];
    let i = from + 1;
    let arg: Arg;
    switch (tk.kind) {
      case 'field':
        arg = {
          type: 'field',
          pos: tk.pos,
          text: tk.text,
          ident: [tk.text.slice(1)],
        };
        break;
      case 'variable':
        if (!this.vars.includes(tk.text))
          this.fail(tk.pos, `undefined variable "${tk.text}"`);
        arg = {
          type: 'variable',
          pos: tk.pos,
          text: tk.text,
          ident: [tk.text],
        };
        break;
      case 'dot':
        arg = { type: 'dot', pos: tk.pos, text: '.' };
        break;
      case 'nil':
        arg = { type: 'nil', pos: tk.pos, text: 'nil' };
        break;
      case 'bool':
        arg = {
          type: 'literal',
          pos: tk.pos,
          text: tk.text,
          value: tk.text === 'true',
        };
        break;
      case 'string':
        arg = {
          type: 'literal',
          pos: tk.pos,
          text: tk.text,
          value: unquote(tk, r => this.fail(tk.pos, r)),
        };
        break;
      case 'char': {
        const s = unquote(tk, r => this.fail(tk.pos, r));
        if ([...s].length !== 1)
          this.fail(tk.pos, `malformed character constant: ${tk.text}`);
        arg = {
          type: 'literal',
          pos: tk.pos,
          text: tk.text,
          value: s.codePointAt(0)!,
        };
        break;
      }
      case 'number': {
        const value = parseNumber(tk.text);
        if (value === undefined)
          this.fail(tk.pos, `bad number syntax: ${JSON.stringify(tk.text)}`);
        arg = { type: 'literal', pos: tk.pos, text: tk.text, value };
        break;
      }
      case 'identifier':
        if (!BUILTIN_FUNCTIONS.has(tk.text))
          this.fail(tk.pos, `function "${tk.text}" not defined`);
        arg = { type: 'identifier', pos: tk.pos, text: tk.text, name: tk.text };
        break;
      case 'leftParen': {
        const { cmds, next } = this.commands(tokens, i, end, tk.pos);
        if (tokens[next]?.kind !== 'rightParen')
          this.fail(tk.pos, 'unclosed left paren');
        i = next + 1;
        const text = tokens
          .slice(from, i)
          .map(t => t.text)
          .join('');
        arg = {
          type: 'pipe',
          pos: tk.pos,
          text,
          pipe: { pos: tk.pos, decl: [], isAssign: false, cmds },
        };
        break;
      }
      default:
        this.fail(tk.pos, `unexpected ${JSON.stringify(tk.text)} in operand`);
    }
    const chain: string[] = [];
    while (i < end && tokens[i].kind === 'field') {
      chain.push(tokens[i].text.slice(1));
      i++;
    }
    if (chain.length > 0) {
      const text = arg.text + chain.map(f => `.${f}`).join('');
      if (arg.type === 'field' || arg.type === 'variable') {
        arg = { ...arg, text, ident: [...arg.ident, ...chain] };
      } else if (arg.type === 'pipe') {
        arg = { type: 'chain', pos: arg.pos, text, node: arg, field: chain };
      } else {
        this.fail(
          tokens[from].pos,
          `unexpected . after term ${JSON.stringify(arg.text)}`,
        );
      }
    }
    return { arg, next: i };
  }
}

export interface ParseOptions {
  /** Name used in error messages, e.g. `commitMessage`. */
  name?: string;
  /**
   * Line number of the source's first line (default 1). Set to 0 when the
   * caller prepended one fixed line, so errors point into the user's text.
   */
  firstLine?: number;
}

export function parseTemplate(
  source: string,
  options: ParseOptions = {},
): ParsedTemplate {
  const t: ParsedTemplate = {
    name: options.name ?? 'template',
    source,
    firstLine: options.firstLine ?? 1,
    root: [],
  };
  t.root = new Parser(t).parse();
  return t;
}
