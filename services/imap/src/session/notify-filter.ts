import type { MailboxChangeEvent } from '@hermod/pipeline';
import { classifyName } from '../acl/shared-namespace.js';
import {
  type EventGroup,
  isSelectedFilter,
  type MailboxFilter,
  type NotifyEvent,
  type NotifySpec,
} from '../commands/notify-grammar.js';

/**
 * Which NOTIFY (RFC 5465) responses one change event calls for in one session: a pure decision on
 * the session's NOTIFY SET, what it knows of its mailboxes and the event. Sending is the notifier's.
 */

/** What the session knows when an event arrives. */
export interface NotifyView {
  /** The selected mailbox, if any. */
  selectedId: number | undefined;
  /** The event's mailbox name now (undefined when the session does not know the mailbox). */
  mailboxName: string | undefined;
  subscribed: ReadonlySet<string>;
  /** The event was caused by this session (RFC 5465 section 5: the server SHOULD not notify it). */
  own: boolean;
}

export type Notification =
  /** Push the selected mailbox's changes now (EXISTS + MessageNew FETCH, FETCH FLAGS, EXPUNGE). */
  | { kind: 'selected' }
  /** A STATUS response for a mailbox other than the selected one. */
  | { kind: 'status'; mailboxId: number; name: string }
  /** A LIST response: MailboxName (created, deleted, renamed) or SubscriptionChange. */
  | { kind: 'list'; name: string; oldName?: string; deleted?: boolean }
  /** An unsolicited METADATA response naming changed entries ('' is the server). */
  | { kind: 'metadata'; mailbox: string; entries: string[] };

const MESSAGE_EVENT_OF: Record<string, NotifyEvent | undefined> = {
  exists: 'MessageNew',
  expunge: 'MessageExpunge',
  flags: 'FlagChange',
};

/**
 * Whether a (non-selected) filter names a mailbox. 'inboxes' is 'personal' here (see docs/imap.md);
 * both are the user's personal namespace, never another account's mailboxes (RFC 5465 section 6).
 */
export function filterMatches(filter: MailboxFilter, name: string, subscribed: ReadonlySet<string>): boolean {
  switch (filter.kind) {
    case 'selected':
    case 'selected-delayed':
      return false;
    case 'inboxes':
    case 'personal':
      return classifyName(name).kind === 'own';
    case 'subscribed':
      return subscribed.has(name);
    case 'subtree':
      return filter.names.some((root) => name === root || name.startsWith(`${root}/`));
    case 'mailboxes':
      return filter.names.includes(name);
  }
}

/** The group that decides message events of the selected mailbox (none: SELECTED NONE). */
export function selectedGroup(spec: NotifySpec): EventGroup | undefined {
  return spec.groups.find((g) => isSelectedFilter(g.filter));
}

/** Whether any non-selected group wants `event` for one of `names`. */
function wanted(spec: NotifySpec, event: NotifyEvent, names: string[], subscribed: ReadonlySet<string>) {
  return spec.groups.some(
    (g) =>
      !isSelectedFilter(g.filter) &&
      g.events.has(event) &&
      names.some((name) => filterMatches(g.filter, name, subscribed)),
  );
}

export function notificationsFor(
  spec: NotifySpec,
  event: MailboxChangeEvent,
  view: NotifyView,
): Notification[] {
  if (view.own) return [];
  const messageEvent = MESSAGE_EVENT_OF[event.kind];
  if (messageEvent) {
    if (event.mailboxId === view.selectedId)
      return selectedGroup(spec)?.events.has(messageEvent) ? [{ kind: 'selected' }] : [];
    const name = view.mailboxName;
    if (name === undefined || !wanted(spec, messageEvent, [name], view.subscribed)) return [];
    return [{ kind: 'status', mailboxId: event.mailboxId, name }];
  }
  if (event.kind === 'mailboxes') {
    const name = event.name;
    if (name === undefined) return [];
    const names = event.oldName === undefined ? [name] : [name, event.oldName];
    if (!wanted(spec, 'MailboxName', names, view.subscribed)) return [];
    const out: Notification = { kind: 'list', name };
    if (event.oldName !== undefined) out.oldName = event.oldName;
    if (event.deleted) out.deleted = true;
    return [out];
  }
  if (event.kind === 'subscription') {
    const name = event.name;
    if (name === undefined || !wanted(spec, 'SubscriptionChange', [name], view.subscribed)) return [];
    return [{ kind: 'list', name }];
  }
  if (event.kind === 'metadata') {
    const entries = event.entries ?? [];
    if (entries.length === 0) return [];
    if (event.mailboxId === 0) {
      const any = spec.groups.some(
        (g) => !isSelectedFilter(g.filter) && g.events.has('ServerMetadataChange'),
      );
      return any ? [{ kind: 'metadata', mailbox: '', entries }] : [];
    }
    const name = view.mailboxName;
    if (name === undefined || !wanted(spec, 'MailboxMetadataChange', [name], view.subscribed)) return [];
    return [{ kind: 'metadata', mailbox: name, entries }];
  }
  return [];
}

/** The mailboxes NOTIFY SET STATUS reports: non-selected ones some group wants message events of. */
export function statusMailboxes(
  spec: NotifySpec,
  mailboxes: ReadonlyArray<{ id: number; name: string }>,
  selectedId: number | undefined,
  subscribed: ReadonlySet<string>,
): Array<{ id: number; name: string }> {
  const messageEvents: NotifyEvent[] = ['MessageNew', 'MessageExpunge', 'FlagChange', 'AnnotationChange'];
  return mailboxes.filter(
    (box) =>
      box.id !== selectedId && messageEvents.some((event) => wanted(spec, event, [box.name], subscribed)),
  );
}

/**
 * The items of a NOTIFY STATUS response for a (non-selected) mailbox. RFC 5465 section 3.1:
 * MessageNew needs MESSAGES, UIDNEXT and UIDVALIDITY, MessageExpunge MESSAGES (UNSEEN is extra
 * and cheap); FlagChange or AnnotationChange on a server with CONDSTORE (this one) also needs
 * HIGHESTMODSEQ, whether or not the session enabled CONDSTORE. A CONDSTORE session gets it always.
 */
export function notifyStatusItems(
  spec: NotifySpec,
  name: string,
  subscribed: ReadonlySet<string>,
  condstoreEnabled: boolean,
): string[] {
  const items = ['MESSAGES', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN'];
  const flagEvents = (['FlagChange', 'AnnotationChange'] as const).some((e) =>
    wanted(spec, e, [name], subscribed),
  );
  if (condstoreEnabled || flagEvents) items.push('HIGHESTMODSEQ');
  return items;
}
