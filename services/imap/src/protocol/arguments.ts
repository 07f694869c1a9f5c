import { BadArgumentsError } from './errors.js';
import { stringBytes, type Token } from './parser.js';
import { parseSequenceSet, type SequenceSet } from './sequence-set.js';
import { decodeMailboxName } from './utf7.js';

type StringToken = Extract<Token, { type: 'string' }>;
type ListToken = Extract<Token, { type: 'list' }>;

/** Reads a command's arguments in order; every mismatch is a BadArgumentsError (tagged BAD). */
export class ArgumentCursor {
  private index = 0;

  constructor(private readonly tokens: Token[]) {}

  get remaining(): number {
    return this.tokens.length - this.index;
  }

  peek(): Token | undefined {
    return this.tokens[this.index];
  }

  next(what = 'argument'): Token {
    const token = this.tokens[this.index++];
    if (!token) throw new BadArgumentsError(`Missing ${what}`);
    return token;
  }

  atom(what = 'atom'): string {
    const token = this.next(what);
    if (token.type !== 'atom') throw new BadArgumentsError(`Expected ${what}`);
    return token.value;
  }

  /** atom or string, as UTF-8 text. A literal8 is not a string (RFC 3516 section 4.2). */
  astring(what = 'string'): string {
    const token = this.next(what);
    if (token.type === 'atom') return token.value;
    if (token.type === 'string' && !token.literal8) return stringBytes(token).toString('utf8');
    throw new BadArgumentsError(`Expected ${what}`);
  }

  stringToken(what = 'string'): StringToken {
    const token = this.next(what);
    if (token.type !== 'string') throw new BadArgumentsError(`Expected ${what}`);
    return token;
  }

  list(what = 'list'): ListToken {
    const token = this.next(what);
    if (token.type !== 'list') throw new BadArgumentsError(`Expected ${what}`);
    return token;
  }

  optionalList(): ListToken | undefined {
    const token = this.peek();
    if (token?.type !== 'list') return undefined;
    this.index++;
    return token;
  }

  /** A number of at most `max` (the default is what a JavaScript number holds exactly). */
  number(what = 'number', max = Number.MAX_SAFE_INTEGER): number {
    const value = this.atom(what);
    if (!/^\d{1,19}$/.test(value)) throw new BadArgumentsError(`Expected ${what}`);
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n > max) throw new BadArgumentsError(`${what} too large`);
    return n;
  }

  sequenceSet(): SequenceSet | '$' {
    const text = this.atom('sequence set');
    return text === '$' ? '$' : parseSequenceSet(text);
  }

  /** A mailbox name: modified UTF-7 unless the client enabled UTF8=ACCEPT; INBOX in any case is INBOX. */
  mailbox(utf8: boolean): string {
    const raw = this.astring('mailbox name');
    return normalizeMailboxName(utf8 ? raw : decodeMailboxName(raw));
  }

  end(): void {
    if (this.index < this.tokens.length) throw new BadArgumentsError('Too many arguments');
  }
}

export function normalizeMailboxName(name: string): string {
  const trimmed = name.replace(/\/+$/, '');
  if (trimmed.toUpperCase() === 'INBOX') return 'INBOX';
  if (trimmed.toUpperCase().startsWith('INBOX/')) return `INBOX${trimmed.slice(5)}`;
  return trimmed;
}

/** Flag lists: system flags are normalised to their canonical case; \Recent and \* cannot be set. */
export function parseFlagList(tokens: Token[]): string[] {
  const flags: string[] = [];
  for (const t of tokens) {
    if (t.type !== 'atom') throw new BadArgumentsError('Invalid flag');
    flags.push(normalizeFlag(t.value));
  }
  return [...new Set(flags)];
}

const SYSTEM_FLAGS = ['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft'];

export function normalizeFlag(flag: string): string {
  if (flag.startsWith('\\')) {
    const known = SYSTEM_FLAGS.find((f) => f.toLowerCase() === flag.toLowerCase());
    if (!known) throw new BadArgumentsError(`Invalid system flag ${flag}`);
    return known;
  }
  if (!/^[!#$&'+,\-./0-9:;<=>?@A-Z^_`a-z|}~]+$/.test(flag)) throw new BadArgumentsError('Invalid keyword');
  return flag;
}

export { SYSTEM_FLAGS };
