import { ArgumentCursor } from '../protocol/arguments.js';
import { BadArgumentsError } from '../protocol/errors.js';
import { mailboxObjectId } from '../protocol/object-id.js';
import { formatSequenceSet, inSequenceSet, type SequenceSet } from '../protocol/sequence-set.js';
import { SelectedMailbox } from '../session/selected-mailbox.js';
import { type ImapSession, PERMANENT_FLAGS } from '../session/session.js';
import { authenticated, State } from '../session/states.js';
import { type CommandResult, defineCommand, no, ok } from './command.js';
import { encodeName } from './list.js';

/** Leaves the selected mailbox (no expunge); [CLOSED] tells the client the old one is gone. */
export function deselect(session: ImapSession, announce: boolean): void {
  if (!session.selected) return;
  session.selected = undefined;
  session.state = State.Authenticated;
  if (announce) session.untagged('OK [CLOSED] Previous mailbox closed');
}

interface SelectArgs {
  name: string;
  condstore: boolean;
  qresync?: { uidvalidity: number; modseq: number; knownUids?: SequenceSet };
}

async function open(session: ImapSession, args: SelectArgs, readOnly: boolean): Promise<CommandResult> {
  const { name } = args;
  if (args.qresync && !session.enabled.has('QRESYNC'))
    return { status: 'BAD', text: 'QRESYNC is not enabled' };
  if (args.condstore) session.enabled.add('CONDSTORE');
  deselect(session, true);
  const rev2 = session.enabled.has('IMAP4REV2');
  // One round trip: the mailbox, its snapshot and keywords, the \Recent claim, the first unseen UID.
  const box = await session.backend.openMailbox(session.user!.id, name, {
    claimRecent: !readOnly,
    firstUnseen: !rev2,
  });
  if (!box) return no('No such mailbox', 'NONEXISTENT');
  const { snapshot, keywords, firstUnseen: unseen } = box;
  const selected = new SelectedMailbox(
    box.id,
    box.name,
    readOnly,
    snapshot.uidvalidity,
    snapshot.uids,
    snapshot.highestmodseq,
  );
  const recentFrom = snapshot.recentUid;
  for (const uid of snapshot.uids) if (uid >= recentFrom) selected.recent.add(uid);
  for (const keyword of keywords) selected.keywords.add(keyword);
  const flags = `${PERMANENT_FLAGS}${[...selected.keywords].map((k) => ` ${k}`).join('')}`;
  session.untagged(`FLAGS (${flags})`);
  session.untagged(`OK [PERMANENTFLAGS (${readOnly ? '' : `${flags} \\*`})] Flags permitted`);
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
  if (rev2) session.untagged(`LIST (${box.specialUse ?? ''}) "/" ${encodeName(session, box.name)}`);
  session.selected = selected;
  session.state = State.Selected;
  session.dirty = false;
  const q = args.qresync;
  if (q && q.uidvalidity === snapshot.uidvalidity)
    await resynchronise(session, selected, q.modseq, q.knownUids);
  return ok(`${readOnly ? 'EXAMINE' : 'SELECT'} completed`, readOnly ? 'READ-ONLY' : 'READ-WRITE');
}

/** QRESYNC (RFC 7162 3.2.5): what vanished and what changed since the client's modseq. */
async function resynchronise(
  session: ImapSession,
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

function parseSelect(args: ArgumentCursor, session: ImapSession): SelectArgs {
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
      const uidvalidity = cursor.number('uidvalidity');
      const modseq = cursor.number('modseq');
      const known = cursor.remaining > 0 && cursor.peek()?.type === 'atom' ? cursor.sequenceSet() : undefined;
      // Sequence match data only speeds things up for the client; the full answer is always correct.
      cursor.optionalList();
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
  run: (session, args) => open(session, args, false),
});

export const examineCommand = defineCommand({
  name: 'EXAMINE',
  states: authenticated,
  parse: parseSelect,
  run: (session, args) => open(session, args, true),
});

export const unselectCommand = defineCommand({
  name: 'UNSELECT',
  states: ['selected'],
  parse: (args) => args.end(),
  async run(session) {
    deselect(session, false);
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
    if (!box.readOnly) await session.backend.expunge(session.user!.id, box.id);
    deselect(session, false);
    return ok('CLOSE completed');
  },
});
