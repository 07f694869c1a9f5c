import { requireSelected } from '../acl/access.js';
import { splitHeaderFields } from '../mime/header-fields.js';
import { answersWithData, type ReturnOptions, returnData, savedResult } from '../search/esearch.js';
import { type Candidate, matches, usesModseq } from '../search/evaluate.js';
import {
  needs,
  parseSearch,
  referencesSequenceNumbers,
  type SearchKey,
  type SearchProgram,
} from '../search/search-query.js';
import { decodedBodyText, decodedHeaderText } from '../search/search-text.js';
import type { CommandContext } from '../session/command-context.js';
import { esearchLine, startUpdates } from '../session/search-contexts.js';
import { type CommandResult, defineCommand, no, ok } from './command.js';

const BATCH = 500;
/** Bodies larger than this are not text-searched (bounded CPU and memory per SEARCH). */
const MAX_TEXT_SEARCH_BYTES = 10 * 1024 * 1024;

/** UIDs of the selected mailbox's messages that match a search key (also used by SORT and THREAD). */
export async function findMatches(
  session: CommandContext,
  key: SearchKey,
): Promise<{ found: number[]; modseqs: number[] }> {
  const box = session.selected!;
  const want = needs(key);
  const ctx = { maxSeq: box.exists, maxUid: box.maxUid, saved: box.savedSearch, now: Date.now() };
  const found: number[] = [];
  /** The mod-sequence of each found message (same order). */
  const modseqs: number[] = [];
  const uids = box.uids.filter((uid) => !box.pendingExpunges.has(uid));
  for (let i = 0; i < uids.length; i += BATCH) {
    const metas = await session.backend.messages(box.id, uids.slice(i, i + BATCH));
    if (want.headers && !want.body) await session.backend.prefetchHeaders(metas.map((m) => m.bodyId));
    for (const meta of metas) {
      const candidate: Candidate = { meta, seq: box.seqOf(meta.uid), recent: box.recent.has(meta.uid) };
      if (want.headers || want.body) {
        const structure = await session.backend.structure(meta.bodyId);
        const root = structure.root;
        if (want.body && meta.size <= MAX_TEXT_SEARCH_BYTES) {
          const whole = await session.backend.loadBody(meta.bodyId);
          candidate.headers = splitHeaderFields(whole, 0, root.bodyStart);
          // The raw text stays searchable; the decoded text follows it (RFC 3501 6.4.4).
          const decoded = decodedBodyText(whole, root);
          candidate.whole =
            `${whole.toString('utf8')}\n${decodedHeaderText(whole, 0, root.bodyStart)}\n${decoded}`.toLowerCase();
          candidate.body = `${whole.subarray(root.bodyStart).toString('utf8')}\n${decoded}`.toLowerCase();
        } else {
          const header = await readHeader(session, meta.bodyId, root.bodyStart, meta.chunkSize);
          candidate.headers = splitHeaderFields(header, 0, header.length);
        }
      }
      if (matches(key, candidate, ctx)) {
        found.push(meta.uid);
        modseqs.push(meta.modseq);
      }
    }
  }
  return { found, modseqs };
}

/** The header block of a stored message, read from its cached structure's offsets (and the header cache). */
export function readHeader(
  session: CommandContext,
  bodyId: number,
  headerEnd: number,
  chunkSize?: number,
): Promise<Buffer> {
  return session.backend.rootHeader(bodyId, headerEnd, chunkSize);
}

async function runSearch(
  session: CommandContext,
  program: SearchProgram,
  byUid: boolean,
  tag: string,
): Promise<CommandResult> {
  await requireSelected(session, 'r');
  if (program.charset && !['UTF-8', 'US-ASCII'].includes(program.charset))
    return no('Unsupported charset', 'BADCHARSET (UTF-8 US-ASCII)');
  const box = session.selected!;
  const returns = program.returns;
  // RFC 5267 4.3: a tag still naming a live context cannot start another.
  if (returns?.names.has('UPDATE') && box.contexts.has(tag)) return { status: 'BAD', text: 'Tag reuse' };
  const condstore = usesModseq(program.key);
  if (condstore) session.enable('CONDSTORE');
  const { found, modseqs } = await findMatches(session, program.key);
  const numbers = byUid ? found : found.map((uid) => box.seqOf(uid));
  const modseq = condstore && found.length > 0 ? returnedModseq(returns, modseqs) : undefined;
  const verb = byUid ? 'UID SEARCH' : 'SEARCH';
  // IMAP4rev2 always answers SEARCH with ESEARCH (RFC 9051 6.4.4).
  if (!returns && !session.enabled.has('IMAP4REV2')) {
    session.untagged(
      `SEARCH${numbers.map((n) => ` ${n}`).join('')}${modseq !== undefined ? ` (MODSEQ ${modseq})` : ''}`,
    );
    return ok(`${verb} completed`);
  }
  const options = returns ?? { names: new Set(['ALL'] as const) };
  if (options.names.has('SAVE')) box.saveSearch(savedResult(found, options));
  if (answersWithData(options)) {
    const data = returnData(numbers, options);
    if (modseq !== undefined) data.push(`MODSEQ ${modseq}`);
    session.untagged(esearchLine(tag, byUid, data));
  }
  if (options.names.has('UPDATE'))
    startUpdates(session, tag, {
      byUid,
      sorted: false,
      uids: found,
      evaluate: async () => (await findMatches(session, program.key)).found,
      ...(options.updateFetch ? { fetch: options.updateFetch } : {}),
    });
  return ok(`${verb} completed`);
}

/**
 * RFC 7162 3.1.5: the highest mod-sequence of the messages the answer returns - only the MIN and/or
 * MAX message (or the PARTIAL window) when nothing else is asked for, all matches otherwise. Found
 * messages are in UID (and so sequence) order, so MIN is the first and MAX the last.
 */
function returnedModseq(returns: ReturnOptions | undefined, modseqs: number[]): number {
  const wanted = [...(returns?.names ?? [])].filter((r) => !['SAVE', 'CONTEXT', 'UPDATE'].includes(r));
  if (wanted.length > 0 && wanted.every((r) => r === 'MIN' || r === 'MAX' || r === 'PARTIAL')) {
    const partial = returns?.partial;
    const picked = [
      ...(wanted.includes('MIN') ? [modseqs[0]!] : []),
      ...(wanted.includes('MAX') ? [modseqs[modseqs.length - 1]!] : []),
      ...(partial ? modseqs.slice(partial.from - 1, partial.to) : []),
    ];
    return picked.length > 0 ? Math.max(...picked) : Math.max(...modseqs);
  }
  return Math.max(...modseqs);
}

export const searchCommand = defineCommand({
  name: 'SEARCH',
  states: ['selected'],
  allowsExpunge: false,
  usesSequenceNumbers: true,
  parse: (args) => parseSearch(args),
  run: (session, program, tag) => runSearch(session, program, false, tag),
});

export const uidSearchCommand = defineCommand({
  name: 'UID SEARCH',
  states: ['selected'],
  usesSequenceNumbers: (program: SearchProgram) => referencesSequenceNumbers(program.key),
  parse: (args) => parseSearch(args),
  run: (session, program, tag) => runSearch(session, program, true, tag),
});
