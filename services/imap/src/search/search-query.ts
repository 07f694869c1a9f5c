import { type ArgumentCursor, normalizeFlag } from '../protocol/arguments.js';
import { parseImapDate } from '../protocol/compose.js';
import { BadArgumentsError } from '../protocol/errors.js';
import { OBJECT_ID } from '../protocol/object-id.js';
import { stringBytes, type Token } from '../protocol/parser.js';
import { parseSequenceSet, type SequenceSet } from '../protocol/sequence-set.js';
import { parseReturnOptions, type ReturnOptions } from './esearch.js';

export type SearchKey =
  | { op: 'all' }
  | { op: 'flag'; flag: string; present: boolean }
  | { op: 'recent'; present: boolean }
  | { op: 'new' }
  | { op: 'seq'; set: SequenceSet | '$' }
  | { op: 'uid'; set: SequenceSet | '$' }
  | { op: 'size'; larger: boolean; n: number }
  /** BEFORE/ON/SINCE (internal date), SENT* (Date header), SAVED* (save date, RFC 8514). */
  | { op: 'date'; of: 'internal' | 'sent' | 'saved'; cmp: 'before' | 'on' | 'since'; day: number }
  /** A header's text; `address`: FROM/TO/CC/BCC, matched against the parsed addresses (RFC 3501 6.4.4). */
  | { op: 'header'; name: string; value: string; address?: boolean }
  | { op: 'body'; value: string; withHeaders: boolean }
  | { op: 'modseq'; n: number }
  /** OBJECTID (RFC 8474 6): EMAILID is the stored body's id; no message has a THREADID. */
  | { op: 'emailid'; bodyId: number | undefined }
  /** WITHIN (RFC 5032): OLDER / YOUNGER than `seconds` before the search runs, by internal date. */
  | { op: 'age'; older: boolean; seconds: number }
  | { op: 'not'; key: SearchKey }
  | { op: 'or'; a: SearchKey; b: SearchKey }
  | { op: 'and'; keys: SearchKey[] };

const FLAG_KEYS: Record<string, [string, boolean]> = {
  ANSWERED: ['\\Answered', true],
  DELETED: ['\\Deleted', true],
  DRAFT: ['\\Draft', true],
  FLAGGED: ['\\Flagged', true],
  SEEN: ['\\Seen', true],
  UNANSWERED: ['\\Answered', false],
  UNDELETED: ['\\Deleted', false],
  UNDRAFT: ['\\Draft', false],
  UNFLAGGED: ['\\Flagged', false],
  UNSEEN: ['\\Seen', false],
};
const HEADER_KEYS = new Set(['FROM', 'TO', 'CC', 'BCC', 'SUBJECT']);
const DATE_KEYS: Record<string, ['internal' | 'sent' | 'saved', 'before' | 'on' | 'since']> = {
  BEFORE: ['internal', 'before'],
  ON: ['internal', 'on'],
  SINCE: ['internal', 'since'],
  SENTBEFORE: ['sent', 'before'],
  SENTON: ['sent', 'on'],
  SENTSINCE: ['sent', 'since'],
  SAVEDBEFORE: ['saved', 'before'],
  SAVEDON: ['saved', 'on'],
  SAVEDSINCE: ['saved', 'since'],
};

/** A cursor over a token list (the top-level arguments or a parenthesised group). */
class Tokens {
  i = 0;
  constructor(readonly items: Token[]) {}
  next(): Token {
    const t = this.items[this.i++];
    if (!t) throw new BadArgumentsError('Incomplete search key');
    return t;
  }
  text(): string {
    const t = this.next();
    if (t.type === 'atom') return t.value;
    if (t.type === 'string') return stringBytes(t).toString('utf8');
    throw new BadArgumentsError('Expected a string');
  }
  number(): number {
    const v = this.text();
    if (!/^\d{1,19}$/.test(v)) throw new BadArgumentsError('Expected a number');
    return Number(v);
  }
}

function dayOf(text: string): number {
  const date = parseImapDate(text, false);
  if (!date) throw new BadArgumentsError('Invalid date');
  return date.getTime();
}

/** entry-name = DQUOTE "/flags/" attr-flag DQUOTE; entry-type-req = "priv" / "shared" / "all". */
function checkModseqEntry(name: string, type: string): void {
  const flag = /^\/flags\/(.*)$/i.exec(name)?.[1];
  if (flag === undefined) throw new BadArgumentsError('MODSEQ entry name must be "/flags/<flag>"');
  // attr-flag: a system flag, a keyword or "\\" atom (attr-flag-extension); \Recent has no
  // mod-sequence of its own (it is not stored with the message).
  if (flag.toLowerCase() === '\\recent') throw new BadArgumentsError('MODSEQ has no \\Recent entry');
  normalizeFlag(flag.startsWith('\\') ? flag.slice(1) : flag);
  if (!/^(priv|shared|all)$/i.test(type))
    throw new BadArgumentsError('MODSEQ entry type must be priv, shared or all');
}

function parseKey(tokens: Tokens, depth: number): SearchKey {
  if (depth > 50) throw new BadArgumentsError('Search too deeply nested');
  const token = tokens.next();
  if (token.type === 'list') {
    const inner = new Tokens(token.items);
    const keys: SearchKey[] = [];
    while (inner.i < inner.items.length) keys.push(parseKey(inner, depth + 1));
    if (keys.length === 0) throw new BadArgumentsError('Empty search group');
    return keys.length === 1 ? keys[0]! : { op: 'and', keys };
  }
  if (token.type !== 'atom') throw new BadArgumentsError('Invalid search key');
  const name = token.value.toUpperCase();
  const flag = FLAG_KEYS[name];
  if (flag) return { op: 'flag', flag: flag[0], present: flag[1] };
  const date = DATE_KEYS[name];
  if (date) return { op: 'date', of: date[0], cmp: date[1], day: dayOf(tokens.text()) };
  if (HEADER_KEYS.has(name))
    return {
      op: 'header',
      name: name.toLowerCase(),
      value: tokens.text(),
      ...(name === 'SUBJECT' ? {} : { address: true }),
    };
  switch (name) {
    case 'ALL':
    // Every mailbox stores save dates, so SAVEDATESUPPORTED matches all messages (RFC 8514 2.2).
    case 'SAVEDATESUPPORTED':
      return { op: 'all' };
    case 'NEW':
      return { op: 'new' };
    case 'OLD':
      return { op: 'recent', present: false };
    case 'RECENT':
      return { op: 'recent', present: true };
    case 'KEYWORD':
      return { op: 'flag', flag: normalizeFlag(tokens.text()), present: true };
    case 'UNKEYWORD':
      return { op: 'flag', flag: normalizeFlag(tokens.text()), present: false };
    case 'LARGER':
      return { op: 'size', larger: true, n: tokens.number() };
    case 'SMALLER':
      return { op: 'size', larger: false, n: tokens.number() };
    case 'HEADER': {
      const field = tokens.text().toLowerCase();
      return { op: 'header', name: field, value: tokens.text() };
    }
    case 'BODY':
      return { op: 'body', value: tokens.text(), withHeaders: false };
    case 'TEXT':
      return { op: 'body', value: tokens.text(), withHeaders: true };
    case 'UID': {
      const set = tokens.text();
      return { op: 'uid', set: set === '$' ? '$' : parseSequenceSet(set) };
    }
    case 'OLDER':
    case 'YOUNGER': {
      const seconds = tokens.number();
      // search-key =/ ( "OLDER" / "YOUNGER" ) SP nz-number (RFC 5032 section 4)
      if (seconds === 0 || seconds > 0xffffffff) throw new BadArgumentsError(`Invalid ${name} interval`);
      return { op: 'age', older: name === 'OLDER', seconds };
    }
    case 'EMAILID':
    case 'THREADID': {
      const id = tokens.text();
      if (!OBJECT_ID.test(id)) throw new BadArgumentsError(`Invalid ${name}`);
      if (name === 'THREADID') return { op: 'not', key: { op: 'all' } };
      const m = /^E([1-9]\d{0,15})$/.exec(id);
      return { op: 'emailid', bodyId: m ? Number(m[1]) : undefined };
    }
    case 'NOT':
      return { op: 'not', key: parseKey(tokens, depth + 1) };
    case 'OR':
      return { op: 'or', a: parseKey(tokens, depth + 1), b: parseKey(tokens, depth + 1) };
    case 'MODSEQ': {
      // search-modsequence = "MODSEQ" [SP entry-name SP entry-type-req] SP mod-sequence-valzer
      // (RFC 7162 section 7). The entry is checked, then ignored: a message has one mod-sequence.
      let value = tokens.text();
      if (!/^\d+$/.test(value)) {
        checkModseqEntry(value, tokens.text());
        value = tokens.text();
      }
      if (!/^\d{1,19}$/.test(value)) throw new BadArgumentsError('Invalid MODSEQ');
      return { op: 'modseq', n: Number(value) };
    }
    default:
      if (name === '$' || /^[0-9*:,]+$/.test(name))
        return { op: 'seq', set: name === '$' ? '$' : parseSequenceSet(name) };
      throw new BadArgumentsError(`Unknown search key ${name.slice(0, 30)}`);
  }
}

export interface SearchProgram {
  key: SearchKey;
  charset: string | undefined;
  /** ESEARCH RETURN options, or undefined for a plain SEARCH. */
  returns: ReturnOptions | undefined;
}

/** `[RETURN (...)] [CHARSET x] key...` */
export function parseSearch(args: ArgumentCursor): SearchProgram {
  const rest: Token[] = [];
  while (args.remaining > 0) rest.push(args.next());
  const tokens = new Tokens(rest);
  let returns: ReturnOptions | undefined;
  let charset: string | undefined;
  const peekAtom = () => {
    const t = tokens.items[tokens.i];
    return t?.type === 'atom' ? t.value.toUpperCase() : undefined;
  };
  if (peekAtom() === 'RETURN') {
    tokens.i++;
    const list = tokens.next();
    if (list.type !== 'list') throw new BadArgumentsError('RETURN needs a list');
    returns = parseReturnOptions(list.items, true);
  }
  if (peekAtom() === 'CHARSET') {
    tokens.i++;
    charset = tokens.text().toUpperCase();
  }
  const keys: SearchKey[] = [];
  while (tokens.i < tokens.items.length) keys.push(parseKey(tokens, 0));
  if (keys.length === 0) throw new BadArgumentsError('Missing search key');
  return { key: keys.length === 1 ? keys[0]! : { op: 'and', keys }, charset, returns };
}

/** Whether a key names messages by sequence number (refused under UIDONLY, RFC 9586); `$` does not. */
export function referencesSequenceNumbers(key: SearchKey): boolean {
  switch (key.op) {
    case 'seq':
      return key.set !== '$';
    case 'not':
      return referencesSequenceNumbers(key.key);
    case 'or':
      return referencesSequenceNumbers(key.a) || referencesSequenceNumbers(key.b);
    case 'and':
      return key.keys.some(referencesSequenceNumbers);
    default:
      return false;
  }
}

/** Whether evaluating the key needs the message's headers or body. */
export function needs(key: SearchKey): { headers: boolean; body: boolean } {
  switch (key.op) {
    case 'header':
      return { headers: true, body: false };
    case 'date':
      return { headers: key.of === 'sent', body: false };
    case 'body':
      return { headers: false, body: true };
    case 'not':
      return needs(key.key);
    case 'or':
    case 'and': {
      const parts = key.op === 'or' ? [key.a, key.b] : key.keys;
      return parts
        .map(needs)
        .reduce((a, b) => ({ headers: a.headers || b.headers, body: a.body || b.body }), {
          headers: false,
          body: false,
        });
    }
    default:
      return { headers: false, body: false };
  }
}
