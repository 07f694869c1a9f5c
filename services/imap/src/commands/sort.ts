import { requireSelected } from '../acl/access.js';
import { splitHeaderFields } from '../mime/header-fields.js';
import type { ArgumentCursor } from '../protocol/arguments.js';
import { BadArgumentsError } from '../protocol/errors.js';
import { answersWithData, parseReturnOptions, type ReturnOptions, returnData } from '../search/esearch.js';
import { parseSearch, referencesSequenceNumbers, type SearchKey } from '../search/search-query.js';
import { parseSortCriteria, type SortKey, sortMessages, type ThreadInput } from '../search/sort-thread.js';
import type { CommandContext } from '../session/command-context.js';
import { esearchLine, startUpdates } from '../session/search-contexts.js';
import { type CommandResult, defineCommand, no, ok } from './command.js';
import { findMatches, readHeader } from './search.js';

/** Loads what SORT/THREAD compare for the messages matching key. */
export async function threadInputs(session: CommandContext, key: SearchKey): Promise<ThreadInput[]> {
  const box = session.selected!;
  const { found } = await findMatches(session, key);
  const out: ThreadInput[] = [];
  for (let i = 0; i < found.length; i += 500) {
    const metas = await session.backend.messages(box.id, found.slice(i, i + 500));
    await session.backend.prefetchHeaders(metas.map((m) => m.bodyId));
    for (const meta of metas) {
      const { root } = await session.backend.structure(meta.bodyId);
      const header = await readHeader(session, meta.bodyId, root.bodyStart, meta.chunkSize);
      const fields = splitHeaderFields(header, 0, header.length);
      const ids = (name: string) => fields.find((f) => f.name === name)?.value.match(/<[^<>\s]+>/g) ?? [];
      const references = ids('references');
      out.push({
        uid: meta.uid,
        seq: box.seqOf(meta.uid),
        size: meta.size,
        internalDate: meta.internalDate,
        envelope: root.envelope!,
        references: references.length > 0 ? references : ids('in-reply-to').slice(0, 1),
      });
    }
  }
  return out;
}

/**
 * `charset search-program` of SORT and THREAD. A RETURN at the head of the search program (after
 * the charset) is handed back for SORT to read as if it came before the criteria.
 */
export function parseCharsetAndKeys(args: ArgumentCursor): {
  charset: string;
  key: SearchKey;
  returns?: ReturnOptions;
} {
  const charset = args.astring('charset').toUpperCase();
  const program = parseSearch(args);
  return { charset, key: program.key, ...(program.returns ? { returns: program.returns } : {}) };
}

const badCharset = (charset: string) => !['UTF-8', 'US-ASCII'].includes(charset);

interface SortArgs {
  criteria: SortKey[];
  charset: string;
  key: SearchKey;
  /** ESORT (RFC 5267 section 3): RETURN options, answered with ESEARCH in sort order. */
  returns?: ReturnOptions;
}

async function runSort(
  session: CommandContext,
  args: SortArgs,
  byUid: boolean,
  tag: string,
): Promise<CommandResult> {
  await requireSelected(session, 'r');
  if (badCharset(args.charset)) return no('Unsupported charset', 'BADCHARSET (UTF-8 US-ASCII)');
  const box = session.selected!;
  const { returns } = args;
  if (returns?.names.has('UPDATE') && box.contexts.has(tag)) return { status: 'BAD', text: 'Tag reuse' };
  const evaluate = async () =>
    sortMessages(await threadInputs(session, args.key), args.criteria).map((m) => m.uid);
  const sorted = await evaluate();
  const numbers = byUid ? sorted : sorted.map((uid) => box.seqOf(uid));
  const verb = byUid ? 'UID SORT' : 'SORT';
  if (!returns) {
    session.untagged(`SORT${numbers.map((n) => ` ${n}`).join('')}`);
    return ok(`${verb} completed`);
  }
  if (answersWithData(returns)) session.untagged(esearchLine(tag, byUid, returnData(numbers, returns)));
  if (returns.names.has('UPDATE'))
    startUpdates(session, tag, {
      byUid,
      sorted: true,
      uids: sorted,
      evaluate,
      ...(returns.updateFetch ? { fetch: returns.updateFetch } : {}),
    });
  return ok(`${verb} completed`);
}

/** `[RETURN (options)] (criteria) charset search-key...` (RFC 5256, RFC 5267 section 5). */
function parseSort(args: ArgumentCursor): SortArgs {
  const first = args.peek();
  let returns: ReturnOptions | undefined;
  if (first?.type === 'atom' && first.value.toUpperCase() === 'RETURN') {
    args.next();
    returns = parseReturnOptions(args.list('RETURN options').items, false);
  }
  const list = args.list('sort criteria').items.map((t) => {
    if (t.type !== 'atom') throw new BadArgumentsError('Invalid sort criterion');
    return t.value;
  });
  const criteria = parseSortCriteria(list);
  const rest = parseCharsetAndKeys(args);
  if (rest.returns) {
    // RFC 5267 section 3 puts RETURN before the criteria; one given after the charset is read
    // the same way, but only once, and SAVE stays SEARCH's (RFC 5182).
    if (returns) throw new BadArgumentsError('RETURN given twice');
    if (rest.returns.names.has('SAVE')) throw new BadArgumentsError('Invalid RETURN option');
    returns = rest.returns;
  }
  return { criteria, charset: rest.charset, key: rest.key, ...(returns ? { returns } : {}) };
}

export const sortCommand = defineCommand({
  name: 'SORT',
  states: ['selected'],
  allowsExpunge: false,
  usesSequenceNumbers: true,
  parse: parseSort,
  run: (s, a, tag) => runSort(s, a, false, tag),
});
export const uidSortCommand = defineCommand({
  name: 'UID SORT',
  states: ['selected'],
  usesSequenceNumbers: (args) => referencesSequenceNumbers(args.key),
  parse: parseSort,
  run: (s, a, tag) => runSort(s, a, true, tag),
});
