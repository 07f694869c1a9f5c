import { type AclChange, ALL_RIGHTS, canonicalRights, type KeptFlags } from '@hermod/mail-store';

/**
 * Rights as IMAP ACL (RFC 4314) writes them. The rights t, e, x and k are each their own right
 * (capability RIGHTS=texk); the RFC 2086 rights c and d are accepted as their groups: c is k and x
 * (create and delete mailboxes), d is t and e (delete and expunge messages). Replies name c or d
 * too when any right of the group is held (RFC 4314 2.1.1: "When any of the ... member rights is
 * set").
 */
export const RIGHTS_CAPABILITY = 'RIGHTS=texk';

const OBSOLETE: Record<string, string> = { c: 'kx', d: 'te' };

/** Rights from a client (SETACL): the letters expanded, or an error text for an unknown letter. */
export function parseRights(text: string): string | { error: string } {
  let out = '';
  for (const right of text) {
    if (ALL_RIGHTS.includes(right)) out += right;
    else if (OBSOLETE[right]) out += OBSOLETE[right];
    else return { error: `Unknown right ${JSON.stringify(right)}` };
  }
  return canonicalRights(out);
}

/** SETACL's mod-rights: '+' adds, '-' removes, otherwise the rights replace the old ones. */
export function parseModRights(text: string): AclChange | { error: string } {
  const mode = text.startsWith('+') ? 'add' : text.startsWith('-') ? 'remove' : 'set';
  const rights = parseRights(mode === 'set' ? text : text.slice(1));
  return typeof rights === 'string' ? { mode, rights } : rights;
}

/** Rights for a reply (MYRIGHTS, GETACL, LISTRIGHTS): canonical order, plus c and d for their groups. */
export function formatRights(rights: string): string {
  const own = canonicalRights(rights);
  let out = own;
  for (const [legacy, group] of Object.entries(OBSOLETE))
    if ([...group].some((r) => own.includes(r))) out += legacy;
  return out;
}

/**
 * The flags of a new message (APPEND, COPY, MOVE, REPLACE) the target rights let the session store
 * (RFC 4314 section 4): the others are dropped, never a reason to fail.
 */
export function storableFlags(rights: string, flags: string[]): string[] {
  return flags.filter((flag) => rights.includes(rightForFlag(flag)));
}

/** What storableFlags keeps, for copies made in the store; undefined when every flag may be kept. */
export function keptFlags(rights: string): KeptFlags | undefined {
  const keep = {
    seen: rights.includes(rightForFlag('\\Seen')),
    deleted: rights.includes(rightForFlag('\\Deleted')),
    others: rights.includes(rightForFlag('\\Flagged')),
  };
  return keep.seen && keep.deleted && keep.others ? undefined : keep;
}

/**
 * Whether SELECT opens a mailbox read-only (RFC 4314 5.2): READ-ONLY when none of i, e and the
 * shared flag rights (s, w, t: every flag is shared here) is held, READ-WRITE with any of them.
 */
export function opensReadOnly(rights: string): boolean {
  return ![...'iestw'].some((r) => rights.includes(r));
}

/** Whether every right in `needed` is held. */
export function holds(rights: string, needed: string): boolean {
  return [...needed].every((r) => rights.includes(r));
}

/**
 * The right a flag change needs (RFC 4314 section 4): \Seen needs s, \Deleted needs t, every other
 * flag w.
 */
export function rightForFlag(flag: string): 's' | 't' | 'w' {
  const lower = flag.toLowerCase();
  return lower === '\\seen' ? 's' : lower === '\\deleted' ? 't' : 'w';
}

/** LISTRIGHTS for an identifier other than the owner: nothing required, each right on its own. */
export const OPTIONAL_RIGHTS = [...ALL_RIGHTS];

/**
 * The flags a session may change for PERMANENTFLAGS: 'all' with s, w and t; undefined when it may
 * change nothing (no s, w, t or e; PERMANENTFLAGS is then empty); else the system flags it may set.
 */
export function permanentFlagsFor(rights: string): 'all' | string[] | undefined {
  if (holds(rights, 'swt')) return 'all';
  if (![...'swte'].some((r) => rights.includes(r))) return undefined;
  const flags: string[] = [];
  if (rights.includes('w')) flags.push('\\Answered', '\\Flagged', '\\Draft');
  if (rights.includes('t')) flags.push('\\Deleted');
  if (rights.includes('s')) flags.push('\\Seen');
  if (rights.includes('w')) flags.push('\\*');
  return flags;
}
