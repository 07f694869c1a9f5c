import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type NotifyRequest, parseNotify } from '../src/commands/notify-grammar.js';
import { ArgumentCursor } from '../src/protocol/arguments.js';
import { BadArgumentsError } from '../src/protocol/errors.js';
import { tokenize } from '../src/protocol/parser.js';
import { parseReturnOptions } from '../src/search/esearch.js';

const parse = (args: string): NotifyRequest =>
  parseNotify(new ArgumentCursor(tokenize([Buffer.from(args)], [], 16)), (cursor) => cursor.mailbox(true));

const set = (args: string) => {
  const request = parse(args);
  assert.equal(request.kind, 'set');
  return request as Extract<NotifyRequest, { kind: 'set' }>;
};

const bad = (args: string, message: RegExp) =>
  assert.throws(
    () => parse(args),
    (error: unknown) => error instanceof BadArgumentsError && message.test(error.message),
    `expected BAD ${message} for ${args}`,
  );

describe('NOTIFY grammar (RFC 5465 section 8)', () => {
  it('reads NONE, SET, SET STATUS and every mailbox filter', () => {
    assert.deepEqual(parse('NONE'), { kind: 'none' });
    assert.deepEqual(parse('none'), { kind: 'none' });
    const request = set(
      'SET STATUS (selected (MessageNew (UID BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)]) MessageExpunge FlagChange)) ' +
        '(subtree Lists (MessageNew MessageExpunge)) (mailboxes (misc "two words") (MessageNew MessageExpunge)) ' +
        '(inboxes (MessageNew MessageExpunge)) (personal (MailboxName SubscriptionChange MailboxMetadataChange ServerMetadataChange)) ' +
        '(subscribed NONE)',
    );
    assert.equal(request.spec.status, true);
    assert.deepEqual(request.unsupported, []);
    const [selected, subtree, mailboxes, inboxes, personal, subscribed] = request.spec.groups;
    assert.deepEqual(selected!.filter, { kind: 'selected' });
    assert.deepEqual([...selected!.events], ['MessageNew', 'MessageExpunge', 'FlagChange']);
    assert.deepEqual(
      selected!.fetch.map((f) => (f.kind === 'section' ? f.label : f.kind === 'simple' ? f.name : f.kind)),
      ['UID', 'BODY[HEADER.FIELDS (FROM SUBJECT)]'],
    );
    assert.deepEqual(subtree!.filter, { kind: 'subtree', names: ['Lists'] });
    assert.deepEqual(mailboxes!.filter, { kind: 'mailboxes', names: ['misc', 'two words'] });
    assert.deepEqual(inboxes!.filter, { kind: 'inboxes' });
    assert.equal(personal!.events.size, 4);
    assert.deepEqual(subscribed!.filter, { kind: 'subscribed' });
    assert.equal(subscribed!.events.size, 0);
    assert.equal(set('SET (selected-delayed (MessageNew MessageExpunge))').spec.status, false);
  });

  it('keeps unknown and unsupported event names for NO [BADEVENT] instead of BAD', () => {
    const request = set('SET (personal (MessageNew MessageExpunge AnnotationChange FlagChange XFuture))');
    assert.deepEqual(request.unsupported.sort(), ['AnnotationChange', 'XFuture']);
  });

  it('answers BAD naming the part that is wrong', () => {
    bad('', /SET or NONE/);
    bad('WATCH (selected (MessageNew MessageExpunge))', /WATCH: expected SET or NONE/);
    bad('NONE (selected NONE)', /Too many arguments/);
    bad('SET', /at least one event group/);
    bad('SET STATUS', /at least one event group/);
    bad('SET selected', /Event group 1 is not a list/);
    bad(
      'SET (personal (MailboxName)) (elsewhere (MailboxName))',
      /Unknown mailbox filter elsewhere in event group 2/,
    );
    bad('SET (subtree)', /Missing mailbox for subtree in event group 1/);
    bad('SET (mailboxes () (MessageNew MessageExpunge))', /Empty mailbox list for mailboxes/);
    bad('SET (personal)', /Missing events in event group 1/);
    bad('SET (personal ())', /Empty event list in event group 1/);
    bad('SET (personal MailboxName)', /must be a list or NONE/);
    bad('SET (personal (MailboxName) extra)', /Unexpected data after the events of event group 1/);
    bad('SET (personal ("MailboxName"))', /Expected an event name/);
  });

  it('enforces which events go together (RFC 5465 section 5)', () => {
    bad('SET (selected (MessageNew))', /MessageNew and MessageExpunge must be given together/);
    bad('SET (personal (MessageExpunge))', /MessageNew and MessageExpunge must be given together/);
    bad('SET (selected (FlagChange))', /FlagChange needs MessageNew and MessageExpunge/);
    bad('SET (personal (AnnotationChange))', /AnnotationChange needs MessageNew and MessageExpunge/);
  });

  it('allows only message events with SELECTED, and only one of SELECTED and SELECTED-DELAYED', () => {
    bad('SET (selected (MessageNew MessageExpunge MailboxName))', /MailboxName cannot be used with selected/);
    bad(
      'SET (selected-delayed (SubscriptionChange))',
      /SubscriptionChange cannot be used with selected-delayed/,
    );
    bad(
      'SET (selected (MessageNew MessageExpunge)) (selected-delayed (MessageNew MessageExpunge))',
      /Only one of SELECTED and SELECTED-DELAYED/,
    );
  });

  it('reports a bad MessageNew fetch attribute as such', () => {
    bad(
      'SET (selected (MessageNew (UID NOSUCHITEM) MessageExpunge))',
      /MessageNew fetch attributes in event group 1/,
    );
  });
});

describe('SEARCH/SORT RETURN (UPDATE (fetch-att)) (RFC 5465 section 7)', () => {
  const options = (text: string) => {
    const [list] = tokenize([Buffer.from(text)], [], 16);
    if (list?.type !== 'list') throw new Error('expected a list');
    return parseReturnOptions(list.items, true);
  };
  it('reads the fetch attributes after UPDATE, and plain UPDATE without them', () => {
    const withFetch = options('(COUNT UPDATE (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)]))');
    assert.deepEqual([...withFetch.names].sort(), ['COUNT', 'UPDATE']);
    assert.deepEqual(
      withFetch.updateFetch?.map((f) =>
        f.kind === 'section' ? f.label : f.kind === 'simple' ? f.name : f.kind,
      ),
      ['UID', 'BODY[HEADER.FIELDS (SUBJECT)]'],
    );
    assert.equal(options('(UPDATE MIN)').updateFetch, undefined);
    assert.throws(() => options('(UPDATE (NOSUCHITEM))'), BadArgumentsError);
  });
});
