// Conformance tests of the search and fetch extensions (issue 15), written from each RFC's grammar and
// examples over the raw protocol; every response also goes through the response checker.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rawImapFile } from './imap-fixture.js';

const message = (subject: string) =>
  ['From: a@example.com', 'To: b@example.com', `Subject: ${subject}`, '', 'hello', ''].join('\r\n');

describe('imap extensions by RFC (WITHIN, SAVEDATE, OBJECTID, PREVIEW, SORT=DISPLAY)', () => {
  const file = rawImapFile();
  const { account } = file;

  it('WITHIN (RFC 5032): advertised; OLDER / YOUNGER compare the internal date with the search time', async () => {
    const { id, connect } = await account('una@example.com');
    const now = Date.now();
    await file.fx.deliver(id, message('two days'), { date: new Date(now - 2 * 86_400_000) });
    await file.fx.deliver(id, message('two hours'), { date: new Date(now - 2 * 3_600_000) });
    await file.fx.deliver(id, message('just now'), { date: new Date(now) });
    const raw = await connect();
    assert.match((await raw.command('CAPABILITY')).untagged[0]!, / WITHIN( |$)/);
    await raw.command('EXAMINE INBOX');
    // RFC 5032 section 3 example: "YOUNGER 259200" finds messages from the last three days.
    assert.deepEqual((await raw.command('SEARCH YOUNGER 259200')).untagged, ['* SEARCH 1 2 3']);
    assert.deepEqual((await raw.command('SEARCH OLDER 86400')).untagged, ['* SEARCH 1']);
    assert.deepEqual((await raw.command('SEARCH YOUNGER 3600')).untagged, ['* SEARCH 3']);
    assert.deepEqual((await raw.command('UID SEARCH OLDER 3600 YOUNGER 86400')).untagged, ['* SEARCH 2']);
    assert.deepEqual((await raw.command('SEARCH NOT OLDER 3600')).untagged, ['* SEARCH 3']);
    assert.deepEqual((await raw.command('SEARCH RETURN (COUNT) OR OLDER 86400 YOUNGER 60')).untagged, [
      '* ESEARCH (TAG "t9") COUNT 2',
    ]);
    // interval = nz-number: zero, a negative or a non-number is a syntax error.
    for (const bad of ['OLDER 0', 'YOUNGER -5', 'OLDER', 'YOUNGER soon'])
      assert.equal((await raw.command(`SEARCH ${bad}`)).status, 'BAD', bad);
  });

  /** An IMAP date (RFC 3501 date-text) of a time, in UTC. */
  const imapDay = (time: number) => {
    const [, day, month, year] = new Date(time).toUTCString().split(' ');
    return `${day}-${month}-${year}`.replace(/^0/, '');
  };

  it('SAVEDATE (RFC 8514): the save date is when the message entered this mailbox, not its internal date', async () => {
    const { id, connect } = await account('sal@example.com');
    const before = Date.now();
    await file.fx.deliver(id, message('old'), { date: new Date(Date.UTC(2020, 1, 17, 10, 0, 0)) });
    const raw = await connect();
    assert.match((await raw.command('CAPABILITY')).untagged[0]!, / SAVEDATE( |$)/);
    await raw.command('SELECT INBOX');
    const fetched = (await raw.command('FETCH 1 (INTERNALDATE SAVEDATE)')).untagged[0]!;
    const m = /^\* 1 FETCH \(INTERNALDATE "17-Feb-2020 10:00:00 \+0000" SAVEDATE "([^"]+)"\)$/.exec(fetched);
    assert.ok(m, fetched);
    const saved = Date.parse(m[1]!.replace(/^(\d+)-(\w+)-(\d+) /, '$2 $1 $3 '));
    assert.ok(saved >= Math.floor(before / 1000) * 1000 && saved <= Date.now(), fetched);
    // COPY saves a new message in the target: its save date is the copy's, its internal date is kept.
    assert.equal((await raw.command('CREATE Kept')).status, 'OK');
    assert.equal((await raw.command('COPY 1 Kept')).status, 'OK');
    await file.fx.db.pool.query(
      `UPDATE mailbox_messages SET saved_at = '2024-05-01T12:00:00Z'
       WHERE mailbox_id = (SELECT id FROM mailboxes WHERE account_id = $1 AND name = 'INBOX')`,
      [id],
    );
    await raw.command('SELECT Kept');
    assert.match(
      (await raw.command('UID FETCH 1 (SAVEDATE INTERNALDATE)')).untagged[0]!,
      /^\* 1 FETCH \(UID 1 SAVEDATE "\d{1,2}-\w{3}-\d{4} \d\d:\d\d:\d\d \+0000" INTERNALDATE "17-Feb-2020 10:00:00 \+0000"\)$/,
    );
    await raw.command('SELECT INBOX');
    assert.deepEqual((await raw.command('FETCH 1 SAVEDATE')).untagged, [
      '* 1 FETCH (SAVEDATE "01-May-2024 12:00:00 +0000")',
    ]);
    // SAVEDBEFORE / SAVEDON / SAVEDSINCE compare the save date's day; BEFORE/ON/SINCE still the internal date.
    assert.deepEqual((await raw.command('SEARCH SAVEDON 1-May-2024')).untagged, ['* SEARCH 1']);
    assert.deepEqual((await raw.command('SEARCH SAVEDBEFORE 2-May-2024')).untagged, ['* SEARCH 1']);
    assert.deepEqual((await raw.command('SEARCH SAVEDSINCE 2-May-2024')).untagged, ['* SEARCH']);
    assert.deepEqual((await raw.command('SEARCH ON 17-Feb-2020 SAVEDSINCE 1-May-2024')).untagged, [
      '* SEARCH 1',
    ]);
    assert.deepEqual((await raw.command('SEARCH SAVEDATESUPPORTED')).untagged, ['* SEARCH 1']);
    await raw.command('SELECT Kept');
    const today = imapDay(Date.now());
    assert.deepEqual((await raw.command(`SEARCH SAVEDON ${today}`)).untagged, ['* SEARCH 1']);
    assert.deepEqual((await raw.command(`SEARCH SAVEDBEFORE ${today}`)).untagged, ['* SEARCH']);
    // A row stored before save dates were kept reports its internal date.
    await file.fx.db.pool.query(
      'UPDATE mailbox_messages SET saved_at = NULL WHERE mailbox_id IN (SELECT id FROM mailboxes WHERE account_id = $1)',
      [id],
    );
    assert.deepEqual((await raw.command('FETCH 1 SAVEDATE')).untagged, [
      '* 1 FETCH (SAVEDATE "17-Feb-2020 10:00:00 +0000")',
    ]);
    assert.equal((await raw.command('SEARCH SAVEDON 30-Feb-2024x')).status, 'BAD');
  });

  it('OBJECTID (RFC 8474): MAILBOXID in CREATE, SELECT and STATUS, kept by RENAME; EMAILID kept by COPY; THREADID NIL', async () => {
    const { id, connect } = await account('obi@example.com');
    await file.fx.deliver(id, message('first'));
    await file.fx.deliver(id, message('second'));
    const raw = await connect();
    assert.match((await raw.command('CAPABILITY')).untagged[0]!, / OBJECTID( |$)/);
    const objectId = (text: string, label: string) => {
      const m = new RegExp(`${label} \\(([A-Za-z0-9_-]{1,255})\\)`).exec(text);
      assert.ok(m, text);
      return m[1]!;
    };
    // 4.1: a successful CREATE answers with the new mailbox's MAILBOXID.
    const created = await raw.command('CREATE foo');
    assert.match(created.tagged, /^t\d+ OK \[MAILBOXID \([A-Za-z0-9_-]+\)\] /);
    const foo = objectId(created.tagged, 'MAILBOXID');
    assert.deepEqual((await raw.command('STATUS foo (MAILBOXID MESSAGES)')).untagged, [
      `* STATUS foo (MAILBOXID (${foo}) MESSAGES 0)`,
    ]);
    // RENAME keeps the id; DELETE and CREATE of the same name gives a new one.
    assert.equal((await raw.command('RENAME foo bar')).status, 'OK');
    assert.deepEqual((await raw.command('STATUS bar (MAILBOXID)')).untagged, [
      `* STATUS bar (MAILBOXID (${foo}))`,
    ]);
    const again = objectId((await raw.command('CREATE foo')).tagged, 'MAILBOXID');
    assert.notEqual(again, foo);
    // 4.2: SELECT / EXAMINE report it as an untagged OK response code; LIST-STATUS can ask for it.
    const inbox = objectId((await raw.command('STATUS INBOX (MAILBOXID)')).untagged[0]!, 'MAILBOXID');
    assert.ok(![foo, again].includes(inbox));
    const selected = await raw.command('SELECT INBOX');
    assert.ok(
      selected.untagged.includes(`* OK [MAILBOXID (${inbox})] Mailbox id`),
      selected.untagged.join('\n'),
    );
    const listed = await raw.command('LIST "" bar RETURN (STATUS (MAILBOXID))');
    assert.ok(listed.untagged.includes(`* STATUS bar (MAILBOXID (${foo}))`), listed.untagged.join('\n'));
    // 5.1 / 5.2: EMAILID per message (distinct contents, distinct ids); no thread ids: NIL.
    const fetched = (await raw.command('FETCH 1:2 (EMAILID THREADID)')).untagged;
    assert.equal(fetched.length, 2);
    assert.match(fetched[0]!, /^\* 1 FETCH \(EMAILID \([A-Za-z0-9_-]+\) THREADID NIL\)$/);
    const [first, second] = fetched.map((line) => objectId(line, 'EMAILID'));
    assert.notEqual(first, second);
    // A copy is the same message: the same EMAILID in the target mailbox.
    assert.equal((await raw.command('UID COPY 1 bar')).status, 'OK');
    // 6: SEARCH EMAILID / THREADID.
    assert.deepEqual((await raw.command(`SEARCH EMAILID ${second}`)).untagged, ['* SEARCH 2']);
    assert.deepEqual((await raw.command('SEARCH EMAILID E999999999')).untagged, ['* SEARCH']);
    assert.deepEqual((await raw.command('SEARCH NOT THREADID T1')).untagged, ['* SEARCH 1 2']);
    for (const bad of ['EMAILID', 'EMAILID "a b"', `EMAILID ${'x'.repeat(256)}`, 'THREADID a.b'])
      assert.equal((await raw.command(`SEARCH ${bad}`)).status, 'BAD', bad);
    await raw.command('EXAMINE bar');
    assert.deepEqual((await raw.command('FETCH 1 (EMAILID)')).untagged, [`* 1 FETCH (EMAILID (${first}))`]);
    assert.deepEqual((await raw.command(`UID SEARCH EMAILID ${first}`)).untagged, ['* SEARCH 1']);
  });

  it('PREVIEW (RFC 8970): decoded text of the first text part, whitespace folded, at most 256 characters; LAZY accepted', async () => {
    const { id, connect } = await account('pia@example.com');
    const head = (type: string, extra: string[] = []) => [
      'From: a@example.com',
      'Subject: p',
      'MIME-Version: 1.0',
      `Content-Type: ${type}`,
      ...extra,
      '',
    ];
    const plain = [...head('text/plain'), 'Hello,', '', '   this\tis   a test.', ''];
    const alternative = [
      ...head('multipart/alternative; boundary="b"'),
      '--b',
      'Content-Type: text/html; charset=utf-8',
      '',
      '<p>html version</p>',
      '--b',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      'Caf=C3=A9 au =',
      'lait',
      '--b--',
      '',
    ];
    const html = [
      ...head('text/html; charset=us-ascii'),
      '<html><head><style>p { color: red }</style></head>',
      '<body><p>Fish &amp; chips&nbsp;&#8364;5</p><!-- hidden --></body></html>',
      '',
    ];
    const long = [...head('text/plain'), 'x'.repeat(200), 'y'.repeat(200), ''];
    const attachmentOnly = [
      ...head('multipart/mixed; boundary="m"'),
      '--m',
      'Content-Type: text/plain',
      'Content-Disposition: attachment; filename="a.txt"',
      '',
      'not a preview',
      '--m',
      'Content-Type: image/png',
      'Content-Transfer-Encoding: base64',
      '',
      'iVBORw0KGgo=',
      '--m--',
      '',
    ];
    const latin1 = [
      ...head('text/plain; charset=iso-8859-1', ['Content-Transfer-Encoding: base64']),
      Buffer.from([0x47, 0x72, 0xfc, 0xdf, 0x65]).toString('base64'),
      '',
    ];
    for (const lines of [plain, alternative, html, long, attachmentOnly, latin1])
      await file.fx.deliver(id, lines.join('\r\n'));
    const raw = await connect();
    assert.match((await raw.command('CAPABILITY')).untagged[0]!, / PREVIEW( |$)/);
    await raw.command('SELECT INBOX');
    const r = await raw.command('FETCH 1:6 (PREVIEW)');
    const cafe = 'Café au lait';
    assert.deepEqual(r.untagged, [
      '* 1 FETCH (PREVIEW "Hello, this is a test.")',
      `* 2 FETCH (PREVIEW {${Buffer.byteLength(cafe)}}\r\n${cafe})`,
      `* 3 FETCH (PREVIEW {${Buffer.byteLength('Fish & chips €5')}}\r\nFish & chips €5)`,
      `* 4 FETCH (PREVIEW "${'x'.repeat(200)} ${'y'.repeat(55)}")`,
      '* 5 FETCH (PREVIEW "")',
      `* 6 FETCH (PREVIEW {${Buffer.byteLength('Grüße')}}\r\nGrüße)`,
    ]);
    // RFC 8970 section 4 example: FETCH with the LAZY modifier; the text is returned here too.
    assert.deepEqual((await raw.command('UID FETCH 1 (FLAGS PREVIEW (LAZY))')).untagged, [
      '* 1 FETCH (UID 1 FLAGS (\\Recent) PREVIEW "Hello, this is a test.")',
    ]);
    // PREVIEW reads the message without setting \Seen.
    assert.deepEqual((await raw.command('SEARCH SEEN')).untagged, ['* SEARCH']);
    for (const bad of ['(PREVIEW (FOO))', '(PREVIEW ())', '(PREVIEW (LAZY FOO))'])
      assert.equal((await raw.command(`FETCH 1 ${bad}`)).status, 'BAD', bad);
  });

  it('SORT=DISPLAY (RFC 5957): DISPLAYFROM / DISPLAYTO sort by decoded display name, else the address', async () => {
    const { id, connect } = await account('dora@example.com');
    const from = (f: string, t: string) => [`From: ${f}`, `To: ${t}`, 'Subject: s', '', 'x', ''].join('\r\n');
    await file.fx.deliver(id, from('"Zed" <a@x.org>', 'Yannick <c@x.org>'));
    await file.fx.deliver(id, from('bob@y.org', 'amy@x.org'));
    await file.fx.deliver(id, from('=?utf-8?q?=C3=84nne?= <z@z.org>', 'group: ;'));
    const raw = await connect();
    assert.match((await raw.command('CAPABILITY')).untagged[0]!, / SORT=DISPLAY( |$)/);
    await raw.command('EXAMINE INBOX');
    // By addr-mailbox (RFC 5256): a, bob, z. By display name: "bob@y.org", "Zed", "Änne".
    assert.deepEqual((await raw.command('SORT (FROM) UTF-8 ALL')).untagged, ['* SORT 1 2 3']);
    assert.deepEqual((await raw.command('SORT (DISPLAYFROM) UTF-8 ALL')).untagged, ['* SORT 2 1 3']);
    assert.deepEqual((await raw.command('UID SORT (REVERSE DISPLAYFROM) UTF-8 ALL')).untagged, [
      '* SORT 3 1 2',
    ]);
    // "amy@x.org" < "group" (a group's name) < "Yannick".
    assert.deepEqual((await raw.command('SORT (DISPLAYTO) UTF-8 ALL')).untagged, ['* SORT 2 3 1']);
    assert.equal((await raw.command('SORT (DISPLAY) UTF-8 ALL')).status, 'BAD');
  });
});
