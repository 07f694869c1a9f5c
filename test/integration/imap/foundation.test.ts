import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import { type ImapFixture, PASSWORD, RawImapClient, startImapFixture } from './imap-fixture.js';

const message = [
  'From: Alice <alice@example.com>',
  'To: Bob <bob@example.com>',
  'Subject: Hello there',
  'Date: Mon, 23 Nov 2026 10:00:00 +0000',
  'Message-ID: <m1@example.com>',
  '',
  'Body line one',
  'Body line two',
  '',
].join('\r\n');

describe('imap foundation (issue 2): login, select, fetch, store over TLS', () => {
  let fx: ImapFixture;
  let accountId: number;
  before(async () => {
    fx = await startImapFixture();
    accountId = await fx.createUser('bob@example.com');
    await fx.deliver(accountId, message);
  });
  after(async () => {
    await fx?.close();
  });

  it('imapflow over implicit TLS reads back the exact body bytes', async () => {
    const client = new ImapFlow({
      host: '127.0.0.1',
      port: fx.service.imapsPort,
      secure: true,
      tls: { rejectUnauthorized: false },
      auth: { user: 'bob@example.com', pass: PASSWORD },
      logger: false,
    });
    await client.connect();
    const lock = await client.getMailboxLock('INBOX');
    try {
      const fetched = await client.fetchOne('1', {
        source: true,
        uid: true,
        flags: true,
        internalDate: true,
        size: true,
        envelope: true,
      });
      assert.ok(fetched);
      assert.equal(fetched.source?.toString('utf8'), message);
      assert.equal(fetched.size, Buffer.byteLength(message));
      assert.equal(fetched.envelope?.subject, 'Hello there');
      assert.equal(fetched.envelope?.from?.[0]?.address, 'alice@example.com');
      assert.deepEqual(
        [...(fetched.flags ?? [])].filter((f) => f !== '\\Recent'),
        [],
      );
      await client.messageFlagsAdd('1', ['\\Flagged']);
      const again = await client.fetchOne('1', { flags: true });
      assert.ok(again && again.flags?.has('\\Flagged') === true);
    } finally {
      lock.release();
    }
    await client.logout();
  });

  it('imapflow with STARTTLS lists the default folders with special-use flags', async () => {
    const client = new ImapFlow({
      host: '127.0.0.1',
      port: fx.service.imapPort,
      secure: false,
      doSTARTTLS: true,
      tls: { rejectUnauthorized: false },
      auth: { user: 'bob@example.com', pass: PASSWORD },
      logger: false,
    });
    await client.connect();
    const list = await client.list();
    const byPath = new Map(list.map((m) => [m.path, m]));
    for (const name of ['INBOX', 'Drafts', 'Sent', 'Trash', 'Junk', 'Archive'])
      assert.ok(byPath.has(name), `missing ${name}`);
    assert.equal(byPath.get('Sent')?.specialUse, '\\Sent');
    assert.equal(byPath.get('Trash')?.specialUse, '\\Trash');
    await client.logout();
  });

  it('refuses LOGIN before STARTTLS and advertises LOGINDISABLED', async () => {
    const raw = await RawImapClient.connect(fx.service.imapPort, false);
    const greeting = await raw.readLine();
    assert.match(greeting, /^\* OK .*STARTTLS/);
    assert.match(greeting, /LOGINDISABLED/);
    const r = await raw.command(`LOGIN bob@example.com "${PASSWORD}"`);
    assert.equal(r.status, 'NO');
    raw.close();
  });

  // RFC 3501 §6.2.3 / RFC 9051 §6.2.3: LOGINDISABLED means the LOGIN command is refused, so it
  // must not be listed where LOGIN is accepted (found by Dovecot's imaptest: the greeting read
  // "AUTH=PLAIN ... LOGINDISABLED" over TLS and with plaintext authentication allowed).
  it('lists LOGINDISABLED only where LOGIN is refused: not over TLS, not when plaintext auth is allowed', async () => {
    const tls = await RawImapClient.connect(fx.service.imapsPort, true);
    const tlsGreeting = await tls.readLine();
    assert.match(tlsGreeting, /AUTH=PLAIN/);
    assert.doesNotMatch(tlsGreeting, /LOGINDISABLED/);
    tls.close();

    const upgraded = await RawImapClient.connect(fx.service.imapPort, false);
    await upgraded.readLine();
    assert.equal((await upgraded.command('STARTTLS')).status, 'OK');
    await upgraded.startTls();
    const caps = await upgraded.command('CAPABILITY');
    assert.match(caps.untagged[0] ?? '', /AUTH=PLAIN/);
    assert.doesNotMatch(caps.untagged[0] ?? '', /LOGINDISABLED/);
    upgraded.close();

    const plain = await fx.startReplica({ IMAP_ALLOW_PLAINTEXT_AUTH: 'true' });
    const raw = await RawImapClient.connect(plain.imapPort, false);
    const greeting = await raw.readLine();
    assert.match(greeting, /AUTH=PLAIN/);
    assert.doesNotMatch(greeting, /LOGINDISABLED/);
    assert.equal((await raw.command(`LOGIN bob@example.com "${PASSWORD}"`)).status, 'OK');
    raw.close();
  });

  it('discards commands pipelined with STARTTLS (no plaintext injection)', async () => {
    const raw = await RawImapClient.connect(fx.service.imapPort, false);
    await raw.readLine();
    raw.send('a STARTTLS\r\nb CAPABILITY\r\n');
    assert.match(await raw.readLine(), /^a OK/);
    await raw.startTls();
    const r = await raw.command('CAPABILITY');
    assert.equal(r.status, 'OK');
    assert.ok(!r.untagged.some((l) => l.startsWith('b ')), 'injected command must not run');
    assert.ok(r.untagged[0]?.includes('AUTH=PLAIN'));
    assert.ok(!r.untagged[0]?.includes('STARTTLS'));
    raw.close();
  });

  it('speaks the protocol exactly: SELECT, FETCH items, BODY[HEADER], PEEK vs \\Seen, STORE, NOOP, LOGOUT', async () => {
    const raw = await RawImapClient.connect(fx.service.imapsPort, true);
    await raw.readLine();
    const auth = await raw.command(
      `AUTHENTICATE PLAIN ${Buffer.from(`\0bob@example.com\0${PASSWORD}`).toString('base64')}`,
    );
    assert.equal(auth.status, 'OK', auth.tagged);
    const sel = await raw.command('SELECT INBOX');
    assert.match(sel.tagged, /OK \[READ-WRITE\]/);
    assert.ok(sel.untagged.includes('* 1 EXISTS'));
    assert.ok(sel.untagged.some((l) => /^\* OK \[UIDVALIDITY \d+\]/.test(l)));
    assert.ok(sel.untagged.some((l) => l === '* OK [UIDNEXT 2] Predicted next UID'));
    const headerEnd = message.indexOf('\r\n\r\n') + 4;
    const peek = await raw.command('FETCH 1 (UID RFC822.SIZE BODY.PEEK[HEADER])');
    assert.equal(
      peek.untagged[0],
      `* 1 FETCH (UID 1 RFC822.SIZE ${message.length} BODY[HEADER] {${headerEnd}}\r\n${message.slice(0, headerEnd)})`,
    );
    const flags = await raw.command('FETCH 1 FLAGS');
    assert.ok(!flags.untagged[0]?.includes('\\Seen'));
    const body = await raw.command('UID FETCH 1 BODY[]');
    assert.equal(
      body.untagged[0],
      `* 1 FETCH (UID 1 BODY[] {${message.length}}\r\n${message} FLAGS (\\Flagged \\Seen))`
        .replace(' FLAGS', ' FLAGS')
        .replace(`${message} FLAGS`, `${message} FLAGS`),
    );
    const internal = await raw.command('FETCH 1 INTERNALDATE');
    assert.match(
      internal.untagged[0]!,
      /^\* 1 FETCH \(INTERNALDATE "\d{2}-[A-Z][a-z]{2}-\d{4} \d{2}:\d{2}:\d{2} \+0000"\)$/,
    );
    const store = await raw.command('STORE 1 -FLAGS (\\Flagged)');
    assert.deepEqual(store.untagged, ['* 1 FETCH (FLAGS (\\Seen))']);
    // A STORE that changes nothing still reports the message's flags (RFC 9051 6.4.6).
    const unchanged = await raw.command('STORE 1 -FLAGS (\\Flagged)');
    assert.deepEqual(unchanged.untagged, ['* 1 FETCH (FLAGS (\\Seen))']);
    const silent = await raw.command('STORE 1 +FLAGS.SILENT (\\Answered)');
    assert.deepEqual(silent.untagged, []);
    assert.equal((await raw.command('NOOP')).status, 'OK');
    const bad = await raw.command('FETCH 5 FLAGS');
    assert.equal(bad.status, 'BAD');
    const logout = await raw.command('LOGOUT');
    assert.equal(logout.untagged[0], '* BYE Logging out');
    assert.equal(logout.status, 'OK');
  });

  it('EXAMINE is read-only and does not set \\Seen', async () => {
    const uid = await fx.deliver(accountId, message);
    const raw = await RawImapClient.connect(fx.service.imapsPort, true);
    await raw.readLine();
    await raw.login('bob@example.com');
    const ex = await raw.command('EXAMINE INBOX');
    assert.match(ex.tagged, /OK \[READ-ONLY\]/);
    await raw.command(`UID FETCH ${uid} BODY[TEXT]`);
    const flags = await raw.command(`UID FETCH ${uid} FLAGS`);
    assert.ok(!flags.untagged[0]?.includes('\\Seen'), flags.untagged[0]);
    assert.equal((await raw.command(`UID STORE ${uid} +FLAGS (\\Seen)`)).status, 'NO');
    raw.close();
  });
});
