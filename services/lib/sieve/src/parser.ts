/** Lexer and parser of the Sieve grammar (RFC 5228 section 8): source text to an untyped command tree. */
import type { SieveError } from './types.js';

export type Arg =
  | { type: 'tag'; name: string; line: number; column: number }
  | { type: 'number'; value: number; line: number; column: number }
  | { type: 'string'; value: string; line: number; column: number }
  | { type: 'stringlist'; values: string[]; line: number; column: number };

export interface ParsedNode {
  name: string;
  args: Arg[];
  tests: ParsedNode[];
  /** Commands only: the block, or null when the command ended with ';'. */
  block: ParsedNode[] | null;
  line: number;
  column: number;
}

type TokenType =
  | 'identifier'
  | 'tag'
  | 'number'
  | 'string'
  | '['
  | ']'
  | '('
  | ')'
  | '{'
  | '}'
  | ','
  | ';'
  | 'eof';

interface Token {
  type: TokenType;
  text: string;
  value?: number | string;
  line: number;
  column: number;
}

class SyntaxError_ extends Error {
  constructor(
    readonly line: number,
    readonly column: number,
    message: string,
  ) {
    super(message);
  }
}

const MAX_NUMBER = 2 ** 32 - 1;

function tokenize(src: string, errors: SieveError[]): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const err = (l: number, c: number, message: string) => errors.push({ line: l, column: c, message });
  const n = src.length;
  while (i < n) {
    const ch = src[i]!;
    const column = i - lineStart + 1;
    if (ch === '\n') {
      i++;
      line++;
      lineStart = i;
      continue;
    }
    if (ch === ' ' || ch === '\t' || ch === '\r') {
      i++;
      continue;
    }
    if (ch === '#') {
      while (i < n && src[i] !== '\n') i++;
      continue;
    }
    if (ch === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      const stop = end < 0 ? n : end + 2;
      for (let k = i; k < stop; k++) {
        if (src[k] === '\n') {
          line++;
          lineStart = k + 1;
        }
      }
      if (end < 0) err(line, column, 'end of file before end of bracket comment ("*/")');
      i = stop;
      continue;
    }
    const single = '[](){},;';
    if (single.includes(ch)) {
      tokens.push({ type: ch as TokenType, text: ch, line, column });
      i++;
      continue;
    }
    if (ch === '"') {
      let value = '';
      let j = i + 1;
      const startLine = line;
      let closed = false;
      while (j < n) {
        const c = src[j]!;
        if (c === '"') {
          closed = true;
          j++;
          break;
        }
        if (c === '\\' && j + 1 < n) {
          value += src[j + 1];
          if (src[j + 1] === '\n') {
            line++;
            lineStart = j + 2;
          }
          j += 2;
          continue;
        }
        if (c === '\n') {
          line++;
          lineStart = j + 1;
        }
        value += c;
        j++;
      }
      if (!closed) err(startLine, column, 'end of file before end of quoted string');
      tokens.push({
        type: 'string',
        text: src.slice(i, j),
        value: value.replace(/\r?\n/g, '\r\n'),
        line: startLine,
        column,
      });
      i = j;
      continue;
    }
    if (/[A-Za-z_]/.test(ch)) {
      let j = i + 1;
      while (j < n && /[A-Za-z0-9_]/.test(src[j]!)) j++;
      const word = src.slice(i, j);
      if (word === 'text' && src[j] === ':') {
        // multi-line string: "text:" *(SP / HTAB) (hash-comment / CRLF)
        let k = j + 1;
        while (k < n && (src[k] === ' ' || src[k] === '\t')) k++;
        if (src[k] === '#') while (k < n && src[k] !== '\n') k++;
        else if (src[k] === '\r') k++;
        if (src[k] !== '\n') {
          err(line, column, 'invalid character after text: in multiline string');
          while (k < n && src[k] !== '\n') k++;
        }
        k++;
        line++;
        lineStart = k;
        const startLine = line - 1;
        const lines: string[] = [];
        let closed = false;
        while (k < n) {
          let e = src.indexOf('\n', k);
          if (e < 0) e = n;
          let text = src.slice(k, e);
          if (text.endsWith('\r')) text = text.slice(0, -1);
          k = e + 1;
          line++;
          lineStart = k;
          if (text === '.') {
            closed = true;
            break;
          }
          lines.push(text.startsWith('..') ? text.slice(1) : text);
        }
        if (!closed) {
          err(startLine, column, 'end of file before end of multi-line string');
          line--;
        }
        const value = lines.length ? `${lines.join('\r\n')}\r\n` : '';
        tokens.push({ type: 'string', text: 'text:', value, line: startLine, column });
        i = Math.min(k, n);
        continue;
      }
      tokens.push({ type: 'identifier', text: word, line, column });
      i = j;
      continue;
    }
    if (ch === ':') {
      let j = i + 1;
      if (j < n && /[A-Za-z_]/.test(src[j]!)) {
        while (j < n && /[A-Za-z0-9_]/.test(src[j]!)) j++;
        tokens.push({ type: 'tag', text: src.slice(i + 1, j), line, column });
      } else {
        err(line, column, "unexpected character ':' not followed by an identifier");
      }
      i = j;
      continue;
    }
    if (ch >= '0' && ch <= '9') {
      let j = i;
      while (j < n && src[j]! >= '0' && src[j]! <= '9') j++;
      let value = Number(src.slice(i, j));
      const q = src[j];
      if (q === 'K' || q === 'k') value *= 1024;
      else if (q === 'M' || q === 'm') value *= 1024 * 1024;
      else if (q === 'G' || q === 'g') value *= 1024 * 1024 * 1024;
      if (q && 'KkMmGg'.includes(q)) j++;
      if (value > MAX_NUMBER) err(line, column, `number exceeds size limit (${MAX_NUMBER})`);
      tokens.push({ type: 'number', text: src.slice(i, j), value, line, column });
      i = j;
      continue;
    }
    err(line, column, `unexpected character '${ch}'`);
    i++;
  }
  tokens.push({ type: 'eof', text: '', line, column: i - lineStart + 1 });
  return tokens;
}

/** Parses a script into commands; syntax errors are appended to `errors` (parsing stops at the first). */
export function parseSieve(src: string, errors: SieveError[], maxNesting: number): ParsedNode[] {
  const lexErrors: SieveError[] = [];
  const tokens = tokenize(src, lexErrors);
  if (lexErrors.length) {
    errors.push(...lexErrors);
    return [];
  }
  let p = 0;
  const peek = () => tokens[p]!;
  const next = () => tokens[p++]!;
  const describe = (t: Token) =>
    t.type === 'eof'
      ? 'end of script'
      : t.type === 'identifier'
        ? `identifier '${t.text}'`
        : t.type === 'string'
          ? 'string'
          : t.type === 'number'
            ? 'number'
            : t.type === 'tag'
              ? `tag ':${t.text}'`
              : `'${t.text}'`;
  const fail = (t: Token, message: string): never => {
    throw new SyntaxError_(t.line, t.column, message);
  };

  const parseArgs = (): Arg[] => {
    const args: Arg[] = [];
    for (;;) {
      const t = peek();
      if (t.type === 'tag') {
        next();
        args.push({ type: 'tag', name: t.text.toLowerCase(), line: t.line, column: t.column });
      } else if (t.type === 'number') {
        next();
        args.push({ type: 'number', value: t.value as number, line: t.line, column: t.column });
      } else if (t.type === 'string') {
        next();
        args.push({ type: 'string', value: t.value as string, line: t.line, column: t.column });
      } else if (t.type === '[') {
        next();
        const values: string[] = [];
        for (;;) {
          const s = next();
          if (s.type !== 'string') fail(s, `expecting string in string list, but found ${describe(s)}`);
          values.push(s.value as string);
          const sep = next();
          if (sep.type === ']') break;
          if (sep.type !== ',') fail(sep, `expecting ',' or ']' in string list, but found ${describe(sep)}`);
        }
        args.push({ type: 'stringlist', values, line: t.line, column: t.column });
      } else return args;
    }
  };

  const parseTest = (depth: number): ParsedNode => {
    const t = next();
    if (t.type !== 'identifier') fail(t, `expecting test identifier, but found ${describe(t)}`);
    if (depth > maxNesting) fail(t, `cannot nest tests deeper than ${maxNesting} levels`);
    return parseNode(t, depth);
  };

  /** Arguments and tests after a command or test identifier. */
  const parseNode = (t: Token, depth: number): ParsedNode => {
    const node: ParsedNode = {
      name: t.text.toLowerCase(),
      args: parseArgs(),
      tests: [],
      block: null,
      line: t.line,
      column: t.column,
    };
    const a = peek();
    if (a.type === '(') {
      next();
      for (;;) {
        node.tests.push(parseTest(depth + 1));
        const sep = next();
        if (sep.type === ')') break;
        if (sep.type !== ',') fail(sep, `expecting ',' or ')' in test list, but found ${describe(sep)}`);
      }
    } else if (a.type === 'identifier') {
      node.tests.push(parseTest(depth + 1));
    }
    return node;
  };

  const parseCommands = (depth: number, inBlock: boolean): ParsedNode[] => {
    const commands: ParsedNode[] = [];
    for (;;) {
      const t = peek();
      if (t.type === 'eof') {
        if (inBlock) fail(t, "expecting '}' to end block, but found end of script");
        return commands;
      }
      if (t.type === '}') {
        if (!inBlock) fail(t, "unexpected '}' outside a block");
        return commands;
      }
      next();
      if (t.type !== 'identifier') fail(t, `expecting command identifier, but found ${describe(t)}`);
      const node = parseNode(t, depth);
      const end = next();
      if (end.type === '{') {
        if (depth + 1 > maxNesting) fail(end, `cannot nest command blocks deeper than ${maxNesting} levels`);
        node.block = parseCommands(depth + 1, true);
        next();
      } else if (end.type !== ';') {
        fail(end, `expecting ';' or '{' after command '${node.name}', but found ${describe(end)}`);
      }
      commands.push(node);
    }
  };

  try {
    return parseCommands(0, false);
  } catch (e) {
    if (e instanceof SyntaxError_) {
      errors.push({ line: e.line, column: e.column, message: e.message });
      return [];
    }
    throw e;
  }
}
