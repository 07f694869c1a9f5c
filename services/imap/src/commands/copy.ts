import { accessMailbox, requireSelected, selectedOwner } from '../acl/access.js';
import { keptFlags } from '../acl/rights.js';
import { classifyName } from '../acl/shared-namespace.js';
import type { ArgumentCursor } from '../protocol/arguments.js';
import { formatSequenceSet, type SequenceSet } from '../protocol/sequence-set.js';
import type { CommandContext } from '../session/command-context.js';
import { type CommandResult, defineCommand, no, ok } from './command.js';

interface CopyArgs {
  set: SequenceSet | '$';
  mailbox: string;
}

function parseCopy(args: ArgumentCursor, session: CommandContext): CopyArgs {
  const set = args.sequenceSet();
  const mailbox = args.mailbox(session.utf8);
  args.end();
  return { set, mailbox };
}

/** COPY and MOVE (RFC 6851) with COPYUID (RFC 4315). */
async function runCopy(
  session: CommandContext,
  args: CopyArgs,
  byUid: boolean,
  move: boolean,
): Promise<CommandResult> {
  const box = session.selected!;
  if (!byUid && box.sequenceOutOfRange(args.set))
    return { status: 'BAD', text: 'Invalid message sequence number' };
  if (move && box.readOnly) return no('Mailbox is read-only', 'READ-ONLY');
  // COPY needs r on the source and i on the target; MOVE also t and e on the source (RFC 4314 4).
  await requireSelected(session, move ? 'rte' : 'r');
  const sourceOwner = selectedOwner(session);
  const uids = box.resolve(args.set, byUid).filter((uid) => !box.pendingExpunges.has(uid));
  const verb = `${byUid ? 'UID ' : ''}${move ? 'MOVE' : 'COPY'}`;
  // Between the account's own mailboxes (every right held): one statement for the target, the
  // storage limit and the copy or move, answered as the general way below would.
  if (uids.length > 0 && sourceOwner === session.user!.id && classifyName(args.mailbox).kind === 'own') {
    const done = await session.backend.copyByName(sourceOwner, box.id, uids, args.mailbox, move);
    if (done.outcome === 'nonexistent') return no('No such mailbox', 'TRYCREATE');
    if (done.outcome === 'overquota') return no('Over quota', 'OVERQUOTA');
    return copied(session, verb, move, done.mailboxId, done);
  }
  const destination = await accessMailbox(session, args.mailbox, 'i', 'TRYCREATE');
  const target = destination.box;
  if (uids.length === 0) return ok(`${verb} completed, nothing to do`);
  // A copy takes storage, and so does a move into another account's mailbox.
  if (!move || destination.ownerId !== sourceOwner) {
    const metas = await session.backend.messages(box.id, uids);
    if (
      !(await session.backend.fits(
        destination.ownerId,
        metas.reduce((n, m) => n + m.size, 0),
      ))
    )
      return no('Over quota', 'OVERQUOTA');
  }
  // The copies keep only the flags the target's rights allow (RFC 4314 4).
  const keep = keptFlags(destination.rights);
  const result = move
    ? await session.backend.move(sourceOwner, box.id, uids, target.id, destination.ownerId, keep)
    : await session.backend.copy(sourceOwner, box.id, uids, target.id, destination.ownerId, keep);
  return copied(session, verb, move, target.id, result);
}

/** The answer to a COPY or MOVE that ran: COPYUID (RFC 4315), and for a MOVE the expunges. */
function copied(
  session: CommandContext,
  verb: string,
  move: boolean,
  targetId: number,
  result: { uidvalidity: number; pairs: Array<[number, number]>; expungeModseq?: number },
): CommandResult {
  const box = session.selected!;
  session.mailboxChanged(targetId);
  if (result.pairs.length === 0) return ok(`${verb} completed, nothing to do`);
  const code = `COPYUID ${result.uidvalidity} ${formatSequenceSet(result.pairs.map((p) => p[0]))} ${formatSequenceSet(result.pairs.map((p) => p[1]))}`;
  if (!move) return ok(`${verb} completed`, code);
  if (result.expungeModseq !== undefined) box.ownChange(result.expungeModseq);
  // MOVE sends COPYUID untagged before the expunges (RFC 6851 4.3).
  session.untagged(`OK [${code}] Moved`);
  session.reportExpunges(result.pairs.map((p) => p[0]));
  return ok(`${verb} completed`);
}

export const copyCommand = defineCommand({
  name: 'COPY',
  states: ['selected'],
  allowsExpunge: false,
  usesSequenceNumbers: true,
  parse: parseCopy,
  run: (session, args) => runCopy(session, args, false, false),
});
export const uidCopyCommand = defineCommand({
  name: 'UID COPY',
  states: ['selected'],
  parse: parseCopy,
  run: (s, a) => runCopy(s, a, true, false),
});
export const moveCommand = defineCommand({
  name: 'MOVE',
  states: ['selected'],
  usesSequenceNumbers: true,
  parse: parseCopy,
  run: (s, a) => runCopy(s, a, false, true),
});
export const uidMoveCommand = defineCommand({
  name: 'UID MOVE',
  states: ['selected'],
  parse: parseCopy,
  run: (s, a) => runCopy(s, a, true, true),
});
