// Conformance tests of the APPEND extensions (issue 15): CATENATE (RFC 4469) and REPLACE (RFC 8508),
// written from each RFC's grammar and examples over the raw protocol; every response also goes
// through the response checker.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type RawImapClient, rawImapFile } from './imap-fixture.js';

/** A non-synchronising literal (LITERAL+) holding text. */
const lit = (text: string) => `{${Buffer.byteLength(text)}+}\r\n${text}`;

const crlf = (lines: string[]) => lines.join('\r\n');

// A draft like RFC 4469's appendix: a header, a text part and an attachment.
const BOUNDARY = '------------030308070208000400050907';
const DRAFT_HEADER = crlf([
  'From: a@example.com',
  'To: b@example.com',
  'Subject: Weekend plans',
  'MIME-Version: 1.0',
  `Content-Type: multipart/mixed; boundary="${BOUNDARY}"`,
  '',
  '',
]);
const PART1_MIME = crlf(['Content-Type: text/plain; charset=us-ascii', '', '']);
const PART1 = 'Let us meet on Saturday.';
const PART2_MIME = crlf([
  'Content-Type: application/octet-stream',
  'Content-Transfer-Encoding: base64',
  '',
  '',
]);
const PART2 = 'AAECAwQF';
const DRAFT = crlf([
  `${DRAFT_HEADER}--${BOUNDARY}`,
  `${PART1_MIME}${PART1}`,
  `--${BOUNDARY}`,
  `${PART2_MIME}${PART2}`,
  `--${BOUNDARY}--`,
  '',
]);

describe('imap APPEND extensions by RFC (CATENATE, REPLACE)', () => {
  const file = rawImapFile();
  const { account } = file;
  const uidvalidity = async (raw: RawImapClient, mailbox: string) => {
    const line = (await raw.command(`STATUS ${mailbox} (UIDVALIDITY MESSAGES)`)).untagged[0]!;
    return Number(/UIDVALIDITY (\d+)/.exec(line)![1]);
  };
  const messages = async (raw: RawImapClient, mailbox: string) => {
    const line = (await raw.command(`STATUS ${mailbox} (MESSAGES)`)).untagged[0]!;
    return Number(/MESSAGES (\d+)/.exec(line)![1]);
  };
  /** The whole stored message with a UID, read without setting \Seen. */
  const body = async (raw: RawImapClient, uid: number) => {
    const line = (await raw.command(`UID FETCH ${uid} BODY.PEEK[]`)).untagged[0]!;
    const m = /BODY\[\] \{(\d+)\}\r\n/.exec(line);
    assert.ok(m, line);
    return line.slice(m.index + m[0].length, m.index + m[0].length + Number(m[1]));
  };

  it('CATENATE (RFC 4469): text and URL parts (header, MIME header, part) are joined in order', async () => {
    const { id, connect } = await account('cat@example.com');
    const raw = await connect();
    assert.match((await raw.command('CAPABILITY')).untagged[0]!, / CATENATE( |$)/);
    await file.fx.deliver(id, Buffer.from(DRAFT), { mailbox: 'Drafts' });
    const validity = await uidvalidity(raw, 'Drafts');
    const base = `/Drafts;UIDVALIDITY=${validity}/;UID=1`;
    const added = crlf([
      '',
      `--${BOUNDARY}`,
      'Content-Type: text/plain',
      '',
      'Added text.',
      `--${BOUNDARY}`,
      '',
    ]);
    const end = `\r\n--${BOUNDARY}--\r\n`;
    // The appendix's example: the draft's header, new text, its first part (MIME header and body).
    const r = await raw.command(
      `APPEND Drafts (\\Seen \\Draft $MDNSent) CATENATE (URL "${base}/;section=HEADER" TEXT ${lit(`--${BOUNDARY}\r\n`)} URL "${base}/;section=1.MIME" URL "${base}/;section=1" TEXT ${lit(added)} URL ${base}/;SECTION=2.MIME URL "${base}/;SECTION=2" TEXT ${lit(end)})`,
    );
    assert.equal(r.status, 'OK', r.tagged);
    const appended = /\[APPENDUID (\d+) (\d+)\]/.exec(r.tagged);
    assert.ok(appended, r.tagged);
    assert.equal(Number(appended[1]), validity);
    await raw.command('EXAMINE Drafts');
    const expected = `${DRAFT_HEADER}--${BOUNDARY}\r\n${PART1_MIME}${PART1}${added}${PART2_MIME}${PART2}${end}`;
    assert.equal(await body(raw, Number(appended[2])), expected);
    const flags = (await raw.command(`UID FETCH ${appended[2]} FLAGS`)).untagged[0]!;
    assert.match(flags, /FLAGS \(\$MDNSent \\Draft \\Seen \\Recent\)/);
    // Whole message, an absolute URL of this user on this server, a PARTIAL range, and a URL relative
    // to the selected mailbox.
    const full = await raw.command(
      `APPEND INBOX CATENATE (URL "imap://cat%40example.com@localhost/Drafts;UIDVALIDITY=${validity}/;UID=1" TEXT ${lit('--\r\n')})`,
    );
    assert.equal(full.status, 'OK', full.tagged);
    const partial = await raw.command(`APPEND INBOX CATENATE (URL "${base}/;SECTION=HEADER/;PARTIAL=6.17")`);
    assert.equal(partial.status, 'OK', partial.tagged);
    const relative = await raw.command('APPEND INBOX CATENATE (URL ";UID=1/;SECTION=1" TEXT {2+}\r\n\r\n)');
    assert.equal(relative.status, 'OK', relative.tagged);
    await raw.command('EXAMINE INBOX');
    assert.equal(await body(raw, 1), `${DRAFT}--\r\n`);
    assert.equal(await body(raw, 2), 'a@example.com\r\nTo');
    assert.equal(await body(raw, 3), `${PART1}\r\n`);
  });

  it('CATENATE: a URL that names nothing readable is refused with BADURL and nothing is added', async () => {
    const { id, connect } = await account('badurl@example.com');
    const other = await account('other@example.com');
    await file.fx.deliver(other.id, 'Subject: secret\r\n\r\nno\r\n');
    await file.fx.deliver(id, Buffer.from(DRAFT), { mailbox: 'Drafts' });
    const raw = await connect();
    const validity = await uidvalidity(raw, 'Drafts');
    const bad = [
      `/Drafts;UIDVALIDITY=${validity + 1}/;UID=1`, // UIDVALIDITY changed
      `/Drafts;UIDVALIDITY=${validity}/;UID=9`, // no such message
      `/Drafts;UIDVALIDITY=${validity}/;UID=1/;SECTION=7`, // no such part
      `/Drafts;UIDVALIDITY=${validity}/;UID=1/;SECTION=1.X`, // no section
      '/NoSuchBox/;UID=1', // no such mailbox
      'imap://other%40example.com@localhost/INBOX/;UID=1', // another user's mailbox
      `imap://elsewhere.example.net/Drafts;UIDVALIDITY=${validity}/;UID=1`, // another server
      ';UID=1', // relative, but nothing is selected
      'http://example.com/', // not an IMAP URL
    ];
    for (const url of bad) {
      const r = await raw.command(`APPEND INBOX CATENATE (TEXT ${lit('X-Before: 1\r\n')} URL "${url}")`);
      assert.equal(r.tagged.replace(/^t\d+ /, ''), `NO [BADURL ${url}] Invalid URL or no such message`);
    }
    // MULTIAPPEND is all or nothing: a bad URL in the second message adds neither.
    const multi = await raw.command(
      `APPEND INBOX ${lit('Subject: one\r\n\r\n1\r\n')} CATENATE (URL "/Drafts;UIDVALIDITY=${validity}/;UID=2")`,
    );
    assert.match(multi.tagged, /^t\d+ NO \[BADURL /);
    assert.equal(await messages(raw, 'INBOX'), 0);
    // A missing mailbox is still TRYCREATE; the grammar's mistakes are BAD.
    assert.match(
      (await raw.command(`APPEND Nowhere CATENATE (TEXT ${lit('a')})`)).tagged,
      /^t\d+ NO \[TRYCREATE\]/,
    );
    for (const syntax of [
      'CATENATE ()',
      'CATENATE (TEXT "quoted")',
      'CATENATE (URL)',
      `CATENATE (BODY ${lit('x')})`,
      `CATENATE TEXT ${lit('x')}`,
    ])
      assert.equal((await raw.command(`APPEND INBOX ${syntax}`)).status, 'BAD', syntax);
  });

  it('CATENATE with MULTIAPPEND: literal and catenated messages in one command get consecutive UIDs', async () => {
    const { id, connect } = await account('multicat@example.com');
    await file.fx.deliver(id, Buffer.from(DRAFT), { mailbox: 'Drafts' });
    const raw = await connect();
    const validity = await uidvalidity(raw, 'Drafts');
    const r = await raw.command(
      `APPEND INBOX (\\Flagged) ${lit('Subject: plain\r\n\r\n1\r\n')} CATENATE (TEXT ${lit('Subject: joined\r\n\r\n')} URL "/Drafts;UIDVALIDITY=${validity}/;UID=1/;SECTION=1") (\\Seen) CATENATE (URL "/Drafts;UIDVALIDITY=${validity}/;UID=1/;SECTION=HEADER")`,
    );
    assert.equal(r.status, 'OK', r.tagged);
    const inbox = await uidvalidity(raw, 'INBOX');
    assert.match(r.tagged, new RegExp(`\\[APPENDUID ${inbox} 1:3\\]`));
    await raw.command('EXAMINE INBOX');
    assert.equal(await body(raw, 2), `Subject: joined\r\n\r\n${PART1}`);
    assert.equal(await body(raw, 3), DRAFT_HEADER);
    assert.deepEqual((await raw.command('FETCH 1:3 (FLAGS)')).untagged, [
      '* 1 FETCH (FLAGS (\\Flagged \\Recent))',
      '* 2 FETCH (FLAGS (\\Recent))',
      '* 3 FETCH (FLAGS (\\Seen \\Recent))',
    ]);
  });

  it('CATENATE: a result larger than the APPENDLIMIT is refused with TOOBIG', async () => {
    const replica = await file.fx.startReplica({ IMAP_APPEND_LIMIT: '2048' });
    const { id, connect } = await account('toobig@example.com', () => replica.imapsPort);
    await file.fx.deliver(id, `Subject: big\r\n\r\n${'x'.repeat(1200)}\r\n`);
    const raw = await connect();
    assert.match((await raw.command('CAPABILITY')).untagged[0]!, / APPENDLIMIT=2048( |$)/);
    const validity = await uidvalidity(raw, 'INBOX');
    const url = `/INBOX;UIDVALIDITY=${validity}/;UID=1`;
    const once = await raw.command(`APPEND INBOX CATENATE (URL "${url}")`);
    assert.equal(once.status, 'OK', once.tagged);
    const twice = await raw.command(`APPEND INBOX CATENATE (URL "${url}" TEXT ${lit('\r\n')} URL "${url}")`);
    assert.match(twice.tagged, /^t\d+ NO \[TOOBIG\] /);
    assert.equal(await messages(raw, 'INBOX'), 2);
  });

  it('REPLACE (RFC 8508): the new version is appended, the old one expunged, APPENDUID comes untagged first', async () => {
    const { id, connect } = await account('replace@example.com');
    for (let i = 1; i <= 5; i++)
      await file.fx.deliver(id, `Subject: draft ${i}\r\n\r\nv1\r\n`, { mailbox: 'Drafts' });
    const raw = await connect();
    const watcher = await connect();
    assert.match((await raw.command('CAPABILITY')).untagged[0]!, / REPLACE( |$)/);
    await raw.command('SELECT Drafts');
    await watcher.command('SELECT Drafts');
    const validity = await uidvalidity(raw, 'Drafts');
    // Section 3.5's example: REPLACE 4 Drafts (\Seen \Draft) literal.
    const r = await raw.command(`REPLACE 4 Drafts (\\Seen \\Draft) ${lit('Subject: draft 4\r\n\r\nv2\r\n')}`);
    assert.equal(r.status, 'OK', r.tagged);
    assert.deepEqual(r.untagged, [
      `* OK [APPENDUID ${validity} 6] Replacement Message ID`,
      '* 4 EXPUNGE',
      '* 5 EXISTS',
      '* 5 RECENT',
    ]);
    assert.equal(await body(raw, 6), 'Subject: draft 4\r\n\r\nv2\r\n');
    assert.deepEqual((await raw.command('UID FETCH 4 FLAGS')).untagged, []);
    assert.deepEqual((await raw.command('UID FETCH 6 FLAGS')).untagged, [
      '* 5 FETCH (UID 6 FLAGS (\\Draft \\Seen \\Recent))',
    ]);
    // Another session on the mailbox learns of both changes at its next command.
    const seen = await watcher.command('NOOP');
    assert.deepEqual(
      seen.untagged.filter((l) => /EXPUNGE|EXISTS/.test(l)),
      ['* 4 EXPUNGE', '* 5 EXISTS'],
    );
    // REPLACE * names the last message; CATENATE may reuse the message being replaced.
    const star = await raw.command(
      `REPLACE * Drafts CATENATE (TEXT ${lit('X-Edited: yes\r\n')} URL "/Drafts;UIDVALIDITY=${validity}/;UID=6")`,
    );
    assert.equal(star.status, 'OK', star.tagged);
    assert.deepEqual(star.untagged.slice(0, 2), [
      `* OK [APPENDUID ${validity} 7] Replacement Message ID`,
      '* 5 EXPUNGE',
    ]);
    assert.equal(await body(raw, 7), 'X-Edited: yes\r\nSubject: draft 4\r\n\r\nv2\r\n');
  });

  it('UID REPLACE (RFC 8508) into another mailbox: VANISHED under QRESYNC, EXPUNGE for a plain session', async () => {
    const { id, connect } = await account('uidreplace@example.com');
    for (let i = 1; i <= 3; i++)
      await file.fx.deliver(id, `Subject: m${i}\r\n\r\nx\r\n`, { mailbox: 'Drafts' });
    const raw = await connect();
    const plain = await connect();
    await raw.command('ENABLE QRESYNC');
    await raw.command('SELECT Drafts');
    await plain.command('SELECT Drafts');
    const sent = await uidvalidity(raw, 'Sent');
    const r = await raw.command(`UID REPLACE 2 Sent ${lit('Subject: m2 sent\r\n\r\nx\r\n')}`);
    assert.equal(r.status, 'OK', r.tagged);
    assert.deepEqual(r.untagged, [`* OK [APPENDUID ${sent} 1] Replacement Message ID`, '* VANISHED 2']);
    assert.equal(await messages(raw, 'Sent'), 1);
    assert.deepEqual(
      (await plain.command('NOOP')).untagged.filter((l) => /EXPUNGE|VANISHED/.test(l)),
      ['* 2 EXPUNGE'],
    );
    // A UID that is not there is NO; the message stays when the target mailbox does not exist.
    assert.match(
      (await raw.command(`UID REPLACE 2 Sent ${lit('Subject: again\r\n\r\nx\r\n')}`)).tagged,
      /^t\d+ NO /,
    );
    const missing = await raw.command(`UID REPLACE 3 Nowhere ${lit('Subject: m3\r\n\r\nx\r\n')}`);
    assert.match(missing.tagged, /^t\d+ NO \[TRYCREATE\]/);
    assert.deepEqual(missing.untagged, []);
    assert.equal(await messages(raw, 'Drafts'), 2);
  });

  it('REPLACE refusals: out-of-range numbers, read-only mailboxes, wrong state and grammar', async () => {
    const { id, connect } = await account('noreplace@example.com');
    await file.fx.deliver(id, 'Subject: only\r\n\r\nx\r\n');
    const raw = await connect();
    const msg = lit('Subject: new\r\n\r\nx\r\n');
    assert.equal((await raw.command(`REPLACE 1 INBOX ${msg}`)).status, 'BAD', 'no mailbox selected');
    await raw.command('EXAMINE INBOX');
    assert.match((await raw.command(`REPLACE 1 INBOX ${msg}`)).tagged, /^t\d+ NO \[READ-ONLY\]/);
    await raw.command('SELECT INBOX');
    assert.equal((await raw.command(`REPLACE 2 INBOX ${msg}`)).status, 'BAD');
    for (const bad of [
      `REPLACE 0 INBOX ${msg}`,
      `REPLACE 1:2 INBOX ${msg}`,
      'REPLACE 1 INBOX',
      `REPLACE 1 INBOX ${msg} ${msg}`,
      `UID REPLACE * INBOX ${msg}`,
    ])
      assert.equal((await raw.command(bad)).status, 'BAD', bad);
    assert.equal(await messages(raw, 'INBOX'), 1);
  });
});
