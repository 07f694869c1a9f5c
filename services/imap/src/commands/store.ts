import type { FlagOperation } from '@hermod/mail-store';
import { NOPERM, selectedOwner, selectedRights } from '../acl/access.js';
import { holds, rightForFlag } from '../acl/rights.js';
import { type ArgumentCursor, parseFlagList } from '../protocol/arguments.js';
import { BadArgumentsError } from '../protocol/errors.js';
import { formatSequenceSet, type SequenceSet } from '../protocol/sequence-set.js';
import type { CommandContext } from '../session/command-context.js';
import { defineCommand, no, ok } from './command.js';

interface StoreArgs {
  set: SequenceSet | '$';
  operation: FlagOperation;
  silent: boolean;
  flags: string[];
  unchangedSince?: number;
}

function parseStore(args: ArgumentCursor, condstore: boolean): StoreArgs {
  const set = args.sequenceSet();
  let unchangedSince: number | undefined;
  const modifiers = args.optionalList();
  if (modifiers) {
    const [name, value] = modifiers.items;
    if (
      !condstore ||
      name?.type !== 'atom' ||
      name.value.toUpperCase() !== 'UNCHANGEDSINCE' ||
      value?.type !== 'atom' ||
      !/^\d+$/.test(value.value)
    )
      throw new BadArgumentsError('Invalid STORE modifier');
    unchangedSince = Number(value.value);
  }
  const item = args.atom('data item').toUpperCase();
  const m = /^([+-]?)FLAGS(\.SILENT)?$/.exec(item);
  if (!m) throw new BadArgumentsError('Invalid STORE data item');
  const rest = args.peek();
  const flags = rest?.type === 'list' ? parseFlagList(args.list().items) : parseFlagList(collectAtoms(args));
  args.end();
  const operation: FlagOperation = m[1] === '+' ? 'add' : m[1] === '-' ? 'remove' : 'set';
  return {
    set,
    operation,
    silent: !!m[2],
    flags,
    ...(unchangedSince !== undefined ? { unchangedSince } : {}),
  };
}

/**
 * The flags this STORE may change (RFC 4314 section 4): flags without their right are left out
 * (the RFC asks not to fail a STORE that can change some); undefined when it may change none.
 * Replacing the flags (FLAGS) may clear any flag, so it needs s, t and w together.
 */
function permittedFlags(args: StoreArgs, rights: string): string[] | undefined {
  if (args.operation === 'set') return holds(rights, 'stw') ? args.flags : undefined;
  const flags = args.flags.filter((flag) => rights.includes(rightForFlag(flag)));
  return flags.length > 0 || args.flags.length === 0 ? flags : undefined;
}

function collectAtoms(args: ArgumentCursor) {
  const out = [];
  while (args.remaining > 0) out.push(args.next());
  return out;
}

async function runStore(session: CommandContext, args: StoreArgs, byUid: boolean) {
  const box = session.selected!;
  if (box.readOnly) return no('Mailbox is read-only', 'READ-ONLY');
  if (!byUid && box.sequenceOutOfRange(args.set))
    return { status: 'BAD' as const, text: 'Invalid message sequence number' };
  const uids = box.resolve(args.set, byUid).filter((uid) => !box.pendingExpunges.has(uid));
  const flags = permittedFlags(args, await selectedRights(session));
  if (!flags) return no('Permission denied (\\Seen needs s, \\Deleted t, other flags w)', NOPERM);
  if (args.unchangedSince !== undefined) session.enable('CONDSTORE');
  const result = await session.backend.updateFlags(
    selectedOwner(session),
    box.id,
    uids,
    args.operation,
    flags,
    args.unchangedSince,
    !args.silent,
  );
  const condstore = session.enabled.has('CONDSTORE');
  if (result.modseq > 0) box.ownChange(result.modseq);
  // Non-silent STORE reports the flags of every message named (changed or not, both returned by the
  // update in UID order); .SILENT only MODSEQ of the changed ones.
  const report = args.silent
    ? condstore
      ? result.changed
      : []
    : [...result.changed, ...result.unchanged].sort((a, b) => a.uid - b.uid);
  for (const change of report) {
    const seq = box.seqOf(change.uid);
    if (seq === 0) continue;
    session.reportFlagChange(seq, change.uid, args.silent ? undefined : change.flags, change.modseq, byUid);
  }
  if (result.modified.length > 0) {
    const set = byUid ? result.modified : result.modified.map((uid) => box.seqOf(uid));
    return ok('Some messages were modified', `MODIFIED ${formatSequenceSet(set)}`);
  }
  return ok(`${byUid ? 'UID STORE' : 'STORE'} completed`);
}

export const storeCommand = defineCommand({
  name: 'STORE',
  states: ['selected'],
  allowsExpunge: false,
  usesSequenceNumbers: true,
  parse: (args, session) => parseStore(args, session.capabilities().includes('CONDSTORE')),
  run: (session, args) => runStore(session, args, false),
});

export const uidStoreCommand = defineCommand({
  name: 'UID STORE',
  states: ['selected'],
  parse: (args, session) => parseStore(args, session.capabilities().includes('CONDSTORE')),
  run: (session, args) => runStore(session, args, true),
});
