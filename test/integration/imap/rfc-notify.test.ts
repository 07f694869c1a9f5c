// Conformance tests of NOTIFY (RFC 5465, issue 15) over the raw protocol, with the notifying
// session on one imap replica and the changes made through another (and by the MDA path, an event
// on NATS), so notifications are shown to come from the cross-replica change feed. Every response
// also goes through the response checker. Nothing waits for time: each test waits for the line it
// expects, and shows that something did not happen by a later thing that did.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mailboxEventSubject } from '@hermod/pipeline';
import { run } from '../../harness/index.js';
import { PASSWORD, RawImapClient, rawImapFile } from './imap-fixture.js';

const note = (subject: string) =>
  `From: a@example.org\r\nTo: b@example.org\r\nSubject: ${subject}\r\n\r\nbody\r\n`;
const lit = (text: string) => `{${Buffer.byteLength(text)}+}\r\n${text}`;

/** Reads lines (no command in progress) until one matches; returns it and the lines before it. */
async function waitFor(raw: RawImapClient, pattern: RegExp, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  const before: string[] = [];
  for (;;) {
    const line = await raw.readLine(Math.max(1, deadline - Date.now()));
    if (pattern.test(line)) return { line, before };
    before.push(line);
  }
}

const SUPPORTED =
  'BADEVENT (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange MailboxMetadataChange ServerMetadataChange)';

describe('imap NOTIFY by RFC 5465', () => {
  const file = rawImapFile();
  const { account } = file;

  it('is advertised; NO [BADEVENT] lists the supported events; composition errors are BAD naming the part', async () => {
    const raw = await (await account('notify-syntax@example.com')).connect();
    assert.match((await raw.command('CAPABILITY')).untagged[0]!, / NOTIFY( |$)/);
    let r = await raw.command('NOTIFY SET (selected (MessageNew MessageExpunge AnnotationChange))');
    assert.equal(r.tagged, `${r.tagged.split(' ')[0]} NO [${SUPPORTED}] Unsupported event AnnotationChange`);
    r = await raw.command('NOTIFY SET (personal (XNoSuchEvent))');
    assert.match(r.tagged, /^t\d+ NO \[BADEVENT \(/);
    r = await raw.command('NOTIFY SET (selected (FlagChange))');
    assert.match(r.tagged, /^t\d+ BAD FlagChange needs MessageNew and MessageExpunge \(event group 1\)$/);
    r = await raw.command('NOTIFY SET (selected (MessageNew))');
    assert.match(r.tagged, /^t\d+ BAD MessageNew and MessageExpunge must be given together/);
    r = await raw.command('NOTIFY SET (selected (MessageNew MessageExpunge MailboxName))');
    assert.match(r.tagged, /^t\d+ BAD MailboxName cannot be used with selected/);
    r = await raw.command('NOTIFY SET (selected NONE) (selected-delayed NONE)');
    assert.match(r.tagged, /^t\d+ BAD Only one of SELECTED and SELECTED-DELAYED/);
    // MessageNew fetch attributes belong to the selected mailbox's filters (RFC 5465 section 8).
    r = await raw.command('NOTIFY SET (personal (MessageNew (UID) MessageExpunge))');
    assert.match(r.tagged, /^t\d+ BAD MessageNew fetch attributes are only for SELECTED/);
    r = await raw.command('NOTIFY SET (anywhere (MailboxName))');
    assert.match(r.tagged, /^t\d+ BAD Unknown mailbox filter anywhere in event group 1$/);
    assert.equal((await raw.command('NOTIFY NONE')).status, 'OK');
  });

  it('NOTIFY SET STATUS: the STATUS of a mailbox watched for FlagChange carries HIGHESTMODSEQ, CONDSTORE enabled or not (section 3.1)', async () => {
    const raw = await (await account('notify-status@example.com')).connect();
    assert.equal((await raw.command('CREATE Watched')).status, 'OK');
    const plain = await raw.command('NOTIFY SET STATUS (mailboxes Watched (MessageNew MessageExpunge))');
    assert.equal(plain.status, 'OK', plain.tagged);
    assert.equal(plain.untagged.length, 1, plain.untagged.join('|'));
    assert.match(plain.untagged[0]!, /^\* STATUS Watched \(MESSAGES 0 UIDNEXT 1 UIDVALIDITY \d+ UNSEEN 0\)$/);
    const flags = await raw.command(
      'NOTIFY SET STATUS (mailboxes Watched (MessageNew MessageExpunge FlagChange))',
    );
    assert.equal(flags.status, 'OK', flags.tagged);
    assert.match(
      flags.untagged[0]!,
      /^\* STATUS Watched \(MESSAGES 0 UIDNEXT 1 UIDVALIDITY \d+ UNSEEN 0 HIGHESTMODSEQ \d+\)$/,
    );
    // Without the STATUS indicator there is no initial STATUS.
    assert.deepEqual(
      (await raw.command('NOTIFY SET (mailboxes Watched (MessageNew MessageExpunge FlagChange))')).untagged,
      [],
    );
  });

  it('message events across replicas: MessageNew FETCH with UID and MODSEQ, STATUS for INBOX, FlagChange, MessageExpunge', async () => {
    const second = await file.fx.startReplica();
    const watcherAccount = await account('notify-msg@example.com');
    const { id } = watcherAccount;
    const watcher = await watcherAccount.connect();
    // The changing session is the same account, on the second replica.
    const changer = await RawImapClient.connect(second.imapsPort, true);
    file.clients.push(changer);
    await changer.readLine();
    await changer.login('notify-msg@example.com');

    assert.equal((await watcher.command('CREATE Work')).status, 'OK');
    await watcher.command('ENABLE CONDSTORE');
    await watcher.command('SELECT Work');
    let r = await watcher.command(
      'NOTIFY SET STATUS (selected (MessageNew (UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)]) MessageExpunge FlagChange)) (inboxes (MessageNew MessageExpunge))',
    );
    assert.equal(r.status, 'OK', r.tagged);
    // NOTIFY SET STATUS: a STATUS for each watched mailbox other than the selected one.
    const inboxStatus = r.untagged.find((l) => l.startsWith('* STATUS INBOX '));
    assert.match(
      inboxStatus ?? '',
      /^\* STATUS INBOX \(MESSAGES 0 UIDNEXT 1 UIDVALIDITY \d+ UNSEEN 0 HIGHESTMODSEQ \d+\)$/,
    );
    assert.ok(!r.untagged.some((l) => l.startsWith('* STATUS Work ')), 'no STATUS for the selected mailbox');

    // APPEND on the other replica: EXISTS, then the FETCH the client asked for, UID and MODSEQ
    // included (CONDSTORE is on), sent with no command in progress.
    const subject = 'Subject: first\r\n\r\n';
    assert.equal((await changer.command(`APPEND Work ${lit(note('first'))}`)).status, 'OK');
    assert.equal((await waitFor(watcher, /EXISTS$/)).line, '* 1 EXISTS');
    const fetched = await waitFor(watcher, /FETCH/);
    const head = `* 1 FETCH (UID 1 FLAGS (\\Recent) BODY[HEADER.FIELDS (SUBJECT)] {${subject.length}}\r\n${subject} MODSEQ (`;
    assert.equal(fetched.line.slice(0, head.length), head);
    assert.match(fetched.line.slice(head.length), /^\d+\)\)$/);

    // New mail in the non-selected INBOX (the MDA's path: stored, then an event on NATS).
    await file.fx.deliver(id, note('to inbox'));
    assert.match(
      (await waitFor(watcher, /^\* STATUS INBOX /)).line,
      /^\* STATUS INBOX \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+ UNSEEN 1 HIGHESTMODSEQ \d+\)$/,
    );

    // A flag change made on the other replica: FETCH with UID, FLAGS and MODSEQ.
    await changer.command('SELECT Work');
    assert.equal((await changer.command('UID STORE 1 +FLAGS.SILENT (\\Deleted)')).status, 'OK');
    assert.match(
      (await waitFor(watcher, /FETCH/)).line,
      /^\* 1 FETCH \(UID 1 FLAGS \(\\Deleted \\Recent\) MODSEQ \(\d+\)\)$/,
    );

    // An expunge: SELECTED (not -delayed) reports it at once.
    assert.equal((await changer.command('EXPUNGE')).status, 'OK');
    assert.equal((await waitFor(watcher, /EXPUNGE$/)).line, '* 1 EXPUNGE');

    // The session's own APPEND is not fetched for it (section 5.2); the other replica's next one is.
    r = await watcher.command(`APPEND Work ${lit(note('mine'))}`);
    assert.ok(!r.untagged.some((l) => /FETCH/.test(l)), r.untagged.join('\n'));
    assert.equal((await changer.command(`APPEND Work ${lit(note('theirs'))}`)).status, 'OK');
    const theirs = await waitFor(watcher, /FETCH/);
    assert.match(theirs.line, /^\* 2 FETCH \(UID 3 /);

    // The client's view matches the database's.
    r = await watcher.command('UID SEARCH ALL');
    assert.deepEqual(r.untagged, ['* SEARCH 2 3']);
  });

  it('SELECTED-DELAYED keeps expunges for a command that allows them', async () => {
    const acc = await account('notify-delayed@example.com');
    const watcher = await acc.connect();
    const changer = await acc.connect();
    await watcher.command('SELECT INBOX');
    assert.equal(
      (await watcher.command('NOTIFY SET (selected-delayed (MessageNew MessageExpunge FlagChange))')).status,
      'OK',
    );
    assert.equal((await changer.command(`APPEND INBOX ${lit(note('one'))}`)).status, 'OK');
    assert.equal((await waitFor(watcher, /EXISTS$/)).line, '* 1 EXISTS');
    await changer.command('SELECT INBOX');
    await changer.command('STORE 1 +FLAGS.SILENT (\\Deleted)');
    await changer.command('EXPUNGE');
    // A later change (new mail) is pushed; the expunge before it is not (MSNs stay valid).
    assert.equal((await changer.command(`APPEND INBOX ${lit(note('two'))}`)).status, 'OK');
    const pushed = await waitFor(watcher, /EXISTS$/);
    assert.equal(pushed.line, '* 2 EXISTS');
    assert.ok(!pushed.before.some((l) => /EXPUNGE/.test(l)), pushed.before.join('\n'));
    // FETCH does not allow EXPUNGE; NOOP does.
    let r = await watcher.command('FETCH 1:2 (UID)');
    assert.ok(!r.untagged.some((l) => /EXPUNGE/.test(l)), r.untagged.join('\n'));
    r = await watcher.command('NOOP');
    assert.ok(r.untagged.includes('* 1 EXPUNGE'), r.untagged.join('\n'));
  });

  it("mailbox events from another replica: MailboxName (OLDNAME, \\NonExistent), SubscriptionChange, metadata; not the session's own", async () => {
    const second = await file.fx.startReplica();
    const acc = await account('notify-names@example.com');
    const watcher = await acc.connect();
    const changer = await RawImapClient.connect(second.imapsPort, true);
    file.clients.push(changer);
    await changer.readLine();
    await changer.login('notify-names@example.com');

    const r = await watcher.command(
      'NOTIFY SET (personal (MailboxName SubscriptionChange MailboxMetadataChange ServerMetadataChange))',
    );
    assert.equal(r.status, 'OK', r.tagged);

    // The session's own CREATE is not reported to it: the next LIST it gets is the other's.
    assert.equal((await watcher.command('CREATE Mine')).status, 'OK');
    assert.equal((await changer.command('CREATE Projects')).status, 'OK');
    const created = await waitFor(watcher, /^\* LIST /);
    assert.equal(created.line, '* LIST (\\HasNoChildren) "/" Projects');

    assert.equal((await changer.command('CREATE Projects/a')).status, 'OK');
    assert.equal((await waitFor(watcher, /^\* LIST /)).line, '* LIST (\\HasNoChildren) "/" Projects/a');

    // RENAME: one LIST per renamed mailbox, with OLDNAME (RFC 5465 section 5.4).
    assert.equal((await changer.command('RENAME Projects Plans')).status, 'OK');
    const renamed = [
      (await waitFor(watcher, /^\* LIST /)).line,
      (await waitFor(watcher, /^\* LIST /)).line,
    ].sort();
    assert.deepEqual(renamed, [
      '* LIST (\\HasChildren) "/" Plans ("OLDNAME" (Projects))',
      '* LIST (\\HasNoChildren) "/" Plans/a ("OLDNAME" (Projects/a))',
    ]);

    // SUBSCRIBE / UNSUBSCRIBE: \Subscribed exactly when subscribed after the change.
    assert.equal((await changer.command('SUBSCRIBE Plans')).status, 'OK');
    assert.equal((await waitFor(watcher, /^\* LIST /)).line, '* LIST (\\HasChildren \\Subscribed) "/" Plans');
    assert.equal((await changer.command('UNSUBSCRIBE Plans')).status, 'OK');
    assert.equal((await waitFor(watcher, /^\* LIST /)).line, '* LIST (\\HasChildren) "/" Plans');

    // DELETE: the name with \NonExistent.
    assert.equal((await changer.command('DELETE Plans/a')).status, 'OK');
    assert.equal((await waitFor(watcher, /^\* LIST /)).line, '* LIST (\\NonExistent) "/" Plans/a');

    // METADATA changes of a mailbox and of the server: the entry names, without values.
    assert.equal((await changer.command('SETMETADATA Plans (/private/comment "x")')).status, 'OK');
    assert.equal((await waitFor(watcher, /^\* METADATA /)).line, '* METADATA Plans /private/comment');
    assert.equal(
      (await changer.command('SETMETADATA "" (/private/vendor/hermod/theme "dark")')).status,
      'OK',
    );
    assert.equal(
      (await waitFor(watcher, /^\* METADATA /)).line,
      '* METADATA "" /private/vendor/hermod/theme',
    );

    // RENAME moves the subscription with the mailbox: the renamed one is listed \Subscribed.
    assert.equal((await changer.command('SUBSCRIBE Plans')).status, 'OK');
    assert.equal(
      (await waitFor(watcher, /^\* LIST /)).line,
      '* LIST (\\HasNoChildren \\Subscribed) "/" Plans',
    );
    assert.equal((await changer.command('RENAME Plans Goals')).status, 'OK');
    assert.equal(
      (await waitFor(watcher, /^\* LIST /)).line,
      '* LIST (\\HasNoChildren \\Subscribed) "/" Goals ("OLDNAME" (Plans))',
    );
  });

  it("a session with another account's mailbox selected (ACL) hears only that mailbox's message events, not the owner's names, subscriptions or metadata", async () => {
    const owner = await account('notify-owner@acl-notify.example');
    const reader = await account('notify-reader@acl-notify.example');
    const own = await owner.connect();
    assert.equal((await own.command('CREATE Team')).status, 'OK');
    assert.match((await own.command('SETACL Team notify-reader@acl-notify.example lr')).tagged, /^t\d+ OK /);
    const other = await reader.connect();
    assert.equal((await other.command('EXAMINE Shared/notify-owner@acl-notify.example/Team')).status, 'OK');
    const r = await other.command(
      'NOTIFY SET (selected (MessageNew MessageExpunge)) (personal (MessageNew MessageExpunge MailboxName SubscriptionChange MailboxMetadataChange))',
    );
    assert.equal(r.status, 'OK', r.tagged);
    // The owner's own mailboxes are not the reader's personal ones (RFC 5465 6: personal is the
    // user's personal namespace): nothing of these may reach the reader.
    assert.equal((await own.command('CREATE Private')).status, 'OK');
    assert.equal((await own.command('SUBSCRIBE Private')).status, 'OK');
    assert.equal((await own.command('SETMETADATA INBOX (/private/comment "mine")')).status, 'OK');
    assert.equal((await own.command(`APPEND INBOX ${lit(note('owner inbox'))}`)).status, 'OK');
    assert.equal((await own.command('DELETE Private')).status, 'OK');
    // The marker: a message in the selected shared mailbox arrives, and nothing came before it.
    assert.equal((await own.command(`APPEND Team ${lit(note('marker'))}`)).status, 'OK');
    const { before } = await waitFor(other, /^\* 1 EXISTS$/);
    assert.deepEqual(before, []);
  });

  it("another account's mailbox (ACL) named in a filter is watched: STATUS at NOTIFY SET STATUS and for the owner's changes on another replica, until access is lost", async () => {
    const owner = await account('watch-owner@acl-notify.example');
    const reader = await account('watch-reader@acl-notify.example');
    const own = await owner.connect();
    assert.equal((await own.command('CREATE Team')).status, 'OK');
    assert.match((await own.command('SETACL Team watch-reader@acl-notify.example lr')).tagged, /^t\d+ OK /);
    assert.equal((await own.command(`APPEND Team ${lit(note('first'))}`)).status, 'OK');
    const team = 'Shared/watch-owner@acl-notify.example/Team';
    const other = await reader.connect();
    const r = await other.command(
      `NOTIFY SET STATUS (mailboxes ${team} (MessageNew MessageExpunge)) (personal (MessageNew MessageExpunge))`,
    );
    assert.equal(r.status, 'OK', r.tagged);
    const teamStatus = (rest: string) =>
      new RegExp(`^\\* STATUS ${team.replace(/[./]/g, '\\$&')} \\(${rest}`);
    assert.ok(
      r.untagged.some((l) => teamStatus('MESSAGES 1 UIDNEXT 2 UIDVALIDITY \\d+ UNSEEN 1\\)$').test(l)),
      r.untagged.join('\n'),
    );
    // The owner appends through another replica: the reader hears of it as a STATUS.
    const second = await file.fx.startReplica();
    const remote = await RawImapClient.connect(second.imapsPort, true);
    file.clients.push(remote);
    await remote.readLine();
    await remote.login('watch-owner@acl-notify.example', PASSWORD);
    assert.equal((await remote.command(`APPEND Team ${lit(note('second'))}`)).status, 'OK');
    assert.match((await waitFor(other, teamStatus('MESSAGES 2 '))).line, /UIDNEXT 3/);
    // Access lost (RFC 5465 5.9): no more STATUS for it; the reader's own INBOX still reports.
    assert.match((await own.command('DELETEACL Team watch-reader@acl-notify.example')).tagged, /^t\d+ OK /);
    assert.equal((await remote.command(`APPEND Team ${lit(note('third'))}`)).status, 'OK');
    // The marker comes through the same replica after it, so its event cannot overtake the other.
    const remoteReader = await RawImapClient.connect(second.imapsPort, true);
    file.clients.push(remoteReader);
    await remoteReader.readLine();
    await remoteReader.login('watch-reader@acl-notify.example', PASSWORD);
    assert.equal((await remoteReader.command(`APPEND INBOX ${lit(note('marker'))}`)).status, 'OK');
    const { before } = await waitFor(other, /^\* STATUS INBOX \(MESSAGES 1 /);
    assert.deepEqual(before, []);
  });

  it('SEARCH RETURN (UPDATE (fetch-att)) (section 7): EXISTS, then FETCH of the new message, then ADDTO', async () => {
    const { id, connect } = await account('notify-update@example.com');
    const raw = await connect();
    const other = await connect();
    await file.fx.deliver(id, note('old boss'), { flags: ['\\Flagged'] });
    await raw.command('SELECT INBOX');
    const start = await raw.command(
      'UID SEARCH RETURN (COUNT UPDATE (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])) SUBJECT boss',
    );
    const tag = start.tagged.split(' ')[0]!;
    assert.deepEqual(start.untagged, [`* ESEARCH (TAG "${tag}") UID COUNT 1`]);
    // New mail that matches: EXISTS, then its FETCH, then ADDTO (RFC 5465 section 7).
    await file.fx.deliver(id, note('new boss'));
    await other.command('SELECT INBOX');
    const subject = 'Subject: new boss\r\n\r\n';
    const lines = (await raw.command('NOOP')).untagged.filter((l) => !/RECENT$/.test(l));
    assert.deepEqual(lines, [
      '* 2 EXISTS',
      `* 2 FETCH (UID 2 BODY[HEADER.FIELDS (SUBJECT)] {${subject.length}}\r\n${subject})`,
      `* ESEARCH (TAG "${tag}") UID ADDTO (0 2)`,
    ]);
    // A message entering the result by a flag change is not fetched.
    await raw.command('UID SEARCH RETURN (UPDATE (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])) FLAGGED');
    await other.command('STORE 2 +FLAGS (\\Flagged)');
    const flagged = (await raw.command('NOOP')).untagged;
    assert.ok(
      flagged.some((l) => /ADDTO \(0 2\)$/.test(l)),
      flagged.join('\n'),
    );
    assert.ok(!flagged.some((l) => /BODY\[/.test(l)), flagged.join('\n'));
  });

  it('IDLE under NOTIFY reports exactly what NOTIFY asks for (section 4)', async () => {
    const acc = await account('notify-idle@example.com');
    const watcher = await acc.connect();
    const changer = await acc.connect();
    await watcher.command('CREATE Other');
    await watcher.command('SELECT INBOX');
    // Only other mailboxes' message events and mailbox names: nothing for the selected INBOX.
    assert.equal(
      (await watcher.command('NOTIFY SET (personal (MessageNew MessageExpunge MailboxName))')).status,
      'OK',
    );
    watcher.send('i1 IDLE\r\n');
    assert.match(await watcher.readLine(), /^\+ /);
    await changer.command(`APPEND Other ${lit(note('elsewhere'))}`);
    assert.match((await waitFor(watcher, /^\* STATUS /)).line, /^\* STATUS Other \(MESSAGES 1 /);
    // New mail in the selected INBOX, then a CREATE: the LIST arrives, with no EXISTS before it.
    await changer.command(`APPEND INBOX ${lit(note('here'))}`);
    await changer.command('CREATE Marker');
    const marker = await waitFor(watcher, /^\* LIST /);
    assert.equal(marker.line, '* LIST (\\HasNoChildren) "/" Marker');
    assert.ok(!marker.before.some((l) => /EXISTS/.test(l)), marker.before.join('\n'));
    watcher.send('DONE\r\n');
    // The command boundary after IDLE reports the selected mailbox as usual.
    const done = await watcher.until('i1');
    assert.equal(done.status, 'OK');
    assert.ok(done.untagged.includes('* 1 EXISTS'), done.untagged.join('\n'));
  });

  it('NOTIFY NONE stops notifications (shown by a session on the same replica that did get the event)', async () => {
    const acc = await account('notify-none@example.com');
    const watcher = await acc.connect();
    const probe = await acc.connect();
    const changer = await acc.connect();
    await watcher.command('NOTIFY SET (personal (MailboxName))');
    await probe.command('NOTIFY SET (personal (MailboxName))');
    // Active: the watcher hears of a CREATE.
    await changer.command('CREATE Before');
    assert.equal((await waitFor(watcher, /^\* LIST /)).line, '* LIST (\\HasNoChildren) "/" Before');
    assert.equal((await waitFor(probe, /^\* LIST /)).line, '* LIST (\\HasNoChildren) "/" Before');

    assert.equal((await watcher.command('NOTIFY NONE')).status, 'OK');
    await changer.command('CREATE After');
    // The probe (same replica, same change feed) has been told; so the watcher's session has had
    // the event too, and its NOOP shows nothing of it.
    assert.equal((await waitFor(probe, /^\* LIST /)).line, '* LIST (\\HasNoChildren) "/" After');
    const r = await watcher.command('NOOP');
    assert.deepEqual(r.untagged, []);
    // A new SET works again, and what happened under NONE is not reported late.
    await watcher.command('NOTIFY SET (personal (MailboxName))');
    await changer.command('CREATE Again');
    const again = await waitFor(watcher, /^\* LIST /);
    assert.equal(again.line, '* LIST (\\HasNoChildren) "/" Again');
  });

  it('a flood of changes ends in * OK [NOTIFICATIONOVERFLOW] and NOTIFY NONE', async () => {
    const replica = await file.fx.startReplica({ IMAP_NOTIFY_MAX_QUEUE: '2' });
    const id = await file.fx.createUser('notify-flood@example.com');
    const watcher = await RawImapClient.connect(replica.imapsPort, true);
    file.clients.push(watcher);
    await watcher.readLine();
    await watcher.login('notify-flood@example.com');
    assert.equal(
      (await watcher.command('NOTIFY SET (personal (MailboxName MessageNew MessageExpunge))')).status,
      'OK',
    );
    const { rows } = await file.fx.db.pool.query<{ id: string }>(
      `SELECT id FROM mailboxes WHERE account_id = $1 AND name = 'INBOX'`,
      [id],
    );
    const inbox = Number(rows[0]!.id);
    // A burst of message events for one mailbox waits as one STATUS: no overflow of a queue of two,
    // shown by a later delivery still being reported, with no NOTIFICATIONOVERFLOW before it.
    for (let i = 0; i < 300; i++)
      file.fx.bus.publish(
        mailboxEventSubject(id),
        JSON.stringify({ accountId: id, mailboxId: inbox, kind: 'exists', uids: [], modseq: 0 }),
      );
    await file.fx.bus.flush();
    await file.fx.deliver(id, note('after the burst'));
    const later = await waitFor(watcher, /^\* STATUS INBOX \(MESSAGES 1 /);
    assert.ok(!later.before.some((l) => /NOTIFICATIONOVERFLOW/.test(l)), later.before.join('\n'));
    // Many distinct events at once on the change feed (as many replicas' changes would arrive):
    // each mailbox change needs its own LIST, so they outgrow the queue.
    for (let i = 0; i < 300; i++)
      file.fx.bus.publish(
        mailboxEventSubject(id),
        JSON.stringify({
          accountId: id,
          mailboxId: 100_000 + i,
          kind: 'mailboxes',
          modseq: 0,
          name: `flood${i}`,
        }),
      );
    await file.fx.bus.flush();
    const overflow = await waitFor(watcher, /NOTIFICATIONOVERFLOW/);
    assert.match(overflow.line, /^\* OK \[NOTIFICATIONOVERFLOW\] /);
    // As after NOTIFY NONE: a new SET is needed; it works.
    assert.equal((await watcher.command('NOTIFY SET (inboxes (MessageNew MessageExpunge))')).status, 'OK');
    await file.fx.deliver(id, note('after overflow'));
    assert.match((await waitFor(watcher, /^\* STATUS INBOX /)).line, /MESSAGES 2 /);
  });

  it('Python imaplib: NOTIFY sent raw, notifications read with no command in progress', async () => {
    await account('notify-py@example.com');
    const script = `
import imaplib, os, ssl
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
port = int(os.environ['PORT'])
imaplib.Commands['NOTIFY'] = ('AUTH', 'SELECTED')
m = imaplib.IMAP4_SSL('127.0.0.1', port, ssl_context=ctx)
m.login('notify-py@example.com', os.environ['PW'])
assert 'NOTIFY' in m.capabilities, m.capabilities
m.create('Work')
m.select('Work')
typ, data = m._simple_command('NOTIFY', 'SET', 'STATUS', '(selected (MessageNew (UID FLAGS) MessageExpunge))', '(inboxes (MessageNew MessageExpunge))')
assert typ == 'OK', (typ, data)
status = m.untagged_responses.pop('STATUS', [])
assert any(s.startswith(b'INBOX (MESSAGES 0 ') for s in status), status
o = imaplib.IMAP4_SSL('127.0.0.1', port, ssl_context=ctx)
o.login('notify-py@example.com', os.environ['PW'])
m.sock.settimeout(10)
def read_until(token):
    while True:
        line = m.readline()
        if token in line:
            return line
o.append('INBOX', None, None, b'Subject: to inbox\\r\\n\\r\\nhi\\r\\n')
line = read_until(b'* STATUS INBOX')
assert b'MESSAGES 1 ' in line, line
o.append('Work', None, None, b'Subject: to work\\r\\n\\r\\nhi\\r\\n')
assert read_until(b'EXISTS').strip() == b'* 1 EXISTS'
line = read_until(b'FETCH')
assert line.strip() == b'* 1 FETCH (UID 1 FLAGS (\\\\Recent))', line
typ, data = m._simple_command('NOTIFY', 'NONE')
assert typ == 'OK', (typ, data)
o.logout()
m.logout()
print('ok')
`;
    const result = await run('python3', ['-c', script], {
      env: { ...process.env, PORT: String(file.fx.service.imapsPort), PW: PASSWORD },
      timeoutMs: 60_000,
    });
    assert.equal(result.stdout.trim(), 'ok', result.stderr);
  });
});
