import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MailboxChangeEvent } from '@hermod/pipeline';
import { parseNotify } from '../src/commands/notify-grammar.js';
import { ArgumentCursor } from '../src/protocol/arguments.js';
import { tokenize } from '../src/protocol/parser.js';
import {
  type NotifyView,
  notificationsFor,
  notifyStatusItems,
  statusMailboxes,
} from '../src/session/notify-filter.js';

const spec = (args: string) => {
  const request = parseNotify(new ArgumentCursor(tokenize([Buffer.from(args)], [], 16)), (c) =>
    c.mailbox(true),
  );
  if (request.kind !== 'set') throw new Error('expected SET');
  return request.spec;
};

const event = (
  kind: MailboxChangeEvent['kind'],
  mailboxId: number,
  extra: Partial<MailboxChangeEvent> = {},
) => ({ accountId: 1, mailboxId, kind, uids: [], modseq: 5, ...extra }) as MailboxChangeEvent;

// INBOX is 1 (selected), Lists/ietf is 2, misc is 3, Archive is 4.
const names: Record<number, string> = { 1: 'INBOX', 2: 'Lists/ietf', 3: 'misc', 4: 'Archive' };
const view = (mailboxId: number, extra: Partial<NotifyView> = {}): NotifyView => ({
  selectedId: 1,
  mailboxName: names[mailboxId],
  subscribed: new Set(['Archive']),
  own: false,
  ...extra,
});

describe('NOTIFY filter (RFC 5465 sections 5 and 6)', () => {
  const watching = spec(
    'SET (selected (MessageNew (UID) MessageExpunge)) (subtree Lists (MessageNew MessageExpunge FlagChange)) ' +
      '(mailboxes misc (MessageNew MessageExpunge)) (subscribed (SubscriptionChange MailboxName))',
  );

  it('pushes the selected mailbox only for the events its SELECTED group names', () => {
    assert.deepEqual(notificationsFor(watching, event('exists', 1), view(1)), [{ kind: 'selected' }]);
    assert.deepEqual(notificationsFor(watching, event('expunge', 1), view(1)), [{ kind: 'selected' }]);
    // FlagChange was not asked for on the selected mailbox.
    assert.deepEqual(notificationsFor(watching, event('flags', 1), view(1)), []);
    // No SELECTED group: same as SELECTED NONE, even when another group names the mailbox.
    const noSelected = spec('SET (personal (MessageNew MessageExpunge FlagChange))');
    assert.deepEqual(notificationsFor(noSelected, event('exists', 1), view(1)), []);
  });

  it('sends STATUS for other mailboxes matched by subtree or mailboxes, per event', () => {
    assert.deepEqual(notificationsFor(watching, event('exists', 2), view(2)), [
      { kind: 'status', mailboxId: 2, name: 'Lists/ietf' },
    ]);
    assert.deepEqual(notificationsFor(watching, event('flags', 2), view(2)), [
      { kind: 'status', mailboxId: 2, name: 'Lists/ietf' },
    ]);
    assert.deepEqual(notificationsFor(watching, event('expunge', 3), view(3)), [
      { kind: 'status', mailboxId: 3, name: 'misc' },
    ]);
    assert.deepEqual(notificationsFor(watching, event('flags', 3), view(3)), []);
    assert.deepEqual(notificationsFor(watching, event('exists', 4), view(4)), []);
    // A mailbox the session does not know (yet) gets nothing.
    assert.deepEqual(notificationsFor(watching, event('exists', 9), view(9)), []);
  });

  it('treats subtree as the mailbox and its descendants only', () => {
    const s = spec('SET (subtree Lists (MessageNew MessageExpunge))');
    assert.equal(notificationsFor(s, event('exists', 7), view(7, { mailboxName: 'Lists' })).length, 1);
    assert.equal(notificationsFor(s, event('exists', 7), view(7, { mailboxName: 'Listsmore' })).length, 0);
  });

  it('reports MailboxName for the new or the old name, with OLDNAME and deletion', () => {
    const personal = spec('SET (personal (MailboxName))');
    assert.deepEqual(notificationsFor(personal, event('mailboxes', 8, { name: 'new' }), view(8)), [
      { kind: 'list', name: 'new' },
    ]);
    assert.deepEqual(
      notificationsFor(personal, event('mailboxes', 8, { name: 'gone', deleted: true }), view(8)),
      [{ kind: 'list', name: 'gone', deleted: true }],
    );
    const subtree = spec('SET (subtree Lists (MailboxName))');
    assert.deepEqual(
      notificationsFor(subtree, event('mailboxes', 2, { name: 'Old/ietf', oldName: 'Lists/ietf' }), view(2)),
      [{ kind: 'list', name: 'Old/ietf', oldName: 'Lists/ietf' }],
    );
    assert.deepEqual(notificationsFor(subtree, event('mailboxes', 5, { name: 'Other' }), view(5)), []);
  });

  it('reports SubscriptionChange for subscribed mailboxes as the list is after the change', () => {
    const sub = event('subscription', 0, { name: 'Archive', subscribed: true });
    assert.deepEqual(notificationsFor(watching, sub, view(0)), [{ kind: 'list', name: 'Archive' }]);
    // Unsubscribed: the name is no longer in the subscribed set, so 'subscribed' no longer matches it.
    const unsub = event('subscription', 0, { name: 'Archive', subscribed: false });
    assert.deepEqual(notificationsFor(watching, unsub, view(0, { subscribed: new Set() })), []);
    const personal = spec('SET (personal (SubscriptionChange))');
    assert.deepEqual(notificationsFor(personal, unsub, view(0)), [{ kind: 'list', name: 'Archive' }]);
  });

  it('reports metadata changes of mailboxes and of the server separately', () => {
    const meta = spec('SET (personal (MailboxMetadataChange))');
    const server = spec('SET (personal (ServerMetadataChange))');
    const onBox = event('metadata', 3, { entries: ['/private/comment'] });
    const onServer = event('metadata', 0, { entries: ['/private/vendor/x'] });
    assert.deepEqual(notificationsFor(meta, onBox, view(3)), [
      { kind: 'metadata', mailbox: 'misc', entries: ['/private/comment'] },
    ]);
    assert.deepEqual(notificationsFor(meta, onServer, view(0)), []);
    assert.deepEqual(notificationsFor(server, onServer, view(0)), [
      { kind: 'metadata', mailbox: '', entries: ['/private/vendor/x'] },
    ]);
    assert.deepEqual(notificationsFor(server, onBox, view(3)), []);
  });

  it("leaves out the session's own changes", () => {
    assert.deepEqual(notificationsFor(watching, event('exists', 2), view(2, { own: true })), []);
    const personal = spec('SET (personal (MailboxName))');
    assert.deepEqual(
      notificationsFor(personal, event('mailboxes', 8, { name: 'new' }), view(8, { own: true })),
      [],
    );
  });

  it('lists the mailboxes NOTIFY SET STATUS reports: watched for message events, not the selected one', () => {
    const all = Object.entries(names).map(([id, name]) => ({ id: Number(id), name }));
    assert.deepEqual(
      statusMailboxes(watching, all, 1, new Set()).map((b) => b.name),
      ['Lists/ietf', 'misc'],
    );
    const inboxes = spec('SET STATUS (inboxes (MessageNew MessageExpunge))');
    assert.deepEqual(
      statusMailboxes(inboxes, all, undefined, new Set()).map((b) => b.name),
      ['INBOX', 'Lists/ietf', 'misc', 'Archive'],
    );
  });

  it('a STATUS for a mailbox watched for FlagChange carries HIGHESTMODSEQ even without ENABLE CONDSTORE (section 3.1)', () => {
    // RFC 5465 3.1: MessageNew asks for MESSAGES, UIDNEXT and UIDVALIDITY, MessageExpunge for MESSAGES;
    // FlagChange or AnnotationChange on a server with CONDSTORE for UIDVALIDITY and HIGHESTMODSEQ.
    const newOnly = spec('SET STATUS (mailboxes misc (MessageNew MessageExpunge))');
    const withFlags = spec('SET STATUS (mailboxes misc (MessageNew MessageExpunge FlagChange))');
    const none = new Set<string>();
    assert.deepEqual(notifyStatusItems(newOnly, 'misc', none, false), [
      'MESSAGES',
      'UIDNEXT',
      'UIDVALIDITY',
      'UNSEEN',
    ]);
    assert.deepEqual(notifyStatusItems(withFlags, 'misc', none, false), [
      'MESSAGES',
      'UIDNEXT',
      'UIDVALIDITY',
      'UNSEEN',
      'HIGHESTMODSEQ',
    ]);
    // A session that enabled CONDSTORE gets it for every watched mailbox (as before).
    assert.deepEqual(notifyStatusItems(newOnly, 'misc', none, true).at(-1), 'HIGHESTMODSEQ');
    // The FlagChange of another mailbox's group does not count.
    const elsewhere = spec(
      'SET (mailboxes misc (MessageNew MessageExpunge)) (mailboxes other (MessageNew MessageExpunge FlagChange))',
    );
    assert.equal(notifyStatusItems(elsewhere, 'misc', none, false).includes('HIGHESTMODSEQ'), false);
  });
});
