import { MAILBOX_SEPARATOR } from '@hermod/mail-store';
import { normalizeMailboxName } from '../protocol/arguments.js';

/**
 * The "Other Users" namespace (RFC 2342): another account's mailbox `Team` is seen as
 * `Shared/owner@example.com/Team`. `Shared` and `Shared/owner@example.com` are only levels of
 * the hierarchy (\Noselect); an account's own mailboxes cannot use the prefix.
 */
export const SHARED_ROOT = 'Shared';
export const SHARED_PREFIX = `${SHARED_ROOT}${MAILBOX_SEPARATOR}`;

export type NamespaceName =
  | { kind: 'own'; name: string }
  /** `Shared` or `Shared/owner`: a level of the shared namespace, never a mailbox. */
  | { kind: 'shared-level'; owner?: string }
  | { kind: 'shared'; owner: string; name: string };

/** Where a (normalised) mailbox name a client sent points. */
export function classifyName(name: string): NamespaceName {
  if (name !== SHARED_ROOT && !name.startsWith(SHARED_PREFIX)) return { kind: 'own', name };
  const rest = name.slice(SHARED_PREFIX.length);
  if (name === SHARED_ROOT || rest === '') return { kind: 'shared-level' };
  const cut = rest.indexOf(MAILBOX_SEPARATOR);
  if (cut < 0) return { kind: 'shared-level', owner: rest.toLowerCase() };
  return {
    kind: 'shared',
    owner: rest.slice(0, cut).toLowerCase(),
    name: normalizeMailboxName(rest.slice(cut + 1)),
  };
}

/** The name under which another account's mailbox appears. */
export function sharedName(ownerAddress: string, name: string): string {
  return `${SHARED_PREFIX}${ownerAddress}${MAILBOX_SEPARATOR}${name}`;
}

/** The parent of a mailbox name ('' at the top level). */
export function parentName(name: string): string {
  const cut = name.lastIndexOf(MAILBOX_SEPARATOR);
  return cut < 0 ? '' : name.slice(0, cut);
}
