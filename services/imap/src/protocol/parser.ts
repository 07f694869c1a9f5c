import type { RawCommand } from './command-reader.js';
import { ImapProtocolError } from './errors.js';

export type Token =
  | { type: 'atom'; value: string }
  /** Quoted string or literal; literals keep their received chunks (an APPEND body is never joined). */
  | { type: 'string'; chunks: Buffer[]; size: number; literal: boolean; literal8?: boolean }
  | { type: 'list'; items: Token[] };

export interface ParsedCommand {
  tag: string;
  /** Upper-cased command name. */
  name: string;
  args: Token[];
}

// atom-specials: ( ) { SP CTL % * " \ ]  — we let % * \ through (list wildcards, flags, sequence sets)
// and ] too (an astring may hold it: ASTRING-CHAR includes resp-specials). [ is an ordinary atom
// character (a mailbox may be called a[b), except after a fetch item that takes a section: there
// [ ... ] embeds anything up to its matching bracket (BODY[HEADER.FIELDS (A B)]<0.10>).
const isAtomChar = (c: number) =>
  c > 0x20 && c < 0x7f && c !== 0x28 && c !== 0x29 && c !== 0x7b && c !== 0x22;
const SECTION_ITEM = /^(BODY|BODY\.PEEK|BINARY|BINARY\.PEEK|BINARY\.SIZE)$/i;

/**
 * Turns a received command into tag, name and a token tree. Nesting depth is capped (before and
 * after login differently) so deep parentheses cost nothing (Dovecot CVE-2026-27857).
 */
export function parseCommand(raw: RawCommand, maxNesting: number): ParsedCommand {
  const first = raw.texts[0] ?? Buffer.alloc(0);
  const space = first.indexOf(0x20);
  const tag = first.subarray(0, space < 0 ? first.length : space).toString('latin1');
  if (!tag || !/^[\x21-\x7e]+$/.test(tag) || /[(){%*"\\+]/.test(tag))
    throw new ImapProtocolError('BAD_SYNTAX', 'Invalid tag');
  if (space < 0) throw new ImapProtocolError('BAD_SYNTAX', 'Missing command', false, tag);
  let nameEnd = first.indexOf(0x20, space + 1);
  if (nameEnd < 0) nameEnd = first.length;
  const name = first
    .subarray(space + 1, nameEnd)
    .toString('latin1')
    .toUpperCase();
  if (!/^[A-Z0-9.-]+$/.test(name))
    throw new ImapProtocolError('BAD_SYNTAX', 'Invalid command name', false, tag);
  const texts = [first.subarray(nameEnd), ...raw.texts.slice(1)];
  const args = tokenize(texts, raw.literals, maxNesting, tag, raw.literal8);
  return { tag, name, args };
}

/** Tokenizes argument text pieces interleaved with literals. Exported for the fetch/search sub-grammars. */
export function tokenize(
  texts: Buffer[],
  literals: Buffer[][],
  maxNesting: number,
  tag?: string,
  literal8: readonly boolean[] = [],
): Token[] {
  const root: Token[] = [];
  const stack: Token[][] = [root];
  const fail = (message: string) => new ImapProtocolError('BAD_SYNTAX', message, false, tag);
  for (let part = 0; part < texts.length; part++) {
    const text = texts[part]!;
    let i = 0;
    while (i < text.length) {
      const c = text[i]!;
      const current = stack[stack.length - 1]!;
      if (c === 0x20) {
        i++;
      } else if (c === 0x28) {
        if (stack.length > maxNesting)
          throw new ImapProtocolError('NESTING_TOO_DEEP', 'Too deep nesting', false, tag);
        const list: Token = { type: 'list', items: [] };
        current.push(list);
        stack.push(list.items);
        i++;
      } else if (c === 0x29) {
        if (stack.length === 1) throw fail('Unexpected )');
        stack.pop();
        i++;
      } else if (c === 0x22) {
        const bytes: number[] = [];
        i++;
        let closed = false;
        while (i < text.length) {
          const q = text[i]!;
          if (q === 0x5c) {
            const next = text[i + 1];
            if (next !== 0x22 && next !== 0x5c) throw fail('Invalid escape in quoted string');
            bytes.push(next);
            i += 2;
          } else if (q === 0x22) {
            closed = true;
            i++;
            break;
          } else {
            if (q === 0x0d || q === 0x0a || q === 0) throw fail('Invalid character in quoted string');
            bytes.push(q);
            i++;
          }
        }
        if (!closed) throw fail('Unterminated quoted string');
        current.push({ type: 'string', chunks: [Buffer.from(bytes)], size: bytes.length, literal: false });
      } else if (isAtomChar(c)) {
        const start = i;
        while (i < text.length && isAtomChar(text[i]!)) {
          if (text[i] === 0x5b && SECTION_ITEM.test(text.subarray(start, i).toString('latin1')))
            i = sectionEnd(text, i, fail);
          else i++;
        }
        current.push({ type: 'atom', value: text.subarray(start, i).toString('latin1') });
      } else {
        throw fail(`Unexpected character 0x${c.toString(16)}`);
      }
    }
    const literal = literals[part];
    if (literal) {
      const last = text[text.length - 1];
      if (text.length > 0 && last !== 0x20 && last !== 0x28) throw fail('Literal must follow a space');
      const size = literal.reduce((n, c) => n + c.length, 0);
      const token: Extract<Token, { type: 'string' }> = {
        type: 'string',
        chunks: literal,
        size,
        literal: true,
      };
      if (literal8[part]) token.literal8 = true;
      stack[stack.length - 1]!.push(token);
    }
  }
  if (stack.length !== 1) throw fail('Unbalanced parentheses');
  return root;
}

/** The index after the ] that closes the section starting at text[open] ('['). */
function sectionEnd(text: Buffer, open: number, fail: (message: string) => Error): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const a = text[i]!;
    if (a === 0x5b) depth++;
    else if (a === 0x5d && --depth === 0) return i + 1;
    else if (a < 0x20 || a === 0x7f) throw fail('Invalid character');
  }
  throw fail('Unterminated [');
}

/** The bytes of a string token (joined; only for small values). */
export function stringBytes(token: Extract<Token, { type: 'string' }>): Buffer {
  return token.chunks.length === 1 ? token.chunks[0]! : Buffer.concat(token.chunks, token.size);
}
