import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect as connectTls } from 'node:tls';
import { constants, createDeflateRaw, createInflateRaw } from 'node:zlib';
import { ImapFlow } from 'imapflow';
import { type ImapFixture, PASSWORD, RawImapClient, startImapFixture } from './imap-fixture.js';

const multipart = [
  'From: Kim <kim@example.com>',
  'To: lee@example.com',
  'Subject: parts',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="b1"',
  '',
  '--b1',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  'caf=C3=A9 =',
  'ok',
  '--b1',
  'Content-Type: application/octet-stream',
  'Content-Transfer-Encoding: base64',
  '',
  'AAECAwQ=',
  '--b1--',
  '',
].join('\r\n');

describe('imap extensions: sections, BINARY, QUOTA, UTF8=ACCEPT, IMAP4rev2, LIST-EXTENDED, mailbox management', () => {
  let fx: ImapFixture;
  let lee: number;
  const connect = async () => {
    const raw = await RawImapClient.connect(fx.service.imapsPort, true);
    await raw.readLine();
    await raw.login('lee@example.com');
    return raw;
  };
  before(async () => {
    fx = await startImapFixture();
    lee = await fx.createUser('lee@example.com');
    await fx.deliver(lee, multipart);
  });
  after(async () => {
    await fx?.close();
  });

  it('FETCH sections: numbered parts, MIME, HEADER.FIELDS(.NOT), partial', async () => {
    const raw = await connect();
    await raw.command('EXAMINE INBOX');
    const r = await raw.command(
      'FETCH 1 (BODY.PEEK[1] BODY.PEEK[2.MIME] BODY.PEEK[HEADER.FIELDS (Subject To)] BODY.PEEK[HEADER.FIELDS.NOT (From To Subject MIME-Version)]<0.14> BODY.PEEK[]<2.3>)',
    );
    assert.equal(
      r.untagged[0],
      '* 1 FETCH (BODY[1] {15}\r\ncaf=C3=A9 =\r\nok BODY[2.MIME] {77}\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n' +
        ' BODY[HEADER.FIELDS (SUBJECT TO)] {39}\r\nTo: lee@example.com\r\nSubject: parts\r\n\r\n BODY[HEADER.FIELDS.NOT (FROM TO SUBJECT MIME-VERSION)]<0> {14}\r\nContent-Type:  BODY[]<2> {3}\r\nom:)',
    );
    raw.close();
  });

  it('BINARY decodes transfer encodings; BINARY.SIZE reports the decoded size', async () => {
    const raw = await connect();
    await raw.command('EXAMINE INBOX');
    const r = await raw.command('FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[2] BINARY.PEEK[2])');
    assert.equal(
      r.untagged[0],
      `* 1 FETCH (BINARY[1] {8}\r\ncafé ok BINARY.SIZE[2] 5 BINARY[2] ~{5}\r\n\u0000\u0001\u0002\u0003\u0004)`,
    );
    raw.close();
  });

  it('BINARY with a section text (HEADER, HEADER.FIELDS, TEXT, MIME): the section as BODY[] sends it, sizes agree', async () => {
    // RFC 3516's section-binary names parts only; a header or text section is not one part, so
    // nothing is decoded: the bytes are BODY[...]'s, and BINARY.SIZE counts them.
    const raw = await connect();
    await raw.command('EXAMINE INBOX');
    const r = await raw.command(
      'FETCH 1 (BINARY.PEEK[HEADER.FIELDS (Subject)] BINARY.SIZE[2.MIME] BINARY.PEEK[2.MIME] BINARY.PEEK[TEXT]<0.4> BINARY.SIZE[HEADER.FIELDS.NOT (From To Subject MIME-Version)])',
    );
    const mime = 'Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n';
    const notFields = 'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n';
    assert.equal(r.status, 'OK', r.tagged);
    assert.equal(
      r.untagged[0],
      `* 1 FETCH (BINARY[HEADER.FIELDS (SUBJECT)] {18}\r\nSubject: parts\r\n\r\n BINARY.SIZE[2.MIME] ${mime.length} BINARY[2.MIME] {${mime.length}}\r\n${mime} BINARY[TEXT]<0> {4}\r\n--b1 BINARY.SIZE[HEADER.FIELDS.NOT (FROM TO SUBJECT MIME-VERSION)] ${notFields.length})`,
    );
    raw.close();
  });

  it('a partial with an offset only (<n>) runs to the end of the section, for BINARY and BODY', async () => {
    // The grammar's partial is <offset.length>; <offset> alone is read as "from offset to the end".
    const raw = await connect();
    await raw.command('EXAMINE INBOX');
    const r = await raw.command('FETCH 1 (BINARY.PEEK[1]<3> BODY.PEEK[1]<10>)');
    assert.equal(r.status, 'OK', r.tagged);
    assert.equal(r.untagged[0], '* 1 FETCH (BINARY[1]<3> {5}\r\né ok BODY[1]<10> {5}\r\n=\r\nok)');
    raw.close();
  });

  it('QUOTA: root, usage in KiB, OVERQUOTA on APPEND', async () => {
    await fx.db.pool.query('UPDATE accounts SET quota_bytes = 2048 WHERE id = $1', [lee]);
    const raw = await connect();
    const r = await raw.command('GETQUOTAROOT INBOX');
    assert.deepEqual(r.untagged, ['* QUOTAROOT INBOX ""', '* QUOTA "" (STORAGE 1 2)']);
    const big = 'x'.repeat(3000);
    const over = await raw.command(`APPEND INBOX {${big.length}+}\r\n${big}`);
    assert.match(over.tagged, /NO \[OVERQUOTA\]/);
    assert.match((await raw.command('SETQUOTA "" (STORAGE 10)')).tagged, /NO/);
    await fx.db.pool.query('UPDATE accounts SET quota_bytes = NULL WHERE id = $1', [lee]);
    raw.close();
  });

  it('APPEND of a literal: TRYCREATE, the storage limit to the byte, the structure stored with the message', async () => {
    const raw = await connect();
    const missing = await raw.command('APPEND Nowhere {3+}\r\nabc');
    assert.equal((await raw.command('CREATE Appended')).status, 'OK');
    assert.match(missing.tagged, /^\S+ NO \[TRYCREATE\]/);
    const usage = await fx.db.pool.query<{ bytes: string }>(
      'SELECT sum(message_bytes)::text AS bytes FROM mailboxes WHERE account_id = $1',
      [lee],
    );
    // Usage plus the message may reach the limit, not pass it (a refused APPEND writes nothing).
    await fx.db.pool.query('UPDATE accounts SET quota_bytes = $2 WHERE id = $1', [
      lee,
      Number(usage.rows[0]!.bytes) + 40,
    ]);
    const message = 'Subject: fits\r\nX-Pad: 12345678\r\n\r\nbody\r\n';
    assert.equal(message.length, 40);
    const over = await raw.command(`APPEND Appended {${message.length + 1}+}\r\n${message}x`);
    assert.match(over.tagged, /^\S+ NO \[OVERQUOTA\]/);
    const fits = await raw.command(`APPEND Appended (\\Flagged) {${message.length}+}\r\n${message}`);
    assert.equal(fits.status, 'OK', fits.tagged);
    const uid = Number(/APPENDUID \d+ (\d+)/.exec(fits.tagged)![1]);
    await fx.db.pool.query('UPDATE accounts SET quota_bytes = NULL WHERE id = $1', [lee]);
    // The body row has its parsed structure and header size from the APPEND itself (no later write).
    const stored = await fx.db.pool.query<{ header_size: number; has_structure: boolean; flags: string[] }>(
      `SELECT b.header_size, b.structure IS NOT NULL AS has_structure, mm.flags FROM mailbox_messages mm
       JOIN mailboxes m ON m.id = mm.mailbox_id JOIN message_bodies b ON b.id = mm.body_id
       WHERE m.account_id = $1 AND m.name = 'Appended' AND mm.uid = $2`,
      [lee, uid],
    );
    assert.deepEqual(stored.rows, [{ header_size: 34, has_structure: true, flags: ['\\Flagged'] }]);
    assert.equal((await raw.command('DELETE Appended')).status, 'OK');
    raw.close();
  });

  it('COPY takes storage to the byte; MOVE between own mailboxes takes none', async () => {
    const raw = await connect();
    assert.equal((await raw.command('CREATE Copies')).status, 'OK');
    const message = 'Subject: copied\r\nX-Pad: 123456\r\n\r\nbody\r\n';
    assert.equal(message.length, 40);
    const appended = await raw.command(`APPEND Copies {${message.length}+}\r\n${message}`);
    assert.equal(appended.status, 'OK', appended.tagged);
    assert.equal((await raw.command('SELECT Copies')).status, 'OK');
    const usage = await fx.db.pool.query<{ bytes: string }>(
      'SELECT sum(message_bytes)::text AS bytes FROM mailboxes WHERE account_id = $1',
      [lee],
    );
    await fx.db.pool.query('UPDATE accounts SET quota_bytes = $2 WHERE id = $1', [
      lee,
      Number(usage.rows[0]!.bytes) + 39,
    ]);
    const over = await raw.command('COPY 1 INBOX');
    assert.match(over.tagged, /^\S+ NO \[OVERQUOTA\]/);
    const missing = await raw.command('UID MOVE 1:* Nowhere');
    assert.match(missing.tagged, /^\S+ NO \[TRYCREATE\]/);
    // A move within the account changes no usage: allowed at the limit.
    assert.equal((await raw.command('CREATE Moved')).status, 'OK');
    const moved = await raw.command('UID MOVE 1:* Moved');
    assert.equal(moved.status, 'OK', moved.tagged);
    assert.ok(
      moved.untagged.some((l) => /^\* OK \[COPYUID \d+ \d+ 1\]/.test(l)),
      moved.untagged.join('|'),
    );
    assert.ok(moved.untagged.includes('* 1 EXPUNGE'), moved.untagged.join('|'));
    await fx.db.pool.query('UPDATE accounts SET quota_bytes = quota_bytes + 1 WHERE id = $1', [lee]);
    assert.equal((await raw.command('SELECT Moved')).status, 'OK');
    const fits = await raw.command('COPY 1 Copies');
    assert.match(fits.tagged, /^\S+ OK \[COPYUID \d+ 1 \d+\] COPY completed/);
    const none = await raw.command('UID COPY 99 Copies');
    assert.match(
      none.tagged,
      /^\S+ OK COPY completed, nothing to do|^\S+ OK UID COPY completed, nothing to do/,
    );
    await fx.db.pool.query('UPDATE accounts SET quota_bytes = NULL WHERE id = $1', [lee]);
    const counts = await raw.command('STATUS Copies (MESSAGES)');
    assert.equal(counts.untagged[0], '* STATUS Copies (MESSAGES 1)');
    await raw.command('UNSELECT');
    assert.equal((await raw.command('DELETE Copies')).status, 'OK');
    assert.equal((await raw.command('DELETE Moved')).status, 'OK');
    raw.close();
  });

  it('UTF8=ACCEPT: UTF-8 mailbox names raw after ENABLE, modified UTF-7 before', async () => {
    const raw = await connect();
    assert.equal((await raw.command('CREATE "R&AOk-sum&AOk-"')).status, 'OK');
    const before = await raw.command('LIST "" "R*"');
    assert.deepEqual(before.untagged, ['* LIST (\\HasNoChildren) "/" R&AOk-sum&AOk-']);
    await raw.command('ENABLE UTF8=ACCEPT');
    const after = await raw.command('LIST "" "R*"');
    assert.deepEqual(after.untagged, ['* LIST (\\HasNoChildren) "/" {8}\r\nRésumé']);
    const body = 'Subject: Grüße\r\n\r\nhi\r\n';
    const appended = await raw.command(`APPEND INBOX UTF8 (~{${Buffer.byteLength(body)}+}\r\n${body})`);
    assert.equal(appended.status, 'OK', appended.tagged);
    raw.close();
  });

  it('IMAP4rev2 after ENABLE: no RECENT, LIST in SELECT, ESEARCH for SEARCH', async () => {
    const raw = await connect();
    assert.deepEqual((await raw.command('ENABLE IMAP4rev2')).untagged, ['* ENABLED IMAP4REV2']);
    const sel = await raw.command('SELECT INBOX');
    assert.ok(!sel.untagged.some((l) => /RECENT/.test(l)), sel.untagged.join('|'));
    assert.ok(sel.untagged.includes('* LIST () "/" INBOX'), sel.untagged.join('|'));
    const search = await raw.command('SEARCH ALL');
    assert.match(search.untagged[0]!, /^\* ESEARCH \(TAG "t\d+"\) ALL 1:2$/);
    const flags = await raw.command('FETCH 1 FLAGS');
    assert.ok(!flags.untagged[0]!.includes('\\Recent'));
    const keyword = await raw.command('STORE 1:2 +FLAGS ($Work)');
    assert.deepEqual(keyword.untagged.slice(0, 2), [
      '* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work)',
      '* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work \\*)] Flags permitted',
    ]);
    assert.equal(keyword.untagged.length, 4, 'one FETCH per message named');
    const again = await raw.command('STORE 1 +FLAGS ($Work)');
    assert.deepEqual(again.untagged, ['* 1 FETCH (FLAGS ($Work))'], 'unchanged flags are still reported');
    raw.close();
  });

  it('mailbox management: CREATE (USE), hierarchy, RENAME with children, DELETE, SUBSCRIBE/LSUB, LIST-EXTENDED', async () => {
    const raw = await connect();
    assert.equal((await raw.command('CREATE Projects/2026/Q1')).status, 'OK');
    assert.equal((await raw.command('CREATE Receipts (USE (\\Archive))')).status, 'OK');
    assert.match((await raw.command('CREATE INBOX')).tagged, /NO \[ALREADYEXISTS\]/);
    assert.equal((await raw.command('RENAME Projects Work')).status, 'OK');
    const listed = await raw.command('LIST "" "Work*"');
    assert.deepEqual(listed.untagged, [
      '* LIST (\\HasChildren) "/" Work',
      '* LIST (\\HasChildren) "/" Work/2026',
      '* LIST (\\HasNoChildren) "/" Work/2026/Q1',
    ]);
    assert.deepEqual((await raw.command('LIST "" Work/%')).untagged, [
      '* LIST (\\HasChildren) "/" Work/2026',
    ]);
    const special = await raw.command('LIST (SPECIAL-USE) "" "*"');
    assert.ok(
      special.untagged.includes('* LIST (\\HasNoChildren \\Archive) "/" Receipts'),
      special.untagged.join('|'),
    );
    assert.ok(!special.untagged.some((l) => l.endsWith(' INBOX')));
    // CREATE does not subscribe (subscriptions are a list of their own).
    assert.equal((await raw.command('SUBSCRIBE Work/2026/Q1')).status, 'OK');
    const recursive = await raw.command('LIST (SUBSCRIBED RECURSIVEMATCH) "" "Work%"');
    assert.deepEqual(recursive.untagged, ['* LIST (\\HasChildren) "/" Work ("CHILDINFO" ("SUBSCRIBED"))']);
    const status = await raw.command('LIST "" "Receipts" RETURN (STATUS (MESSAGES UIDNEXT))');
    assert.deepEqual(status.untagged, [
      '* LIST (\\HasNoChildren \\Archive) "/" Receipts',
      '* STATUS Receipts (MESSAGES 0 UIDNEXT 1)',
    ]);
    const lsub = await raw.command('LSUB "" "Work*"');
    // "*" reaches the subscribed name itself; "%" stops at its unsubscribed parent (RFC 3501 6.3.9).
    assert.deepEqual(lsub.untagged, ['* LSUB () "/" Work/2026/Q1']);
    assert.deepEqual((await raw.command('LSUB "" "Work/%"')).untagged, ['* LSUB (\\Noselect) "/" Work/2026']);
    assert.equal((await raw.command('DELETE Work/2026/Q1')).status, 'OK');
    assert.match((await raw.command('DELETE Work/2026/Q1')).tagged, /NO \[NONEXISTENT\]/);
    assert.match((await raw.command('DELETE INBOX')).tagged, /NO/);
    assert.deepEqual((await raw.command('NAMESPACE')).untagged, [
      '* NAMESPACE (("" "/")) (("Shared/" "/")) NIL',
    ]);
    assert.deepEqual((await raw.command('ID ("name" "test")')).untagged, [
      '* ID ("name" "Hermod" "vendor" "Hermod")',
    ]);
    raw.close();
  });

  it('COMPRESS=DEFLATE: both directions deflated after the OK', async () => {
    const socket = connectTls({ host: '127.0.0.1', port: fx.service.imapsPort, rejectUnauthorized: false });
    let plain = '';
    const inflater = createInflateRaw();
    let inflated = '';
    let compressed = false;
    socket.on('data', (d: Buffer) => {
      if (compressed) inflater.write(d);
      else plain += d.toString('latin1');
    });
    inflater.on('data', (d: Buffer) => {
      inflated += d.toString('utf8');
    });
    const until = async (get: () => string, pattern: RegExp) => {
      const deadline = Date.now() + 5_000;
      while (!pattern.test(get())) {
        if (Date.now() > deadline) throw new Error(`timeout waiting for ${pattern}: ${get()}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    await until(() => plain, /^\* OK/);
    socket.write(`a LOGIN lee@example.com "${PASSWORD}"\r\n`);
    await until(() => plain, /a OK/);
    assert.match(plain, /COMPRESS=DEFLATE/);
    socket.write('b COMPRESS DEFLATE\r\n');
    await until(() => plain, /b OK/);
    compressed = true;
    const deflater = createDeflateRaw();
    deflater.on('data', (d: Buffer) => socket.write(d));
    deflater.write('c SELECT INBOX\r\nd FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])\r\n');
    deflater.flush(constants.Z_SYNC_FLUSH);
    await until(() => inflated, /d OK/);
    assert.match(inflated, /c OK \[READ-WRITE\]/);
    assert.ok(inflated.includes('BODY[HEADER.FIELDS (SUBJECT)] {18}\r\nSubject: parts\r\n\r\n)'), inflated);
    // LOGOUT: BYE and the tagged OK leave through the deflate stream before the connection closes.
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    deflater.write('e LOGOUT\r\n');
    deflater.flush(constants.Z_SYNC_FLUSH);
    await closed;
    await until(() => inflated, /e OK/);
    assert.match(inflated, /\* BYE [^\r\n]*\r\ne OK [^\r\n]*\r\n$/);
    socket.destroy();
  });

  it('imapflow (which turns COMPRESS on when offered) fetches and appends through it', async () => {
    const client = new ImapFlow({
      host: '127.0.0.1',
      port: fx.service.imapsPort,
      secure: true,
      tls: { rejectUnauthorized: false },
      auth: { user: 'lee@example.com', pass: PASSWORD },
      logger: false,
    });
    await client.connect();
    const body = Buffer.from(`Subject: big\r\n\r\n${'0123456789abcdef'.repeat(40_000)}\r\n`);
    const appended = await client.append('Archive', body, ['\\Seen']);
    assert.ok(appended !== false && (appended.uid ?? 0) > 0);
    const lock = await client.getMailboxLock('Archive');
    try {
      const message = await client.fetchOne(String(appended.uid), { source: true }, { uid: true });
      assert.ok(message !== false && message.source?.equals(body) === true);
    } finally {
      lock.release();
    }
    await client.logout();
  });

  it('SORT and THREAD over the wire', async () => {
    const mia = await fx.createUser('mia@example.com');
    const mk = (id: string, subject: string, day: number, refs = '') =>
      `Message-ID: ${id}\r\nSubject: ${subject}\r\nDate: Mon, ${day} Jan 2026 10:00:00 +0000\r\nFrom: x${day}@example.com\r\n${refs ? `References: ${refs}\r\n` : ''}\r\nbody\r\n`;
    await fx.deliver(mia, mk('<a@x>', 'hello', 3));
    await fx.deliver(mia, mk('<b@x>', 'Re: hello', 4, '<a@x>'));
    await fx.deliver(mia, mk('<c@x>', 'apples', 1));
    await fx.deliver(mia, mk('<d@x>', 'Re: hello', 5, '<a@x> <b@x>'));
    const raw = await RawImapClient.connect(fx.service.imapsPort, true);
    await raw.readLine();
    await raw.login('mia@example.com');
    await raw.command('SELECT INBOX');
    assert.deepEqual((await raw.command('SORT (SUBJECT REVERSE DATE) UTF-8 ALL')).untagged, [
      '* SORT 3 4 2 1',
    ]);
    assert.deepEqual((await raw.command('UID SORT (DATE) UTF-8 NOT SUBJECT apples')).untagged, [
      '* SORT 1 2 4',
    ]);
    assert.deepEqual((await raw.command('THREAD REFERENCES UTF-8 ALL')).untagged, ['* THREAD (3)(1 2 4)']);
    assert.deepEqual((await raw.command('THREAD ORDEREDSUBJECT US-ASCII ALL')).untagged, [
      '* THREAD (3)(1 (2)(4))',
    ]);
    assert.match((await raw.command('SORT (SUBJECT) KOI8-R ALL')).tagged, /NO \[BADCHARSET/);
    raw.close();
  });

  it('rejects commands in the wrong state and unknown commands with BAD', async () => {
    const raw = await RawImapClient.connect(fx.service.imapsPort, true);
    await raw.readLine();
    assert.equal((await raw.command('SELECT INBOX')).status, 'BAD');
    assert.equal((await raw.command('FROBNICATE')).status, 'BAD');
    await raw.login('lee@example.com');
    assert.equal((await raw.command('FETCH 1 FLAGS')).status, 'BAD');
    assert.equal((await raw.command('LOGIN a b')).status, 'BAD');
    raw.close();
  });
});
