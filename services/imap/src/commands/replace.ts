import { accessMailbox, requireSelected, selectedOwner } from '../acl/access.js';
import { storableFlags } from '../acl/rights.js';
import type { ArgumentCursor } from '../protocol/arguments.js';
import { BadArgumentsError } from '../protocol/errors.js';
import type { CommandContext } from '../session/command-context.js';
import { type AppendMessage, messageBytes, parseAppendMessage } from './append-message.js';
import { type CommandResult, defineCommand, no, ok } from './command.js';

interface ReplaceArgs {
  /** Message sequence number or UID ('*' is the last message). */
  target: number | '*';
  mailbox: string;
  message: AppendMessage;
}

/** replace = "REPLACE" SP seq-number SP mailbox append-message (RFC 8508 section 6); UID: uniqueid. */
function parseReplace(args: ArgumentCursor, session: CommandContext, byUid: boolean): ReplaceArgs {
  const text = args.atom(byUid ? 'UID' : 'message sequence number');
  if (!/^[1-9]\d{0,9}$/.test(text) && (byUid || text !== '*'))
    throw new BadArgumentsError(byUid ? 'Expected a UID' : 'Expected a message sequence number');
  const mailbox = args.mailbox(session.utf8);
  const message = parseAppendMessage(args, session);
  args.end();
  return { target: text === '*' ? '*' : Number(text), mailbox, message };
}

/**
 * REPLACE (RFC 8508): appends a new version of a message (to this or another mailbox) and expunges
 * the old one in one transaction. APPENDUID comes untagged, before the expunge (section 3.3).
 */
async function runReplace(
  session: CommandContext,
  args: ReplaceArgs,
  byUid: boolean,
): Promise<CommandResult> {
  const box = session.selected!;
  let uid: number | undefined;
  if (byUid) {
    uid = args.target === '*' ? undefined : args.target;
    if (uid === undefined || box.seqOf(uid) === 0 || box.pendingExpunges.has(uid))
      return no('No such message', 'NONEXISTENT');
  } else {
    const seq = args.target === '*' ? box.exists : args.target;
    uid = box.uids[seq - 1];
    if (uid === undefined) return { status: 'BAD', text: 'Invalid message sequence number' };
    if (box.pendingExpunges.has(uid)) return no('The message has been expunged', 'EXPUNGEISSUED');
  }
  if (box.readOnly) return no('Mailbox is read-only', 'READ-ONLY');
  // As APPEND to the target (i) and STORE \Deleted plus EXPUNGE of the original (t e), RFC 4314 4.
  await requireSelected(session, 'te');
  const destination = await accessMailbox(session, args.mailbox, 'i', 'TRYCREATE');
  const target = destination.box;
  const bytes = await messageBytes(session, [args.message]);
  if ('status' in bytes) return bytes;
  const size = bytes.sizes[0]!;
  if (size === 0) return no('Empty message');
  if (!(await session.backend.fits(destination.ownerId, size))) return no('Over quota', 'OVERQUOTA');
  const result = await session.backend.replace(
    destination.ownerId,
    target.id,
    {
      chunks: bytes.chunks[0]!,
      flags: storableFlags(destination.rights, args.message.flags),
      internalDate: args.message.date ?? new Date(),
      ...(args.message.zone ? { internalDateZone: args.message.zone } : {}),
    },
    box.id,
    uid,
    selectedOwner(session),
  );
  const verb = byUid ? 'UID REPLACE' : 'REPLACE';
  if (!result) return no('The message has been expunged', 'EXPUNGEISSUED');
  session.untagged(
    `OK [APPENDUID ${result.appended.uidvalidity} ${result.appended.uid}] Replacement Message ID`,
  );
  box.ownChange(result.expungeModseq);
  session.reportExpunges([uid]);
  session.mailboxChanged(target.id);
  return ok(`${verb} completed`);
}

export const replaceCommand = defineCommand({
  name: 'REPLACE',
  states: ['selected'],
  usesSequenceNumbers: true,
  parse: (args, session) => parseReplace(args, session, false),
  run: (session, args) => runReplace(session, args, false),
});

export const uidReplaceCommand = defineCommand({
  name: 'UID REPLACE',
  states: ['selected'],
  parse: (args, session) => parseReplace(args, session, true),
  run: (session, args) => runReplace(session, args, true),
});
