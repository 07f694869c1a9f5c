import { requireSelected, selectedOwner } from '../acl/access.js';
import { formatSequenceSet } from '../protocol/sequence-set.js';
import type { CommandContext } from '../session/command-context.js';
import { defineCommand, no, ok } from './command.js';

async function expunge(session: CommandContext, uids: number[] | undefined) {
  const box = session.selected!;
  if (box.readOnly) return no('Mailbox is read-only', 'READ-ONLY');
  await requireSelected(session, 'e');
  const result = await session.backend.expunge(selectedOwner(session), box.id, uids);
  box.ownChange(result.modseq);
  session.reportExpunges(result.uids);
  return ok(
    'EXPUNGE completed',
    session.enabled.has('CONDSTORE') ? `HIGHESTMODSEQ ${result.modseq}` : undefined,
  );
}

export const expungeCommand = defineCommand({
  name: 'EXPUNGE',
  states: ['selected'],
  parse: (args) => args.end(),
  run: (session) => expunge(session, undefined),
});

/** UID EXPUNGE (UIDPLUS): only the named messages, if they are \Deleted. */
export const uidExpungeCommand = defineCommand({
  name: 'UID EXPUNGE',
  states: ['selected'],
  parse(args) {
    const set = args.sequenceSet();
    args.end();
    return set;
  },
  run: (session, set) => {
    const uids = session.selected!.resolve(set, true);
    session.logger.debug({ uids: formatSequenceSet(uids) }, 'uid expunge');
    return expunge(session, uids);
  },
});
