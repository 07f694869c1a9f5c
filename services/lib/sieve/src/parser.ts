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
  /** A lexical error already reported: the parser reports nothing more about it. */
  | 'error'
  /** Unexpected characters (a run of them is reported once). */
  | 'garbage'
  | 'eof';

interface Token {
  type: TokenType;
  text: string;
  value?: number | string;
  line: number;
  column: number;
  /** Garbage tokens: offset just past the character. */
  end?: number;
}

/** Numbers are 64-bit unsigned (larger ones are lexical errors). */
const MAX_NUMBER = 2n ** 64n - 1n;
/** Longest identifier or tag name. */
const MAX_IDENTIFIER = 32;

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
      if (end < 0) {
        err(line, column, 'end of file before end of bracket comment ("*/")');
        tokens.push({ type: 'error', text: '', line, column });
      }
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
        type: closed ? 'string' : 'error',
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
        let bad = false;
        if (src[k] !== '\n') {
          bad = true;
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
        const type = closed && !bad ? 'string' : 'error';
        tokens.push({ type, text: 'text:', value, line: startLine, column });
        i = Math.min(k, n);
        continue;
      }
      if (word.length > MAX_IDENTIFIER) {
        err(line, column, `encountered impossibly long identifier '${word.slice(0, MAX_IDENTIFIER)}'`);
        tokens.push({ type: 'error', text: word, line, column });
      } else tokens.push({ type: 'identifier', text: word, line, column });
      i = j;
      continue;
    }
    if (ch === ':') {
      let j = i + 1;
      if (j < n && /[A-Za-z_]/.test(src[j]!)) {
        while (j < n && /[A-Za-z0-9_]/.test(src[j]!)) j++;
        const name = src.slice(i + 1, j);
        if (name.length > MAX_IDENTIFIER) {
          err(line, column, `encountered impossibly long tag identifier ':${name.slice(0, MAX_IDENTIFIER)}'`);
          tokens.push({ type: 'error', text: name, line, column });
        } else tokens.push({ type: 'tag', text: name, line, column });
      } else {
        err(line, column, "unexpected character ':' not followed by an identifier");
        tokens.push({ type: 'error', text: ':', line, column });
      }
      i = j;
      continue;
    }
    if (ch >= '0' && ch <= '9') {
      let j = i;
      while (j < n && src[j]! >= '0' && src[j]! <= '9') j++;
      let value = BigInt(src.slice(i, j));
      const q = src[j];
      if (q === 'K' || q === 'k') value *= 1024n;
      else if (q === 'M' || q === 'm') value *= 1024n * 1024n;
      else if (q === 'G' || q === 'g') value *= 1024n * 1024n * 1024n;
      if (q && 'KkMmGg'.includes(q)) j++;
      if (value > MAX_NUMBER) {
        err(line, column, `number exceeds size limit (${MAX_NUMBER})`);
        tokens.push({ type: 'error', text: src.slice(i, j), line, column });
      } else tokens.push({ type: 'number', text: src.slice(i, j), value: Number(value), line, column });
      i = j;
      continue;
    }
    // a run of unexpected characters is one error (and one token per character)
    const prev = tokens[tokens.length - 1];
    if (!(prev?.type === 'garbage' && prev.end === i))
      err(line, column, `unexpected character(s) starting with '${ch}'`);
    tokens.push({ type: 'garbage', text: ch, line, column, end: i + 1 });
    i++;
  }
  tokens.push({ type: 'eof', text: '', line, column: i - lineStart + 1 });
  return tokens;
}

/** Most arguments one command or test may have. */
const MAX_ARGUMENTS = 32;
/** Parsing gives up after this many errors. */
const MAX_ERRORS = 100;

type Closer = ']' | ')' | ';' | '}';
/** Grammatical rank of the delimiters: recovery inside a structure never skips past a higher one. */
const RANK: Partial<Record<TokenType, number>> = { '[': 0, ']': 0, '(': 1, ')': 1, ';': 2, '{': 3, '}': 3 };
const OPENER: Record<Closer, TokenType | undefined> = { ']': '[', ')': '(', ';': undefined, '}': '{' };

/**
 * Parses a script into commands. Errors are appended to `errors`; after one the parser skips to the end of
 * the broken string list, test list, command or block and goes on, so one run reports every independent error.
 * The result is only meaningful when no error was reported.
 */
export function parseSieve(src: string, errors: SieveError[], maxNesting: number): ParsedNode[] {
  const errorsBefore = errors.length;
  const tokens = tokenize(src, errors);
  let p = 0;
  const peek = () => tokens[p]!;
  const skip = () => {
    if (tokens[p]!.type !== 'eof') p++;
  };
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
  /** Reports at the current token, unless the lexer already reported that token. */
  const error = (message: string, at: Token = peek()) => {
    if (at.type !== 'error') errors.push({ line: at.line, column: at.column, message });
  };
  const tooMany = () => errors.length - errorsBefore >= MAX_ERRORS;

  /**
   * Skips to the `end` that closes the current structure (nested pairs included) and stops there; false when
   * end of script or a delimiter of a larger structure comes first. A command may also end at its block.
   */
  const recover = (end: Closer): boolean => {
    const rank = RANK[end]!;
    const open = OPENER[end];
    let nesting = 1;
    for (;;) {
      const t = peek();
      if (t.type === 'eof' || (RANK[t.type] ?? -1) > rank) break;
      if (t.type === open) nesting++;
      else if (t.type === end && --nesting === 0) return true;
      skip();
    }
    return end === ';' && peek().type === '{';
  };

  /** Arguments and tests after a command or test identifier; false when not in a defined state. */
  const parseArguments = (node: ParsedNode, depth: number): boolean => {
    for (;;) {
      if (tooMany()) return false;
      const t = peek();
      if (t.type === 'tag') {
        skip();
        node.args.push({ type: 'tag', name: t.text.toLowerCase(), line: t.line, column: t.column });
      } else if (t.type === 'number') {
        skip();
        node.args.push({ type: 'number', value: t.value as number, line: t.line, column: t.column });
      } else if (t.type === 'string') {
        skip();
        node.args.push({ type: 'string', value: t.value as string, line: t.line, column: t.column });
      } else if (t.type === '[') {
        skip();
        const values: string[] = [];
        let ok = true;
        if (peek().type === 'string') {
          values.push(peek().value as string);
          skip();
          while (ok && peek().type === ',') {
            skip();
            if (peek().type === 'string') {
              values.push(peek().value as string);
              skip();
            } else {
              error(`expecting string after ',' in string list, but found ${describe(peek())}`);
              ok = recover(']');
            }
          }
        } else {
          error(`expecting string after '[' in string list, but found ${describe(peek())}`);
          ok = recover(']');
        }
        if (!ok) return false;
        if (peek().type !== ']') {
          error(`expecting ',' or end of string list ']', but found ${describe(peek())}`);
          if (!recover(']')) return false;
        }
        skip();
        node.args.push({ type: 'stringlist', values, line: t.line, column: t.column });
      } else break;
      if (node.args.length > MAX_ARGUMENTS) {
        error(`too many arguments for '${node.name}' (limit is ${MAX_ARGUMENTS})`);
        return false;
      }
    }
    const t = peek();
    if (t.type === 'identifier') {
      if (depth + 1 > maxNesting) {
        error(`cannot nest tests deeper than ${maxNesting} levels`);
        return false;
      }
      skip();
      const test = newNode(t);
      node.tests.push(test);
      return parseArguments(test, depth + 1);
    }
    if (t.type !== '(') return true;
    skip();
    if (depth + 1 > maxNesting) {
      error(`cannot nest tests deeper than ${maxNesting} levels`, t);
      if (!recover(')')) return false;
      skip();
      return true;
    }
    let ok = true;
    for (let first = true; ; first = false) {
      const id = peek();
      if (id.type !== 'identifier') {
        error(
          `expecting test identifier ${first ? "after '('" : "after ','"} in test list, but found ${describe(id)}`,
        );
        ok = recover(')');
        break;
      }
      skip();
      const test = newNode(id);
      node.tests.push(test);
      if (!parseArguments(test, depth + 1)) {
        ok = recover(')');
        break;
      }
      if (peek().type !== ',') break;
      skip();
      if (tooMany()) return false;
    }
    if (!ok) return false;
    if (peek().type !== ')') {
      error(`expecting ',' or end of test list ')', but found ${describe(peek())}`);
      if (!recover(')')) return false;
    }
    skip();
    return true;
  };

  const newNode = (t: Token): ParsedNode => ({
    name: t.text.toLowerCase(),
    args: [],
    tests: [],
    block: null,
    line: t.line,
    column: t.column,
  });

  /** Commands up to the end of the block (or script); false when not in a defined state. */
  const parseCommands = (commands: ParsedNode[], depth: number): boolean => {
    while (peek().type === 'identifier') {
      if (tooMany()) return false;
      const t = peek();
      skip();
      const node = newNode(t);
      let ok = parseArguments(node, 0);
      if (ok && peek().type !== ';' && peek().type !== '{') {
        error(`expecting ';' or '{' after command '${node.name}', but found ${describe(peek())}`);
        ok = false;
      }
      if (!ok && !recover(';')) return false;
      commands.push(node);
      if (peek().type === ';') {
        skip();
        continue;
      }
      const open = peek();
      skip(); // '{'
      if (depth + 1 > maxNesting) {
        error(`cannot nest command blocks deeper than ${maxNesting} levels`, open);
        if (!recover('}')) return false;
        skip();
        continue;
      }
      node.block = [];
      if (parseCommands(node.block, depth + 1)) {
        if (peek().type !== '}') {
          error(`expecting '}' to end the block of command '${node.name}', but found ${describe(peek())}`);
          if (!recover('}')) return false;
        }
      } else if (!recover('}')) return false;
      skip();
    }
    return true;
  };

  const commands: ParsedNode[] = [];
  if (parseCommands(commands, 0) && peek().type !== 'eof')
    error(`unexpected ${describe(peek())} found at (the presumed) end of script`);
  // the lexer ran ahead of the parser: report in script order
  const found = errors.splice(errorsBefore).sort((x, y) => x.line - y.line || x.column - y.column);
  errors.push(...found);
  return commands;
}
