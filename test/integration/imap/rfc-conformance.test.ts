// Defects found by reading responses against the RFC grammar (issue 15): each test is written from
// the RFC text and raw protocol, not from what the server happened to answer.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type ImapFixture, RawImapClient, startImapFixture } from './imap-fixture.js';

const crlf = (lines: string[]) => lines.join('\r\n');

describe('imap responses by the RFC grammar', () => {
  let fx: ImapFixture;
  let id: number;
  const clients: RawImapClient[] = [];
  const connect = async () => {
    const raw = await RawImapClient.connect(fx.service.imapsPort, true);
    clients.push(raw);
    await raw.readLine();
    await raw.login('max@example.com');
    return raw;
  };
  before(async () => {
    fx = await startImapFixture();
    id = await fx.createUser('max@example.com');
  });
  after(async () => {
    for (const c of clients) c.close();
    await fx?.close();
  });

  it('a literal never holds NUL: BODY[] of binary content is made sendable, literal8 only for BINARY (RFC 3516, RFC 9051 4.3)', async () => {
    const binary = Buffer.from([0x41, 0x00, 0x42, 0x00, 0xff, 0x0d, 0x0a]);
    const message = Buffer.concat([
      Buffer.from(
        crlf([
          'From: a@example.com',
          'Subject: binary part',
          'MIME-Version: 1.0',
          'Content-Type: multipart/mixed; boundary="x"',
          '',
          '--x',
          'Content-Type: application/octet-stream',
          'Content-Transfer-Encoding: binary',
          '',
          '',
        ]),
      ),
      binary,
      Buffer.from('--x--\r\n'),
    ]);
    await fx.deliver(id, message, { mailbox: 'INBOX' });
    const raw = await connect();
    await raw.command('EXAMINE INBOX');
    const r = await raw.command(
      'FETCH 1 (BODY.PEEK[1] BODY.PEEK[] BODY.PEEK[1]<1.3> RFC822.TEXT BINARY.PEEK[1])',
    );
    const line = r.untagged[0]!;
    const literals = [...line.matchAll(/(~?)\{(\d+)\}\r\n/g)];
    assert.equal(literals.length, 5, line);
    // Four BODY/RFC822 literals: ordinary literals, no NUL in them, lengths as BODYSTRUCTURE says.
    for (const m of literals.slice(0, 4)) assert.equal(m[1], '', line);
    const binaryAt = line.indexOf(' BINARY[1] ');
    assert.ok(binaryAt > 0, line);
    assert.ok(!line.slice(0, binaryAt).includes('\u0000'), JSON.stringify(line.slice(0, binaryAt)));
    assert.match(line, /BODY\[1\] \{5\}\r\n/);
    assert.match(line, /BODY\[1\]<1> \{3\}\r\n/);
    // BINARY sends the decoded bytes as they are, in a literal8 because they hold NUL.
    assert.ok(
      line.slice(binaryAt).startsWith(' BINARY[1] ~{5}\r\nA\u0000B\u0000'),
      JSON.stringify(line.slice(binaryAt)),
    );
  });

  it('BINARY of quoted-printable follows RFC 2045 6.7; BINARY.SIZE and partial BINARY agree with the decoded bytes', async () => {
    await fx.deliver(
      id,
      crlf([
        'From: a@example.com',
        'Subject: qp',
        'MIME-Version: 1.0',
        'Content-Type: multipart/mixed; boundary="q"',
        '',
        '--q',
        'Content-Type: text/plain; charset=us-ascii',
        'Content-Transfer-Encoding: quoted-printable',
        '',
        'line one   ',
        'soft=  ',
        'break=41 \t',
        'end=',
        '--q--',
        '',
      ]),
    );
    const decoded = 'line one\r\nsoftbreakA\r\nend';
    const raw = await connect();
    await raw.command('EXAMINE INBOX');
    const r = await raw.command('FETCH 2 (BINARY.SIZE[1] BINARY.PEEK[1] BINARY.PEEK[1]<5.7>)');
    assert.equal(
      r.untagged[0],
      `* 2 FETCH (BINARY.SIZE[1] ${decoded.length} BINARY[1] {${decoded.length}}\r\n${decoded} BINARY[1]<5> {7}\r\n${decoded.slice(5, 12)})`,
    );
  });

  it('addresses: comments are not names, an empty group with a comment is just start and end, SEARCH FROM and SORT (CC) see the envelope (RFC 5322, RFC 3501 7.4.2, RFC 5256)', async () => {
    const box = 'Addresses';
    const raw = await connect();
    await raw.command(`CREATE ${box}`);
    const mail = (headers: string[]) => crlf([...headers, 'Subject: addr', '', 'x', '']);
    await fx.deliver(
      id,
      mail(['From: <user (c)@ (c) domain.org>', 'To: group2: (foo) ;', 'Cc: zed: a@x.org;, b@y.org']),
      { mailbox: box },
    );
    await fx.deliver(id, mail(['From: "Quoted, Name" <q@x.org> (not a name)', 'Cc: m@x.org']), {
      mailbox: box,
    });
    await raw.command(`EXAMINE ${box}`);
    const env = await raw.command('FETCH 1:2 (ENVELOPE)');
    const first = env.untagged[0]!;
    assert.ok(first.includes(' ((NIL NIL "user" "domain.org")) '), first);
    assert.ok(first.includes(' ((NIL NIL "group2" NIL)(NIL NIL NIL NIL)) '), first);
    assert.ok(
      first.includes(' ((NIL NIL "zed" NIL)(NIL NIL "a" "x.org")(NIL NIL NIL NIL)(NIL NIL "b" "y.org")) '),
      first,
    );
    assert.ok(env.untagged[1]!.includes(' (("Quoted, Name" NIL "q" "x.org")) '), env.untagged[1]);
    assert.deepEqual((await raw.command('SEARCH FROM user@domain.org')).untagged, ['* SEARCH 1']);
    assert.deepEqual((await raw.command('SEARCH FROM "c"')).untagged, ['* SEARCH']);
    // RFC 5256: the addr-mailbox of the first Cc address; a group's first address is its start,
    // whose mailbox is the group name ("zed" sorts after "m").
    assert.deepEqual((await raw.command('SORT (CC) UTF-8 ALL')).untagged, ['* SORT 2 1']);
  });

  it('THREAD: REFERENCES merges by subject only as RFC 5256 step 5 says; threads ordered by sent date, ties by mailbox order', async () => {
    const box = 'Threads';
    const raw = await connect();
    await raw.command(`CREATE ${box}`);
    const mail = (subject: string, day: number) =>
      crlf([
        `Subject: ${subject}`,
        `Date: Mon, 0${day} Jan 2026 10:00:00 +0000`,
        `Message-ID: <t${subject.length}.${day}@x>`,
        '',
        'x',
        '',
      ]);
    // "Re-org" is no reply (no "re:"), so two of them are siblings under a dummy, not parent and child;
    // "Re: foo" before "foo": the non-reply "foo" takes the subject, the reply becomes its child.
    for (const [subject, day] of [
      ['Re-org', 1],
      ['Re-org', 2],
      ['Re: foo', 3],
      ['foo', 4],
      ['b', 5],
      ['a', 5],
    ] as const)
      await fx.deliver(id, mail(subject, day), { mailbox: box });
    await raw.command(`EXAMINE ${box}`);
    assert.deepEqual((await raw.command('THREAD REFERENCES UTF-8 ALL')).untagged, [
      '* THREAD ((1)(2))(4 3)(5)(6)',
    ]);
    assert.deepEqual((await raw.command('THREAD ORDEREDSUBJECT UTF-8 ALL')).untagged, [
      '* THREAD (1 2)(3 4)(5)(6)',
    ]);
  });

  it('an unquoted mailbox name may hold [ (only ] is a resp-special): SELECT, LIST, STATUS', async () => {
    const raw = await connect();
    assert.equal((await raw.command('CREATE "box[1"')).status, 'OK');
    const select = await raw.command('SELECT box[1');
    assert.equal(select.status, 'OK', select.tagged);
    const list = await raw.command('LIST "" box[1');
    assert.deepEqual(list.untagged, ['* LIST (\\HasNoChildren) "/" "box[1"']);
    const status = await raw.command('STATUS box[1 (MESSAGES)');
    assert.equal(status.status, 'OK', status.tagged);
    assert.deepEqual(status.untagged, ['* STATUS "box[1" (MESSAGES 0)']);
    // Brackets still carry sections in FETCH, spaces and parentheses included.
    await raw.command('CLOSE');
    await raw.command('EXAMINE INBOX');
    const fetch = await raw.command('FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject)]<0.8>)');
    assert.equal(fetch.untagged[0], '* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)]<0> {8}\r\nSubject:)');
  });
});
