import { ALL_RIGHTS, type MailboxInfo } from '@hermod/mail-store';
import { CommandFailedError } from '../protocol/errors.js';
import type { CommandContext } from '../session/command-context.js';
import type { SelectedView } from '../session/selected-mailbox.js';
import { holds, permanentFlagsFor } from './rights.js';
import { classifyName, parentName, sharedName } from './shared-namespace.js';

/**
 * The access layer every command goes through (RFC 4314): a name the client sent resolved to the
 * owner's mailbox and the session's rights on it. The rights come from @hermod/mail-store's
 * mailboxRights rule (its SQL); an account's own mailboxes carry every right without asking.
 */
export interface MailboxAccess {
  box: MailboxInfo;
  /** The account the mailbox belongs to (changes are announced under it). */
  ownerId: number;
  /** The mailbox's name in the owner's account. */
  ownName: string;
  /** The name this session sees it under. */
  name: string;
  rights: string;
  /** Another account's mailbox. */
  shared: boolean;
}

/** What a command answers for a mailbox it may not know of: as if it did not exist. */
export const NOPERM = 'NOPERM';

/** The mailbox a name points to, with the session's rights; undefined when there is none to see. */
export async function findAccessible(
  session: CommandContext,
  name: string,
): Promise<MailboxAccess | undefined> {
  const user = session.user!;
  const where = classifyName(name);
  if (where.kind === 'shared-level') return undefined;
  if (where.kind === 'own') {
    const box = await session.backend.findMailbox(user.id, name);
    return box && { box, ownerId: user.id, ownName: name, name, rights: ALL_RIGHTS, shared: false };
  }
  const found = await session.backend.findSharedMailbox(user.id, where.owner, where.name);
  if (!found || found.rights === '') return undefined;
  const { ownerId, ownerAddress, rights, ...box } = found;
  const own = ownerId === user.id;
  return {
    box,
    ownerId,
    ownName: where.name,
    name: own ? where.name : sharedName(ownerAddress, where.name),
    rights,
    shared: !own,
  };
}

/**
 * A mailbox the command needs `needed` rights on. Without them the command fails: NO [NOPERM] when
 * the session may see the mailbox (l), else the answer for a missing mailbox (`missingCode`), so the
 * mailbox's existence is not revealed (RFC 4314 section 6).
 */
export async function accessMailbox(
  session: CommandContext,
  name: string,
  needed: string,
  missingCode = 'NONEXISTENT',
): Promise<MailboxAccess> {
  const access = await findAccessible(session, name);
  if (!access) throw new CommandFailedError('No such mailbox', missingCode);
  checkRights(access.rights, needed, missingCode);
  return access;
}

function checkRights(rights: string, needed: string, missingCode: string): void {
  if (holds(rights, needed)) return;
  if (!rights.includes('l')) throw new CommandFailedError('No such mailbox', missingCode);
  throw new CommandFailedError(`Permission denied (needs the ${needed} right)`, NOPERM);
}

/**
 * Where a new mailbox would go (CREATE, RENAME's target): the owner and the name in the owner's
 * account. A new mailbox of another account needs k on its parent, which must exist.
 */
export async function creationTarget(
  session: CommandContext,
  name: string,
): Promise<{ ownerId: number; ownName: string; shared: boolean }> {
  const user = session.user!;
  const where = classifyName(name);
  if (where.kind === 'own') return { ownerId: user.id, ownName: name, shared: false };
  if (where.kind === 'shared-level')
    throw new CommandFailedError('Mailboxes of the shared namespace belong to their owners', 'CANNOT');
  const parent = parentName(where.name);
  if (parent === '') throw new CommandFailedError('Permission denied (needs the k right)', NOPERM);
  const access = await accessMailbox(session, sharedName(where.owner, parent), 'k');
  return { ownerId: access.ownerId, ownName: where.name, shared: access.shared };
}

const selectedOwners = new WeakMap<SelectedView, { ownerId: number; shared: boolean }>();
/**
 * Before a mailbox is opened (so no change made meanwhile is missed): while it is another
 * account's, the session also hears that account's change events (the cross-session change feed
 * is per owner account).
 */
export function followOwner(session: CommandContext, access: MailboxAccess): void {
  session.followAccount(access.shared ? access.ownerId : undefined);
}

/** Records whose mailbox the session selected. */
export function rememberSelected(box: SelectedView, access: MailboxAccess): void {
  selectedOwners.set(box, { ownerId: access.ownerId, shared: access.shared });
}

/** The owner of the selected mailbox (changes to it are announced under this account). */
export function selectedOwner(session: CommandContext): number {
  const box = session.selected;
  return (box && selectedOwners.get(box)?.ownerId) ?? session.user!.id;
}

/**
 * The session's rights on its selected mailbox, asked afresh for another account's mailbox. When
 * they changed the flags it may set, a new PERMANENTFLAGS tells the client (RFC 4314 5.1.1).
 */
export async function selectedRights(session: CommandContext): Promise<string> {
  const box = session.selected;
  const owner = box && selectedOwners.get(box);
  if (!box || !owner?.shared) return ALL_RIGHTS;
  const rights = await session.backend.mailboxRights(session.user!.id, box.id);
  if (session.selected === box && box.changePermanent(permanentFlagsFor(rights)))
    session.untagged(`OK [PERMANENTFLAGS (${box.permanentFlagsList()})] Flags permitted`);
  return rights;
}

/** Fails the command with NO [NOPERM] unless the session holds `needed` on its selected mailbox. */
export async function requireSelected(session: CommandContext, needed: string): Promise<string> {
  const rights = await selectedRights(session);
  if (!holds(rights, needed))
    throw new CommandFailedError(`Permission denied (needs the ${needed} right)`, NOPERM);
  return rights;
}
