import { InputError } from '@backstage/errors';

/** What `status.<step>` offers to a step's `if`. */
export interface StepFacts {
  phase: string;
  succeeded: boolean;
  failed: boolean;
  skipped: boolean;
  timeout: boolean;
  message: string;
  reason: string;
}

const FIELDS: ReadonlySet<string> = new Set([
  'phase',
  'succeeded',
  'failed',
  'skipped',
  'timeout',
  'message',
  'reason',
]);

type Value = string | boolean;
type Node =
  | { kind: 'literal'; value: Value }
  | { kind: 'ref'; step: string; field: keyof StepFacts }
  | { kind: 'not'; operand: Node }
  | { kind: 'and' | 'or'; left: Node; right: Node }
  | { kind: '==' | '!='; left: Node; right: Node };

/** A parsed `if`: the steps it reads (the step waits for them) and its test. */
export interface Condition {
  text: string;
  steps: string[];
  evaluate(facts: (step: string) => StepFacts): boolean;
}

type Token = { type: 'op' | 'name' | 'string'; text: string; at: number };

function tokenize(text: string, where: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const two = text.slice(i, i + 2);
    if (['&&', '||', '==', '!='].includes(two)) {
      tokens.push({ type: 'op', text: two, at: i });
      i += 2;
    } else if ('!().'.includes(c)) {
      tokens.push({ type: 'op', text: c, at: i });
      i++;
    } else if (c === '"' || c === "'") {
      const end = text.indexOf(c, i + 1);
      if (end < 0)
        throw new InputError(`${where}: unterminated string at ${i + 1}`);
      tokens.push({ type: 'string', text: text.slice(i + 1, end), at: i });
      i = end + 1;
    } else {
      // Step names are DNS-like, so `-` belongs to a name: `status.deploy-staging.failed`.
      const match = /^[A-Za-z0-9_][A-Za-z0-9_-]*/.exec(text.slice(i));
      if (!match)
        throw new InputError(`${where}: unexpected "${c}" at ${i + 1}`);
      tokens.push({ type: 'name', text: match[0], at: i });
      i += match[0].length;
    }
  }
  return tokens;
}

/**
 * Parses a step's `if`: `always`, or an expression over
 * `status.<step>.succeeded|failed|skipped|timeout|phase|message|reason` with
 * `!`, `&&`, `||`, `==`, `!=`, parentheses, quoted strings, `true`/`false`.
 * A tiny recursive-descent parser: user text is never evaluated as code.
 */
export function parseCondition(text: string, where: string): Condition {
  const tokens = tokenize(text, where);
  let pos = 0;
  const steps = new Set<string>();
  const fail = (why: string): never => {
    throw new InputError(`${where}: ${why} in "${text}"`);
  };
  const peek = () => tokens[pos];
  const take = (op?: string) => {
    const token = tokens[pos];
    if (!token) fail('unexpected end');
    if (op !== undefined && (token.type !== 'op' || token.text !== op))
      fail(`expected "${op}" at ${token.at + 1}`);
    pos++;
    return token;
  };
  const isOp = (op: string) => peek()?.type === 'op' && peek()?.text === op;

  const primary = (): Node => {
    const token = take();
    if (token.type === 'op' && token.text === '(') {
      const inner = or();
      take(')');
      return inner;
    }
    if (token.type === 'string') return { kind: 'literal', value: token.text };
    if (
      token.type === 'name' &&
      (token.text === 'true' || token.text === 'false')
    )
      return { kind: 'literal', value: token.text === 'true' };
    if (token.type === 'name' && token.text === 'status') {
      take('.');
      const step = take();
      if (step.type !== 'name') fail(`expected a step name at ${step.at + 1}`);
      take('.');
      const field = take();
      if (field.type !== 'name' || !FIELDS.has(field.text))
        fail(
          `unknown field "${field.text}" (known: ${[...FIELDS].join(', ')})`,
        );
      steps.add(step.text);
      return {
        kind: 'ref',
        step: step.text,
        field: field.text as keyof StepFacts,
      };
    }
    return fail(`unexpected "${token.text}" at ${token.at + 1}`);
  };
  const comparison = (): Node => {
    const left = primary();
    if (isOp('==') || isOp('!=')) {
      const op = take().text as '==' | '!=';
      return { kind: op, left, right: primary() };
    }
    return left;
  };
  const unary = (): Node => {
    if (isOp('!')) {
      take();
      return { kind: 'not', operand: unary() };
    }
    return comparison();
  };
  const and = (): Node => {
    let left = unary();
    while (isOp('&&')) {
      take();
      left = { kind: 'and', left, right: unary() };
    }
    return left;
  };
  function or(): Node {
    let left = and();
    while (isOp('||')) {
      take();
      left = { kind: 'or', left, right: and() };
    }
    return left;
  }

  const root = or();
  if (pos < tokens.length) fail(`unexpected "${tokens[pos].text}"`);

  function truth(node: Node, facts: (step: string) => StepFacts): boolean {
    const result = value(node, facts);
    if (typeof result !== 'boolean')
      throw new InputError(
        `${where}: "${text}" uses the string "${result}" as a condition; compare it with == or !=`,
      );
    return result;
  }
  function value(node: Node, facts: (step: string) => StepFacts): Value {
    switch (node.kind) {
      case 'literal':
        return node.value;
      case 'ref':
        return facts(node.step)[node.field];
      case 'not':
        return !truth(node.operand, facts);
      case 'and':
        return truth(node.left, facts) && truth(node.right, facts);
      case 'or':
        return truth(node.left, facts) || truth(node.right, facts);
      case '==':
        return value(node.left, facts) === value(node.right, facts);
      default:
        return value(node.left, facts) !== value(node.right, facts);
    }
  }
  return { text, steps: [...steps], evaluate: facts => truth(root, facts) };
}
