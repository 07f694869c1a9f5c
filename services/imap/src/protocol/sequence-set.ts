import { BadArgumentsError } from './errors.js';

/** A parsed sequence-set: ranges whose ends may be '*' (the largest number in use). */
export type SequenceSet = Array<[number | '*', number | '*']>;

/** number / nz-number are 32-bit (RFC 9051 section 9). */
export const MAX_NUMBER = 4294967295;

export function parseSequenceSet(text: string): SequenceSet {
  if (!/^[0-9*:,]+$/.test(text)) throw new BadArgumentsError('Invalid sequence set');
  const out: SequenceSet = [];
  for (const part of text.split(',')) {
    const ends = part.split(':');
    if (ends.length > 2) throw new BadArgumentsError('Invalid sequence set');
    const parsed = ends.map((e) => {
      if (e === '*') return '*' as const;
      if (!/^[1-9]\d{0,9}$/.test(e) || Number(e) > MAX_NUMBER)
        throw new BadArgumentsError('Invalid sequence number');
      return Number(e);
    });
    out.push([parsed[0]!, parsed[1] ?? parsed[0]!]);
  }
  return out;
}

/** Whether n is in the set, where '*' means max (RFC 3501: 'x:*' includes max even when x > max). */
export function inSequenceSet(set: SequenceSet, n: number, max: number): boolean {
  for (const [a, b] of set) {
    const lo = a === '*' ? max : a;
    const hi = b === '*' ? max : b;
    if (n >= Math.min(lo, hi) && n <= Math.max(lo, hi)) return true;
  }
  return false;
}

/** Compact text form of ascending numbers: 1:3,7,9:10. */
export function formatSequenceSet(numbers: number[]): string {
  const sorted = [...numbers].sort((a, b) => a - b);
  const parts: string[] = [];
  let i = 0;
  while (i < sorted.length) {
    const start = sorted[i]!;
    let end = start;
    while (i + 1 < sorted.length && sorted[i + 1]! <= end + 1) end = sorted[++i]!;
    parts.push(start === end ? String(start) : `${start}:${end}`);
    i++;
  }
  return parts.join(',');
}
