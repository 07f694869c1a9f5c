// Conformance tests of UIDONLY (RFC 9586, issue 15), written from the RFC's grammar and examples
// over the raw protocol; every response also goes through the response checker (UIDFETCH grammar,
// no EXPUNGE and no FETCH once UIDONLY is enabled).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RawImapClient, rawImapFile } from './imap-fixture.js';

const message = (subject: string) =>
  ['From: a@example.com', 'To: b@example.com', `Subject: ${subject}`, '', 'hello', ''].join('\r\n');

describe('imap UIDONLY by RFC 9586', () => {
  const file = rawImapFile();
  const { account } = file;

  it('ENABLE UIDONLY: UIDFETCH responses keyed by UID, sequence-number commands refused with UIDREQUIRED', async () => {
    const { id, connect } = await account('uidonly@example.com');
    for (let i = 1; i <= 4; i++) await file.fx.deliver(id, message(`m${i}`));
    const raw = await connect();
    assert.match((await raw.command('CAPABILITY')).untagged[0]!, / UIDONLY( |$)/);
    assert.deepEqual((await raw.command('ENABLE UIDONLY')).untagged, ['* ENABLED UIDONLY']);
    const select = await raw.command('SELECT INBOX');
    assert.ok(!select.untagged.some((l) => /\[UNSEEN /.test(l)), 'no sequence number in UNSEEN');
    assert.ok(select.untagged.includes('* 4 EXISTS'));
    // Section 3.3's example: UID FETCH answered with UIDFETCH, the UID standing first.
    assert.deepEqual((await raw.command('UID FETCH 2:3 (FLAGS RFC822.SIZE)')).untagged, [
      '* 2 UIDFETCH (FLAGS (\\Recent) RFC822.SIZE 62)',
      '* 3 UIDFETCH (FLAGS (\\Recent) RFC822.SIZE 62)',
    ]);
    assert.deepEqual((await raw.command('UID STORE 3 +FLAGS (\\Deleted)')).untagged, [
      '* 3 UIDFETCH (FLAGS (\\Deleted \\Recent))',
    ]);
    // A UID asked for explicitly is still answered (the response is never an empty list).
    assert.deepEqual((await raw.command('UID FETCH 2 (UID)')).untagged, ['* 2 UIDFETCH (UID 2)']);
    const search = await raw.command('UID SEARCH DELETED');
    assert.equal(search.untagged[0], '* SEARCH 3');
    // Every command that takes or returns message sequence numbers is BAD [UIDREQUIRED].
    for (const bad of [
      'FETCH 1 FLAGS',
      'STORE 1 +FLAGS (\\Seen)',
      'SEARCH ALL',
      'COPY 1 INBOX',
      'MOVE 1 INBOX',
      'SORT (DATE) UTF-8 ALL',
      'THREAD REFERENCES UTF-8 ALL',
      'UID SEARCH 1:2',
      'UID SEARCH NOT 1',
      'UID SORT (DATE) UTF-8 OR 1 SEEN',
      'REPLACE 1 INBOX {1+}\r\nx',
    ]) {
      const r = await raw.command(bad);
      assert.match(r.tagged, /^t\d+ BAD \[UIDREQUIRED\] /, bad);
    }
    // EXPUNGE is reported as VANISHED, even without QRESYNC (section 3.4).
    assert.deepEqual((await raw.command('EXPUNGE')).untagged, ['* VANISHED 3']);
    // Another session's changes arrive as UIDFETCH and VANISHED too.
    const other = await connect();
    await other.command('SELECT INBOX');
    await other.command('UID STORE 1 +FLAGS (\\Flagged \\Deleted)');
    await other.command('UID STORE 4 +FLAGS (\\Deleted)');
    await other.command('UID EXPUNGE 4');
    const noop = await raw.command('NOOP');
    assert.deepEqual(noop.untagged, ['* VANISHED 4', '* 1 UIDFETCH (FLAGS (\\Deleted \\Flagged \\Recent))']);
    // CONDSTORE: MODSEQ rides in UIDFETCH; UID MOVE gives COPYUID and VANISHED.
    const fetched = await raw.command('UID FETCH 1 (MODSEQ)');
    assert.match(fetched.untagged.at(-1)!, /^\* 1 UIDFETCH \(MODSEQ \(\d+\)\)$/);
    const moved = await raw.command('UID MOVE 1 Trash');
    assert.match(moved.untagged[0]!, /^\* OK \[COPYUID \d+ 1 1\] /);
    assert.equal(moved.untagged[1], '* VANISHED 1');
  });

  it('QRESYNC sequence match data names message numbers: BAD [UIDREQUIRED] once UIDONLY is on', async () => {
    const { id, connect } = await account('uidonly-qresync@example.com');
    for (let i = 1; i <= 2; i++) await file.fx.deliver(id, message(`q${i}`));
    const raw = await connect();
    assert.deepEqual((await raw.command('ENABLE UIDONLY QRESYNC')).untagged, ['* ENABLED UIDONLY QRESYNC']);
    const r = await raw.command('SELECT INBOX (QRESYNC (1 1 1:2 (1:2 1:2)))');
    assert.match(r.tagged, /^t\d+ BAD \[UIDREQUIRED\] /);
    assert.equal((await raw.command('SELECT INBOX (QRESYNC (1 1 1:2))')).status, 'OK');
  });

  it('without UIDONLY nothing changes; ENABLE needs the authenticated state', async () => {
    const { id, connect } = await account('seqs@example.com');
    await file.fx.deliver(id, message('one'));
    const raw = await connect();
    await raw.command('SELECT INBOX');
    assert.deepEqual((await raw.command('FETCH 1 (UID)')).untagged, ['* 1 FETCH (UID 1)']);
    const fresh = await RawImapClient.connect(file.fx.service.imapsPort, true);
    file.clients.push(fresh);
    await fresh.readLine();
    assert.equal((await fresh.command('ENABLE UIDONLY')).status, 'BAD');
  });
});
