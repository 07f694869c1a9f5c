import { runFetch, unsolicitedFetchItems } from '../commands/fetch.js';
import { imapString } from '../protocol/compose.js';
import { formatSequenceSet } from '../protocol/sequence-set.js';
import { formatOrdered } from '../search/esearch.js';
import type { CommandContext } from './command-context.js';
import type { SearchContext, SelectedMailbox } from './selected-mailbox.js';

/**
 * Live SEARCH/SORT results (RFC 5267 section 4.3, CONTEXT=SEARCH and CONTEXT=SORT): a command with
 * RETURN (UPDATE) leaves a context on the selected mailbox; whenever the mailbox changed, the
 * session evaluates it again and reports the difference as ADDTO / REMOVEFROM in an ESEARCH
 * response carrying the command's tag. Contexts end with the selection or CANCELUPDATE.
 */

/** Update contexts one session may hold on its selected mailbox; more get NO [NOUPDATE]. */
export const MAX_UPDATE_CONTEXTS = 8;

/** `ESEARCH (TAG "t") [UID] data...` */
export function esearchLine(tag: string, byUid: boolean, data: string[]): string {
  return `ESEARCH (TAG ${imapString(tag)})${byUid ? ' UID' : ''}${data.map((d) => ` ${d}`).join('')}`;
}

/**
 * Keeps a context for updates, or refuses with an untagged NO [NOUPDATE "tag"] when the session
 * has too many (the command's other return options are still answered, section 4.3.1).
 */
export function startUpdates(
  session: CommandContext,
  tag: string,
  context: Omit<SearchContext, 'version'>,
): void {
  const box = session.selected!;
  if (box.contexts.size >= MAX_UPDATE_CONTEXTS) {
    session.untagged(`NO [NOUPDATE ${imapString(tag)}] Too many update contexts`);
    return;
  }
  box.keepContext(tag, context);
}

/**
 * Before expunges are reported: REMOVEFROM for every context holding the expunged messages, while
 * their sequence numbers are still valid (section 4.3.4).
 */
export function removeExpunged(session: CommandContext, box: SelectedMailbox, uids: number[]): void {
  if (box.contexts.size === 0) return;
  const gone = new Set(uids);
  for (const [tag, context] of box.contexts) {
    if (!context.uids.some((uid) => gone.has(uid))) continue;
    const next = context.uids.filter((uid) => !gone.has(uid));
    const data = difference(session, context, next);
    context.uids = next;
    if (data.length > 0) session.untagged(esearchLine(tag, context.byUid, data));
  }
}

/** Evaluates the contexts the mailbox changed under, and reports what entered or left them. */
export async function refreshContexts(session: CommandContext, box: SelectedMailbox): Promise<void> {
  for (const [tag, context] of box.contexts) {
    if (context.version === box.version) continue;
    const version = box.version;
    const next = await context.evaluate();
    if (session.selected !== box || box.contexts.get(tag) !== context) return;
    const data = difference(session, context, next);
    // RETURN (UPDATE (fetch-att ...)): new mail entering the result is fetched before the ADDTO
    // that announces it (RFC 5465 section 7); messages entering by a flag change are not.
    const known = new Set(context.uids);
    const fresh = context.fetch ? next.filter((uid) => !known.has(uid) && uid > (context.maxUid ?? 0)) : [];
    context.uids = next;
    context.version = version;
    context.maxUid = box.maxUid;
    if (context.fetch && fresh.length > 0) {
      const items = unsolicitedFetchItems(context.fetch, session.enabled.has('CONDSTORE'));
      await runFetch(
        session,
        { set: [...fresh].sort((a, b) => a - b).map((uid) => [uid, uid]), items },
        true,
      );
    }
    if (data.length > 0) session.untagged(esearchLine(tag, context.byUid, data));
  }
}

/**
 * REMOVEFROM and ADDTO data turning the context's result into next. SEARCH results are in mailbox
 * order and use position 0; SORT results give positions: each pair is applied in turn, removals
 * first (a message's sort position never changes while it matches: the sort keys are immutable).
 */
function difference(session: CommandContext, context: SearchContext, next: number[]): string[] {
  const box = session.selected!;
  const number = (uid: number) => (context.byUid ? uid : box.seqOf(uid));
  const nextSet = new Set(next);
  const oldSet = new Set(context.uids);
  const data: string[] = [];
  if (!context.sorted) {
    const removed = context.uids.filter((uid) => !nextSet.has(uid)).map(number);
    const added = next.filter((uid) => !oldSet.has(uid)).map(number);
    if (removed.length > 0) data.push(`REMOVEFROM (0 ${formatSequenceSet(removed)})`);
    if (added.length > 0) data.push(`ADDTO (0 ${formatSequenceSet(added)})`);
    return data;
  }
  const removals: string[] = [];
  const working: number[] = [];
  for (const uid of context.uids) {
    if (nextSet.has(uid)) working.push(uid);
    else removals.push(`${working.length + 1} ${number(uid)}`);
  }
  const additions: string[] = [];
  next.forEach((uid, index) => {
    if (!oldSet.has(uid)) additions.push(`${index + 1} ${formatOrdered([number(uid)])}`);
  });
  if (removals.length > 0) data.push(`REMOVEFROM (${removals.join(' ')})`);
  if (additions.length > 0) data.push(`ADDTO (${additions.join(' ')})`);
  return data;
}
