import { ALL_RIGHTS } from '@hermod/mail-store';
import {
  accessMailbox,
  followOwner,
  type MailboxAccess,
  rememberSelected,
  selectedOwner,
  selectedRights,
} from '../acl/access.js';
import { opensReadOnly, permanentFlagsFor } from '../acl/rights.js';
import { classifyName } from '../acl/shared-namespace.js';
import { ArgumentCursor } from '../protocol/arguments.js';
import { BadArgumentsError } from '../protocol/errors.js';
import { mailboxObjectId } from '../protocol/object-id.js';
import { formatSequenceSet, inSequenceSet, MAX_NUMBER, type SequenceSet } from '../protocol/sequence-set.js';
import type { CommandContext } from '../session/command-context.js';
import { SelectedMailbox } from '../session/selected-mailbox.js';
import { authenticated } from '../session/states.js';
import { type CommandResult, defineCommand, no, ok } from './command.js';
import { encodeName } from './list.js';

interface SelectArgs {
  name: string;
  condstore: boolean;
  qresync?: { uidvalidity: number; modseq: number; knownUids?: SequenceSet };
  /** QRESYNC seq-match-data was given: it names message sequence numbers (RFC 9586 UIDONLY). */
  seqMatch?: boolean;
}

async function open(session: CommandContext, args: SelectArgs, examine: boolean): Promise<CommandResult> {
  const { name } = args;
  if (args.qresync && !session.enabled.has('QRESYNC'))
    return { status: 'BAD', text: 'QRESYNC is not enabled' };
  session.deselect(true);
  // SELECT (CONDSTORE) is a CONDSTORE-enabling command (RFC 7162 3.1); nothing is selected now.
  if (args.condstore) session.enable('CONDSTORE');
  const rev2 = session.enabled.has('IMAP4REV2');
  const user = session.user!;
  // SELECT and EXAMINE need r (RFC 4314 section 4); read-only without i, e or a flag right (5.2).
  // An own mailbox carries every right, so it is opened in one round trip; another account's is
  // looked up with the session's rights first.
  const shared = classifyName(name).kind !== 'own' ? await accessMailbox(session, name, 'r') : undefined;
  const rights = shared?.rights ?? ALL_RIGHTS;
  const permanent = permanentFlagsFor(rights);
  const readOnly = examine || opensReadOnly(rights);
  // One round trip: the mailbox, its snapshot and keywords, the \Recent claim, the first unseen UID.
  const box = await session.backend.openMailbox(shared?.ownerId ?? user.id, shared?.ownName ?? name, {
    claimRecent: !readOnly,
    firstUnseen: !rev2,
  });
  if (!box) return no('No such mailbox', 'NONEXISTENT');
  const access: MailboxAccess = shared ?? {
    box: {
      id: box.id,
      name: box.name,
      specialUse: box.specialUse,
      uidvalidity: box.snapshot.uidvalidity,
      uidnext: box.snapshot.uidnext,
      highestmodseq: box.snapshot.highestmodseq,
    },
    ownerId: user.id,
    ownName: box.name,
    name: box.name,
    rights,
    shared: false,
  };
  followOwner(session, access);
  const { snapshot, keywords, firstUnseen: unseen } = box;
  const selected = new SelectedMailbox(
    box.id,
    access.name,
    readOnly,
    snapshot.uidvalidity,
    snapshot.uids,
    snapshot.highestmodseq,
    { recentFrom: snapshot.recentUid, keywords, permanent },
  );
  session.untagged(`FLAGS (${selected.flagsList()})`);
  session.untagged(`OK [PERMANENTFLAGS (${selected.permanentFlagsList()})] Flags permitted`);
  session.untagged(`${selected.exists} EXISTS`);
  if (!rev2) {
    session.untagged(`${selected.recent.size} RECENT`);
    const seq = unseen === undefined || session.uidOnly ? 0 : selected.seqOf(unseen);
    if (seq > 0) session.untagged(`OK [UNSEEN ${seq}] First unseen`);
  }
  session.untagged(`OK [UIDVALIDITY ${snapshot.uidvalidity}] UIDs valid`);
  session.untagged(`OK [UIDNEXT ${snapshot.uidnext}] Predicted next UID`);
  session.untagged(`OK [HIGHESTMODSEQ ${snapshot.highestmodseq}] Highest`);
  session.untagged(`OK [MAILBOXID (${mailboxObjectId(box.id)})] Mailbox id`);
  const specialUse = access.shared ? '' : (box.specialUse ?? '');
  if (rev2) session.untagged(`LIST (${specialUse}) "/" ${encodeName(session, access.name)}`);
  rememberSelected(selected, access);
  session.select(selected);
  const q = args.qresync;
  if (q && q.uidvalidity === snapshot.uidvalidity)
    await resynchronise(session, selected, q.modseq, q.knownUids);
  return ok(`${readOnly ? 'EXAMINE' : 'SELECT'} completed`, readOnly ? 'READ-ONLY' : 'READ-WRITE');
}

/** QRESYNC (RFC 7162 3.2.5): what vanished and what changed since the client's modseq. */
async function resynchronise(
  session: CommandContext,
  box: SelectedMailbox,
  modseq: number,
  knownUids: SequenceSet | undefined,
) {
  const vanished = (await session.backend.expungedSince(box.id, modseq)).filter(
    (uid) => !knownUids || inSequenceSet(knownUids, uid, Number.MAX_SAFE_INTEGER),
  );
  if (vanished.length > 0) session.untagged(`VANISHED (EARLIER) ${formatSequenceSet(vanished)}`);
  for (const change of await session.backend.changesSince(box.id, modseq)) {
    if (change.flags === null) continue;
    const seq = box.seqOf(change.uid);
    if (seq > 0) session.reportFlagChange(seq, change.uid, change.flags, change.modseq, true);
  }
}

/** uidvalidity (nz-number) and mod-sequence-value (1 or more) of the QRESYNC parameter. */
function positive(cursor: ArgumentCursor, what: string, max?: number): number {
  const n = cursor.number(what, max);
  if (n === 0) throw new BadArgumentsError(`${what} must not be 0`);
  return n;
}

/** known-uids, known-sequence-set, known-uid-set: sequence sets in which "*" is not allowed (RFC 7162 section 7). */
function knownSet(cursor: ArgumentCursor, what: string): SequenceSet | '$' {
  const set = cursor.sequenceSet();
  if (set !== '$' && set.some(([from, to]) => from === '*' || to === '*'))
    throw new BadArgumentsError(`"*" is not allowed in ${what}`);
  return set;
}

/** How many numbers a set without "*" names ("$" counts as unknown). */
function setSize(set: SequenceSet | '$'): number {
  if (set === '$') return Number.NaN;
  return set.reduce((n, [a, b]) => n + Math.abs(Number(b) - Number(a)) + 1, 0);
}

function parseSelect(args: ArgumentCursor, session: CommandContext): SelectArgs {
  const name = args.mailbox(session.utf8);
  const result: SelectArgs = { name, condstore: false };
  const params = args.optionalList();
  args.end();
  const items = params?.items ?? [];
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    const key = item.type === 'atom' ? item.value.toUpperCase() : '';
    if (key === 'CONDSTORE') result.condstore = true;
    else if (key === 'QRESYNC') {
      const value = items[++i];
      if (value?.type !== 'list') throw new BadArgumentsError('QRESYNC needs parameters');
      const cursor = new ArgumentCursor(value.items);
      const uidvalidity = positive(cursor, 'uidvalidity', MAX_NUMBER);
      const modseq = positive(cursor, 'mod-sequence');
      const known = cursor.peek()?.type === 'atom' ? knownSet(cursor, 'known-uids') : undefined;
      // Sequence match data only speeds things up for the client (the full answer is always
      // correct), but it must still be two known sets.
      const match = cursor.optionalList();
      if (match) {
        const pair = new ArgumentCursor(match.items);
        const sizes = [knownSet(pair, 'known-sequence-set'), knownSet(pair, 'known-uid-set')].map(setSize);
        pair.end();
        // Each known message number is paired with its UID (RFC 7162 section 3.2.5.2).
        if (sizes[0] !== sizes[1])
          throw new BadArgumentsError('known-sequence-set and known-uid-set differ in size');
        result.seqMatch = true;
      }
      cursor.end();
      result.qresync = { uidvalidity, modseq, ...(known && known !== '$' ? { knownUids: known } : {}) };
      result.condstore = true;
    } else throw new BadArgumentsError('Unknown SELECT parameter');
  }
  return result;
}

export const selectCommand = defineCommand({
  name: 'SELECT',
  states: authenticated,
  parse: parseSelect,
  usesSequenceNumbers: (args) => args.seqMatch === true,
  run: (session, args) => open(session, args, false),
});

export const examineCommand = defineCommand({
  name: 'EXAMINE',
  states: authenticated,
  parse: parseSelect,
  usesSequenceNumbers: (args) => args.seqMatch === true,
  run: (session, args) => open(session, args, true),
});

export const unselectCommand = defineCommand({
  name: 'UNSELECT',
  states: ['selected'],
  parse: (args) => args.end(),
  async run(session) {
    session.deselect(false);
    return ok('UNSELECT completed');
  },
});

/** CLOSE: silently expunges \Deleted messages of a read-write mailbox, then deselects. */
export const closeCommand = defineCommand({
  name: 'CLOSE',
  states: ['selected'],
  parse: (args) => args.end(),
  async run(session) {
    const box = session.selected!;
    // The silent expunge of CLOSE needs e; without it CLOSE only deselects (RFC 4314 section 4).
    if (!box.readOnly && (await selectedRights(session)).includes('e'))
      await session.backend.expunge(selectedOwner(session), box.id);
    session.deselect(false);
    return ok('CLOSE completed');
  },
});
