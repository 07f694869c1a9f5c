import type { MetadataDepth } from '@hermod/mail-store';
import { findAccessible, NOPERM } from '../acl/access.js';
import { BadArgumentsError } from '../protocol/errors.js';
import type { CommandContext } from '../session/command-context.js';
import { type CommandResult, no } from './command.js';

/**
 * entry = astring naming a slash-separated path under /private or /shared (RFC 5464 section 3.2):
 * no "*" or "%", no "//", no trailing "/", no control characters. Names are case-insensitive and
 * kept lower-case. `prefixOnly` allows "/private" and "/shared" themselves (GETMETADATA with DEPTH).
 */
export function parseEntryName(text: string, prefixOnly: boolean): string {
  const name = text.toLowerCase();
  const valid =
    /^\/(private|shared)(\/[^/]+)*$/.test(name) &&
    !/[*%\x00-\x1f\x7f]/.test(name) &&
    (prefixOnly || /^\/(private|shared)\/./.test(name));
  if (!valid) throw new BadArgumentsError(`Invalid metadata entry name ${JSON.stringify(text.slice(0, 64))}`);
  return name;
}

/**
 * The mailbox entry that holds the mailbox's special-use attribute (RFC 6154 section 4). It is not
 * stored: it reads the special use LIST shows, and SETMETADATA may not set it (NO [CANNOT]).
 */
export const SPECIAL_USE_ENTRY = '/private/specialuse';

/** Whether GETMETADATA of `asked` with `depth` (RFC 5464 4.2.2) reaches the entry `name`. */
export function entryReached(asked: string, name: string, depth: MetadataDepth): boolean {
  if (name === asked) return true;
  if (depth === 0 || !name.startsWith(`${asked}/`)) return false;
  return depth === 'infinity' || !name.slice(asked.length + 1).includes('/');
}

export interface MetadataTarget {
  /** null for the server (""). */
  mailboxId: number | null;
  ownerId: number;
  /** The special-use attribute this user sees on the mailbox (none on another account's). */
  specialUse: string | null;
}

/**
 * The mailbox a metadata command names: null for the server (""), else the mailbox (also another
 * account's) with its owner. RFC 5464 3.3 with ACL: a mailbox without l is answered for as missing;
 * private entries (the user's own) need l and one of r, s, w, i, p; shared entries need r to be
 * read and w to be written; else NO [NOPERM].
 */
export async function metadataTarget(
  session: CommandContext,
  mailbox: string,
  entries: string[],
  write: boolean,
): Promise<MetadataTarget | CommandResult> {
  if (mailbox === '') return { mailboxId: null, ownerId: session.user!.id, specialUse: null };
  const access = await findAccessible(session, mailbox);
  if (!access?.rights.includes('l')) return no('No such mailbox', 'NONEXISTENT');
  const allowed = (entry: string) =>
    entry.startsWith('/private')
      ? [...'rswip'].some((r) => access.rights.includes(r))
      : access.rights.includes(write ? 'w' : 'r');
  if (!entries.every(allowed)) return no(`Permission denied (needs the ${write ? 'w' : 'r'} right)`, NOPERM);
  // Another account's special-use folders are not this user's (as in LIST).
  const specialUse = access.shared ? null : access.box.specialUse;
  return { mailboxId: access.box.id, ownerId: access.ownerId, specialUse };
}
