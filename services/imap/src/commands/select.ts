import { SelectedMailbox } from '../session/selected-mailbox.js';
import type { ImapSession } from '../session/session.js';
import { authenticated, State } from '../session/states.js';
import { type CommandResult, defineCommand, no, ok } from './command.js';

export const PERMANENT_FLAGS = '\\Answered \\Flagged \\Deleted \\Seen \\Draft';

/** Leaves the selected mailbox (no expunge); [CLOSED] tells the client the old one is gone. */
export function deselect(session: ImapSession, announce: boolean): void {
  if (!session.selected) return;
  session.selected = undefined;
  session.state = State.Authenticated;
  if (announce) session.untagged('OK [CLOSED] Previous mailbox closed');
}

async function open(session: ImapSession, name: string, readOnly: boolean): Promise<CommandResult> {
  deselect(session, true);
  const box = await session.backend.findMailbox(session.user!.id, name);
  if (!box) return no('No such mailbox', 'NONEXISTENT');
  const snapshot = await session.backend.snapshot(box.id);
  if (!snapshot) return no('No such mailbox', 'NONEXISTENT');
  const selected = new SelectedMailbox(
    box.id,
    box.name,
    readOnly,
    snapshot.uidvalidity,
    snapshot.uids,
    snapshot.highestmodseq,
  );
  const recentFrom = readOnly ? snapshot.recentUid : await session.backend.claimRecent(box.id);
  for (const uid of snapshot.uids) if (uid >= recentFrom) selected.recent.add(uid);
  const rev2 = session.enabled.has('IMAP4REV2');
  session.untagged(`FLAGS (${PERMANENT_FLAGS})`);
  session.untagged(`OK [PERMANENTFLAGS (${readOnly ? '' : `${PERMANENT_FLAGS} \\*`})] Flags permitted`);
  session.untagged(`${selected.exists} EXISTS`);
  if (!rev2) {
    session.untagged(`${selected.recent.size} RECENT`);
    const unseen = await session.backend.firstUnseenUid(box.id);
    const seq = unseen === undefined ? 0 : selected.seqOf(unseen);
    if (seq > 0) session.untagged(`OK [UNSEEN ${seq}] First unseen`);
  }
  session.untagged(`OK [UIDVALIDITY ${snapshot.uidvalidity}] UIDs valid`);
  session.untagged(`OK [UIDNEXT ${snapshot.uidnext}] Predicted next UID`);
  session.selected = selected;
  session.state = State.Selected;
  session.dirty = false;
  return ok(`${readOnly ? 'EXAMINE' : 'SELECT'} completed`, readOnly ? 'READ-ONLY' : 'READ-WRITE');
}

function parseMailboxOnly(args: import('../protocol/arguments.js').ArgumentCursor, session: ImapSession) {
  const name = args.mailbox(session.utf8);
  // Select parameters (CONDSTORE/QRESYNC) are not supported yet.
  args.end();
  return name;
}

export const selectCommand = defineCommand({
  name: 'SELECT',
  states: authenticated,
  parse: parseMailboxOnly,
  run: (session, name) => open(session, name, false),
});

export const examineCommand = defineCommand({
  name: 'EXAMINE',
  states: authenticated,
  parse: parseMailboxOnly,
  run: (session, name) => open(session, name, true),
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
