import { TemplateError } from './errors';

export type TokenKind =
  | 'bool'
  | 'char'
  | 'comma'
  | 'declare'
  | 'assign'
  | 'dot'
  | 'field'
  | 'identifier'
  | 'keyword'
  | 'leftParen'
  | 'nil'
  | 'number'
  | 'pipe'
  | 'rightParen'
  | 'space'
  | 'string'
  | 'variable';

export interface Token {
  kind: TokenKind;
  /** The token's source text. */
  text: string;
  /** Offset in the template source. */
  pos: number;
}

export type Item =
  | { kind: 'text'; text: string; pos: number }
  | { kind: 'action'; tokens: Token[]; pos: number };

const KEYWORDS = new Set([
  'block',
  'break',
  'continue',
  'define',
  'else',
  'end',
  'if',
  'range',
  'template',
  'with',
]);

const LEFT = '{{';
const RIGHT = '}}';

const isSpace = (c: string | undefined) =>
  c === ' ' || c === '\t' || c === '\r' || c === '\n';
const isAlnum = (c: string | undefined) =>
  c !== undefined && /[\p{L}\p{Nd}_]/u.test(c);

/**
 * Splits a template into text and actions, as Go's text/template lexer does:
 * `{{- ` and ` -}}` trim the adjacent text's white space, and `{{/* … *\/}}`
 * comments vanish.
 */
export function lex(name: string, src: string, firstLine: number): Item[] {
  const items: Item[] = [];
  const fail = (pos: number, reason: string): never => {
    throw TemplateError.at(name, src, pos, reason, firstLine);
  };
  let i = 0;
  let trimNextText = false;
  while (i < src.length) {
    const open = src.indexOf(LEFT, i);
    let text = src.slice(i, open === -1 ? src.length : open);
    if (trimNextText) text = text.replace(/^[ \t\r\n]+/, '');
    trimNextText = false;
    if (open === -1) {
      if (text) items.push({ kind: 'text', text, pos: i });
      break;
    }
    let j = open + LEFT.length;
    if (src[j] === '-' && isSpace(src[j + 1])) {
      text = text.replace(/[ \t\r\n]+$/, '');
      j += 2;
    }
    if (text) items.push({ kind: 'text', text, pos: i });
    while (isSpace(src[j])) j++;

    if (src.startsWith('/*', j)) {
      const close = src.indexOf('*/', j + 2);
      if (close === -1) fail(open, 'unclosed comment');
      j = close + 2;
      if (
        isSpace(src[j]) &&
        src[j + 1] === '-' &&
        src.startsWith(RIGHT, j + 2)
      ) {
        trimNextText = true;
        j += 2;
      }
      if (!src.startsWith(RIGHT, j))
        fail(open, 'comment ends before closing delimiter');
      i = j + RIGHT.length;
      continue;
    }

    const tokens: Token[] = [];
    const push = (kind: TokenKind, start: number, end: number) =>
      tokens.push({ kind, text: src.slice(start, end), pos: start });
    let parenDepth = 0;
    for (;;) {
      if (j >= src.length) fail(open, 'unclosed action');
      const c = src[j];
      if (isSpace(c)) {
        let k = j;
        while (isSpace(src[k])) k++;
        if (src[k] === '-' && src.startsWith(RIGHT, k + 1) && k > j) {
          trimNextText = true;
          j = k + 1;
          continue;
        }
        if (src.startsWith(RIGHT, k)) {
          j = k;
          continue;
        }
        push('space', j, k);
        j = k;
        continue;
      }
      if (src.startsWith(RIGHT, j)) {
        if (parenDepth > 0) fail(j, 'unclosed left paren');
        j += RIGHT.length;
        break;
      }
      const start = j;
      if (c === '"') {
        j++;
        while (src[j] !== '"') {
          if (j >= src.length || src[j] === '\n')
            fail(start, 'unterminated quoted string');
          j += src[j] === '\\' ? 2 : 1;
        }
        push('string', start, ++j);
      } else if (c === '`') {
        const close = src.indexOf('`', j + 1);
        if (close === -1) fail(start, 'unterminated raw quoted string');
        j = close + 1;
        push('string', start, j);
      } else if (c === "'") {
        j++;
        while (src[j] !== "'") {
          if (j >= src.length || src[j] === '\n')
            fail(start, 'unterminated character constant');
          j += src[j] === '\\' ? 2 : 1;
        }
        push('char', start, ++j);
      } else if (c === ':' && src[j + 1] === '=') {
        j += 2;
        push('declare', start, j);
      } else if (c === '=') {
        push('assign', start, ++j);
      } else if (c === '|') {
        push('pipe', start, ++j);
      } else if (c === ',') {
        push('comma', start, ++j);
      } else if (c === '(') {
        parenDepth++;
        push('leftParen', start, ++j);
      } else if (c === ')') {
        if (--parenDepth < 0) fail(j, 'unexpected right paren');
        push('rightParen', start, ++j);
      } else if (c === '$') {
        j++;
        while (isAlnum(src[j])) j++;
        push('variable', start, j);
      } else if (
        c === '.' &&
        isAlnum(src[j + 1]) &&
        !/[0-9]/.test(src[j + 1])
      ) {
        j++;
        while (isAlnum(src[j])) j++;
        push('field', start, j);
      } else if (
        /[0-9]/.test(c) ||
        ((c === '+' || c === '-' || c === '.') &&
          /[0-9.]/.test(src[j + 1] ?? ''))
      ) {
        j++;
        while (
          /[0-9a-zA-Z_.]/.test(src[j] ?? '') ||
          (/[eEpP]/.test(src[j - 1]) && /[+-]/.test(src[j]))
        )
          j++;
        push('number', start, j);
      } else if (c === '.') {
        push('dot', start, ++j);
      } else if (isAlnum(c)) {
        while (isAlnum(src[j])) j++;
        const word = src.slice(start, j);
        let kind: TokenKind = 'identifier';
        if (KEYWORDS.has(word)) kind = 'keyword';
        else if (word === 'true' || word === 'false') kind = 'bool';
        else if (word === 'nil') kind = 'nil';
        push(kind, start, j);
      } else {
        fail(j, `unrecognized character in action: ${JSON.stringify(c)}`);
      }
    }
    items.push({ kind: 'action', tokens, pos: open });
    i = j;
  }
  return items;
}
