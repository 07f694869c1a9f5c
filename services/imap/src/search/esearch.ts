import { type FetchItem, parseFetchItems } from '../commands/fetch.js';
import { BadArgumentsError } from '../protocol/errors.js';
import type { Token } from '../protocol/parser.js';
import { MAX_NUMBER } from '../protocol/sequence-set.js';

/**
 * RETURN options of SEARCH (RFC 4731, RFC 5182 SAVE) and SORT (ESORT, RFC 5267 section 3), with the
 * context options CONTEXT, UPDATE and PARTIAL (RFC 5267 section 4).
 */
export interface ReturnOptions {
  names: Set<'MIN' | 'MAX' | 'ALL' | 'COUNT' | 'SAVE' | 'CONTEXT' | 'UPDATE' | 'PARTIAL'>;
  /** PARTIAL lo:hi, 1-based positions in the result (RFC 5267 section 4.4). */
  partial?: { from: number; to: number };
  /** UPDATE (fetch-att ...): FETCH new messages entering the result (RFC 5465 section 7). */
  updateFetch?: FetchItem[];
}

const OPTIONS = new Set(['MIN', 'MAX', 'ALL', 'COUNT', 'SAVE', 'CONTEXT', 'UPDATE', 'PARTIAL']);

/** Parses the list after RETURN; `()` means ALL. SAVE only where the command allows it. */
export function parseReturnOptions(items: Token[], allowSave: boolean): ReturnOptions {
  const names: ReturnOptions['names'] = new Set();
  let partial: ReturnOptions['partial'];
  let updateFetch: FetchItem[] | undefined;
  for (let i = 0; i < items.length; i++) {
    const token = items[i]!;
    const name = token.type === 'atom' ? token.value.toUpperCase() : '';
    if (!OPTIONS.has(name) || (name === 'SAVE' && !allowSave))
      throw new BadArgumentsError('Invalid RETURN option');
    if (names.has(name as never)) throw new BadArgumentsError(`${name} given twice`);
    names.add(name as never);
    if (name === 'PARTIAL') {
      // partial-range = nz-number ":" nz-number
      const range = items[++i];
      const m = range?.type === 'atom' ? /^([1-9]\d{0,9}):([1-9]\d{0,9})$/.exec(range.value) : null;
      if (!m) throw new BadArgumentsError('PARTIAL needs a range lo:hi');
      const [a, b] = [Number(m[1]), Number(m[2])];
      if (a > MAX_NUMBER || b > MAX_NUMBER) throw new BadArgumentsError('PARTIAL range too large');
      partial = { from: Math.min(a, b), to: Math.max(a, b) };
    }
    // modifier-update = "UPDATE" [ "(" fetch-att *(SP fetch-att) ")" ] (RFC 5465 section 8)
    if (name === 'UPDATE' && items[i + 1]?.type === 'list') updateFetch = parseFetchItems(items[++i]!);
  }
  // "A command MUST NOT contain more than one PARTIAL or ALL" (RFC 5267 section 4.4).
  if (names.has('PARTIAL') && names.has('ALL')) throw new BadArgumentsError('PARTIAL and ALL together');
  // RETURN () - or only the CONTEXT hint - asks for ALL (RFC 4731 section 3.1).
  if ([...names].every((n) => n === 'CONTEXT')) names.add('ALL');
  const options: ReturnOptions = { names };
  if (partial) options.partial = partial;
  if (updateFetch) options.updateFetch = updateFetch;
  return options;
}

/**
 * A sequence-set in the given order: ranges only for ascending runs of consecutive numbers, so a
 * sorted result reads in its order (RFC 5267 section 3.2: 10:12 and 12:10 both mean 10,11,12).
 */
export function formatOrdered(numbers: number[]): string {
  const parts: string[] = [];
  let i = 0;
  while (i < numbers.length) {
    const start = numbers[i]!;
    let end = start;
    while (i + 1 < numbers.length && numbers[i + 1] === end + 1) end = numbers[++i]!;
    parts.push(start === end ? String(start) : `${start}:${end}`);
    i++;
  }
  return parts.join(',');
}

/**
 * The return data of an ESEARCH response for numbers in result order (mailbox order for SEARCH,
 * sort order for SORT): MIN is the first, MAX the last (RFC 5267 section 3.1).
 */
export function returnData(numbers: number[], options: ReturnOptions): string[] {
  const out: string[] = [];
  const { names, partial } = options;
  if (numbers.length > 0) {
    if (names.has('MIN')) out.push(`MIN ${numbers[0]}`);
    if (names.has('MAX')) out.push(`MAX ${numbers[numbers.length - 1]}`);
    if (names.has('ALL')) out.push(`ALL ${formatOrdered(numbers)}`);
  }
  if (names.has('COUNT')) out.push(`COUNT ${numbers.length}`);
  if (partial) {
    const window = numbers.slice(partial.from - 1, partial.to);
    out.push(`PARTIAL (${partial.from}:${partial.to} ${window.length > 0 ? formatOrdered(window) : 'NIL'})`);
  }
  return out;
}

/**
 * What SAVE keeps of a result (RFC 5182 2.1): with MIN and/or MAX and no other result option, only
 * the message(s) they return; otherwise the whole result.
 */
export function savedResult<T>(result: T[], options: ReturnOptions): T[] {
  const asked = [...options.names].filter((n) => n !== 'SAVE' && n !== 'CONTEXT' && n !== 'UPDATE');
  if (asked.length === 0 || asked.some((n) => n !== 'MIN' && n !== 'MAX') || result.length === 0)
    return result;
  const picked = [
    ...(asked.includes('MIN') ? [result[0]!] : []),
    ...(asked.includes('MAX') ? [result.at(-1)!] : []),
  ];
  return [...new Set(picked)];
}

/** Whether an ESEARCH response is owed: some data was asked for (SAVE alone answers nothing). */
export function answersWithData(options: ReturnOptions): boolean {
  return [...options.names].some((n) => n !== 'SAVE' && n !== 'CONTEXT');
}
