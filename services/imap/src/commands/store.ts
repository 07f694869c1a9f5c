import type { FlagOperation } from '@hermod/mail-store';
import { NOPERM, selectedOwner, selectedRights } from '../acl/access.js';
import { holds, rightForFlag } from '../acl/rights.js';
import { type ArgumentCursor, parseFlagList, SYSTEM_FLAGS } from '../protocol/arguments.js';
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
 * What this STORE does under the session's rights (RFC 4314 section 4): flags without their right
 * are left out (the RFC asks not to fail a STORE that can change some); undefined when it may change
 * none. Replacing the flags (FLAGS) with only some of s, t and w is done as Dovecot does it: the
 * flags the session may change are removed unless given, then the given ones it may set are added,
 * and the others stay as they are (the mailbox's keywords the session knows of stand for "every
 * other flag").
 */
function permittedSteps(
  args: StoreArgs,
  rights: string,
  keywords: Iterable<string>,
): Array<{ operation: FlagOperation; flags: string[] }> | undefined {
  const may = (flag: string) => rights.includes(rightForFlag(flag));
  if (args.operation === 'set') {
    if (holds(rights, 'stw')) return [{ operation: 'set', flags: args.flags }];
    if (![...'stw'].some((r) => rights.includes(r))) return undefined;
    const given = new Set(args.flags);
    const remove = [...SYSTEM_FLAGS, ...keywords].filter((flag) => may(flag) && !given.has(flag));
    const add = args.flags.filter(may);
    return [
      ...(remove.length > 0 ? [{ operation: 'remove' as const, flags: remove }] : []),
      ...(add.length > 0 ? [{ operation: 'add' as const, flags: add }] : []),
    ];
  }
  const flags = args.flags.filter(may);
  return flags.length > 0 || args.flags.length === 0 ? [{ operation: args.operation, flags }] : undefined;
}

type StoreResult = Awaited<ReturnType<CommandContext['backend']['updateFlags']>>;

/** The changes of two steps of one STORE: the later one of a message wins. */
function mergeChanges(first: StoreResult['changed'], second: StoreResult['changed']): StoreResult['changed'] {
  const byUid = new Map(first.map((change) => [change.uid, change]));
  for (const change of second) byUid.set(change.uid, change);
  return [...byUid.values()].sort((a, b) => a.uid - b.uid);
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
  const steps = permittedSteps(args, await selectedRights(session), box.keywords);
  if (!steps) return no('Permission denied (\\Seen needs s, \\Deleted t, other flags w)', NOPERM);
  if (args.unchangedSince !== undefined) session.enable('CONDSTORE');
  let result: StoreResult = { changed: [], unchanged: [], modified: [], modseq: 0 };
  let changed: StoreResult['changed'] = [];
  let modified: number[] = [];
  let targets = uids;
  for (const [i, step] of steps.entries()) {
    // UNCHANGEDSINCE is tested by the first step; what it refused is left out of the next one.
    result = await session.backend.updateFlags(
      selectedOwner(session),
      box.id,
      targets,
      step.operation,
      step.flags,
      i === 0 ? args.unchangedSince : undefined,
      i === steps.length - 1 && !args.silent,
    );
    if (result.modseq > 0) box.ownChange(result.modseq);
    changed = i === 0 ? result.changed : mergeChanges(changed, result.changed);
    if (i === 0) modified = result.modified;
    if (modified.length > 0) targets = targets.filter((uid) => !modified.includes(uid));
  }
  const condstore = session.enabled.has('CONDSTORE');
  // Non-silent STORE reports the flags of every message named (changed or not, both returned by the
  // last update in UID order); .SILENT only MODSEQ of the changed ones.
  const report = args.silent
    ? condstore
      ? changed
      : []
    : [...result.changed, ...result.unchanged].sort((a, b) => a.uid - b.uid);
  for (const change of report) {
    const seq = box.seqOf(change.uid);
    if (seq === 0) continue;
    session.reportFlagChange(seq, change.uid, args.silent ? undefined : change.flags, change.modseq, byUid);
  }
  if (modified.length > 0) {
    const set = byUid ? modified : modified.map((uid) => box.seqOf(uid));
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
