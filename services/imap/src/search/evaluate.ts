import type { MessageMeta } from '@hermod/mail-store';
import type { HeaderField } from '../mime/header-fields.js';
import { inSequenceSet } from '../protocol/sequence-set.js';
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
  saved: number[];
}

const DAY = 86_400_000;
const startOfDay = (time: number) => Math.floor(time / DAY) * DAY;

function compareDay(time: number, cmp: 'before' | 'on' | 'since', day: number): boolean {
  const d = startOfDay(time);
  return cmp === 'before' ? d < day : cmp === 'on' ? d === day : d >= day;
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
    case 'date': {
      if (!key.sent) return compareDay(c.meta.internalDate.getTime(), key.cmp, key.day);
      const value = c.headers?.find((h) => h.name === 'date')?.value;
      const time = value ? Date.parse(value.replace(/\s*\([^)]*\)\s*$/, '')) : Number.NaN;
      return Number.isFinite(time) && compareDay(time, key.cmp, key.day);
    }
    case 'header': {
      const needle = key.value.toLowerCase();
      return (c.headers ?? []).some((h) => h.name === key.name && h.value.toLowerCase().includes(needle));
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
