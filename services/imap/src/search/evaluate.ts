import type { MessageMeta } from '@hermod/mail-store';
import { addressText, parseAddressList } from '../mime/addresses.js';
import type { HeaderField } from '../mime/header-fields.js';
import { inSequenceSet } from '../protocol/sequence-set.js';
import { decodeEncodedWords } from './base-subject.js';
import type { SearchKey } from './search-query.js';

export interface Candidate {
  meta: MessageMeta;
  seq: number;
  recent: boolean;
  headers?: HeaderField[];
  /** Lower-cased text of the body (or whole message for TEXT). */
  body?: string;
  whole?: string;
}

export interface SearchContext {
  maxSeq: number;
  maxUid: number;
  saved: readonly number[];
  /** The time the search started (ms), the reference point of OLDER / YOUNGER. */
  now: number;
}

const DAY = 86_400_000;
const startOfDay = (time: number) => Math.floor(time / DAY) * DAY;

function compareDay(time: number, cmp: 'before' | 'on' | 'since', day: number): boolean {
  const d = startOfDay(time);
  return cmp === 'before' ? d < day : cmp === 'on' ? d === day : d >= day;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/**
 * The calendar day a Date header names, as its writer saw it: SENT* keys compare dates
 * "disregarding time and timezone" (RFC 3501 6.4.4), so 23:30 -0500 on the 1st is the 1st, not
 * the 2nd in UTC. Falls back to Date.parse for unusual forms.
 */
function sentDay(value: string): number | undefined {
  const m = /(?:^|[\s,])(\d{1,2})\s+([a-z]{3})[a-z]*\s+(\d{2,4})\b/i.exec(value);
  const month = m ? MONTHS.indexOf(m[2]!.toLowerCase()) : -1;
  if (m && month >= 0) {
    let year = Number(m[3]);
    if (m[3]!.length === 2) year += year < 50 ? 2000 : 1900; // RFC 5322 4.3 obsolete two-digit years
    return Date.UTC(year, month, Number(m[1]));
  }
  const time = Date.parse(value.replace(/\s*\([^)]*\)\s*$/, ''));
  return Number.isFinite(time) ? time : undefined;
}

/** Evaluates a search key against one message; text matches are case-insensitive substrings. */
export function matches(key: SearchKey, c: Candidate, ctx: SearchContext): boolean {
  switch (key.op) {
    case 'all':
      return true;
    case 'flag':
      return c.meta.flags.includes(key.flag) === key.present;
    case 'recent':
      return c.recent === key.present;
    case 'new':
      return c.recent && !c.meta.flags.includes('\\Seen');
    case 'seq':
      return key.set === '$' ? ctx.saved.includes(c.meta.uid) : inSequenceSet(key.set, c.seq, ctx.maxSeq);
    case 'uid':
      return key.set === '$'
        ? ctx.saved.includes(c.meta.uid)
        : inSequenceSet(key.set, c.meta.uid, ctx.maxUid);
    case 'size':
      return key.larger ? c.meta.size > key.n : c.meta.size < key.n;
    case 'modseq':
      return c.meta.modseq >= key.n;
    case 'emailid':
      return c.meta.bodyId === key.bodyId;
    case 'age': {
      // OLDER n: received at least n seconds ago; YOUNGER n: less than n seconds ago (RFC 5032 3).
      const older = c.meta.internalDate.getTime() <= ctx.now - key.seconds * 1000;
      return older === key.older;
    }
    case 'date': {
      // The internal date's day is the one it names in the zone it was given in.
      if (key.of === 'internal')
        return compareDay(
          c.meta.internalDate.getTime() + (c.meta.internalDateZone ?? 0) * 60_000,
          key.cmp,
          key.day,
        );
      if (key.of === 'saved') return compareDay(c.meta.savedDate.getTime(), key.cmp, key.day);
      const value = c.headers?.find((h) => h.name === 'date')?.value;
      const day = value ? sentDay(value) : undefined;
      return day !== undefined && compareDay(day, key.cmp, key.day);
    }
    case 'header': {
      // Encoded words are decoded before comparing (RFC 3501 6.4.4).
      const needle = key.value.toLowerCase();
      return (c.headers ?? []).some(
        (h) =>
          h.name === key.name &&
          decodeEncodedWords(key.address ? addressText(parseAddressList(h.value)) : h.value)
            .toLowerCase()
            .includes(needle),
      );
    }
    case 'body':
      return (key.withHeaders ? c.whole : c.body)?.includes(key.value.toLowerCase()) ?? false;
    case 'not':
      return !matches(key.key, c, ctx);
    case 'or':
      return matches(key.a, c, ctx) || matches(key.b, c, ctx);
    case 'and':
      return key.keys.every((k) => matches(k, c, ctx));
  }
}

export function usesModseq(key: SearchKey): boolean {
  if (key.op === 'modseq') return true;
  if (key.op === 'not') return usesModseq(key.key);
  if (key.op === 'or') return usesModseq(key.a) || usesModseq(key.b);
  if (key.op === 'and') return key.keys.some(usesModseq);
  return false;
}
