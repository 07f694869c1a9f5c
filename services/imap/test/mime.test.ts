import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addressText, parseAddressList } from '../src/mime/addresses.js';
import { formatBodyStructure, formatEnvelope } from '../src/mime/format-structure.js';
import { parseMime } from '../src/mime/parse-mime.js';
import { parseSection, sectionRange } from '../src/mime/sections.js';
import { decodeQuotedPrintable } from '../src/mime/transfer-decode.js';

const crlf = (lines: string[]) => Buffer.from(lines.join('\r\n'));

const message = crlf([
  'From: "Alice A." <alice@example.com>',
  'To: bob@example.com, team: carol@example.com, dave@example.com;',
  'Subject: Report',
  'Message-ID: <r1@example.com>',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="outer"',
  '',
  'preamble',
  '--outer',
  'Content-Type: text/plain; charset=utf-8',
  '',
  'Hello',
  'World',
  '--outer',
  'Content-Type: message/rfc822',
  '',
  'From: carol@example.com',
  'Subject: Inner',
  'Content-Type: multipart/alternative; boundary=inner',
  '',
  '--inner',
  'Content-Type: text/plain',
  '',
  'inner text',
  '--inner',
  'Content-Type: text/html',
  '',
  '<p>inner</p>',
  '--inner--',
  '',
  '--outer',
  'Content-Type: application/pdf; name="r.pdf"',
  'Content-Disposition: attachment; filename="r.pdf"',
  'Content-Transfer-Encoding: base64',
  '',
  'JVBERi0=',
  '--outer--',
  'epilogue',
  '',
]);

const text = (range: { start: number; end: number } | undefined) =>
  range ? message.subarray(range.start, range.end).toString() : undefined;

describe('MIME structure', () => {
  const { root } = parseMime(message);

  it('splits parts at the boundaries with the CRLF before a delimiter belonging to it', () => {
    assert.equal(root.children?.length, 3);
    assert.equal(text(sectionRange(root, parseSection('1'))), 'Hello\r\nWorld');
    assert.equal(text(sectionRange(root, parseSection('3'))), 'JVBERi0=');
    assert.equal(
      text(sectionRange(root, parseSection('3.MIME'))),
      'Content-Type: application/pdf; name="r.pdf"\r\nContent-Disposition: attachment; filename="r.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n',
    );
  });

  it('resolves numbers inside message/rfc822 into the encapsulated message', () => {
    assert.equal(text(sectionRange(root, parseSection('2.1'))), 'inner text');
    assert.equal(text(sectionRange(root, parseSection('2.2'))), '<p>inner</p>');
    assert.match(
      text(sectionRange(root, parseSection('2.HEADER')))!,
      /^From: carol@example.com\r\nSubject: Inner\r\n/,
    );
    assert.equal(sectionRange(root, parseSection('4')), undefined);
    assert.equal(sectionRange(root, parseSection('1.2')), undefined);
  });

  it('formats BODYSTRUCTURE and ENVELOPE per RFC 3501', () => {
    const structure = formatBodyStructure(root, true);
    // "Hello\r\nWorld": one line end (the CRLF before the delimiter is the delimiter's).
    assert.ok(
      structure.startsWith(
        '(("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "7BIT" 12 1 NIL NIL NIL NIL)("MESSAGE" "RFC822" NIL NIL NIL "7BIT" ',
      ),
      structure,
    );
    assert.ok(
      structure.includes(
        '("APPLICATION" "PDF" ("NAME" "r.pdf") NIL NIL "BASE64" 8 NIL ("ATTACHMENT" ("FILENAME" "r.pdf")) NIL NIL)',
      ),
      structure,
    );
    assert.ok(structure.endsWith(' "MIXED" ("BOUNDARY" "outer") NIL NIL NIL)'), structure);
    assert.ok(formatBodyStructure(root, false).includes('"ALTERNATIVE")'));
    const envelope = formatEnvelope(root.envelope!);
    assert.equal(
      envelope,
      '(NIL "Report" (("Alice A." NIL "alice" "example.com")) (("Alice A." NIL "alice" "example.com")) (("Alice A." NIL "alice" "example.com")) ((NIL NIL "bob" "example.com")(NIL NIL "team" NIL)(NIL NIL "carol" "example.com")(NIL NIL "dave" "example.com")(NIL NIL NIL NIL)) NIL NIL NIL "<r1@example.com>")',
    );
  });

  it('caps MIME nesting depth and part count with bounded work', () => {
    const depth = 10_000;
    const lines: string[] = [];
    for (let i = 0; i < depth; i++)
      lines.push(`Content-Type: multipart/mixed; boundary=b${i}`, '', `--b${i}`);
    lines.push('', 'x');
    const started = Date.now();
    const parsed = parseMime(crlf(lines), { maxDepth: 100, maxParts: 10_000 });
    let levels = 0;
    let node = parsed.root;
    while (node.children?.[0]) {
      node = node.children[0];
      levels++;
    }
    assert.ok(levels <= 101, `depth ${levels}`);
    assert.ok(Date.now() - started < 5_000);
    const many = ['Content-Type: multipart/mixed; boundary=z', ''];
    for (let i = 0; i < 50_000; i++) many.push('--z', '', 'p');
    const wide = parseMime(crlf(many), { maxDepth: 100, maxParts: 1000 });
    assert.ok((wide.root.children?.length ?? 0) <= 1001, `parts ${wide.root.children?.length}`);
  });

  it('treats a message without a header/body separator as all header', () => {
    const { root: r } = parseMime(Buffer.from('Subject: x\r\n'));
    assert.equal(r.bodyStart, r.bodyEnd);
    assert.equal(r.type, 'text');
  });
});

describe('quoted-printable (RFC 2045 6.7)', () => {
  const qp = (s: string) => decodeQuotedPrintable(Buffer.from(s)).toString('latin1');
  it('drops transport padding, joins soft line breaks (with padding after =), decodes =XX', () => {
    assert.equal(qp('a b  \r\nc=\r\nd= \t\r\n=41=3d=\r\n'), 'a b\r\ncdA=');
    assert.equal(qp('x=\ny\n'), 'xy\n');
    assert.equal(qp('caf=C3=A9 =\r\nok'), 'café ok'.replace('é', '\xc3\xa9'));
    assert.equal(qp('end='), 'end');
    assert.equal(qp('=ZZ = x'), '=ZZ = x');
  });
});

describe('RFC 5322 address lists', () => {
  const simple = (value: string) =>
    parseAddressList(value).map((a) => [a.name, a.mailbox, a.host, a.group ?? null]);
  it('drops comments, keeps quoted names, reads groups', () => {
    assert.deepEqual(simple('<user (c)@ (c) domain.org>'), [[null, 'user', 'domain.org', null]]);
    assert.deepEqual(simple('John (x) Q. Public <jqp@example.com> (y)'), [
      ['John Q. Public', 'jqp', 'example.com', null],
    ]);
    assert.deepEqual(simple('"Last, First" <lf@x.org>'), [['Last, First', 'lf', 'x.org', null]]);
    assert.deepEqual(simple('group2: (foo) ;'), [
      [null, 'group2', null, 'start'],
      [null, null, null, 'end'],
    ]);
    assert.deepEqual(simple('g: a@x.org, B <b@y.org>;, c@z.org'), [
      [null, 'g', null, 'start'],
      [null, 'a', 'x.org', null],
      ['B', 'b', 'y.org', null],
      [null, null, null, 'end'],
      [null, 'c', 'z.org', null],
    ]);
    assert.deepEqual(simple('undisclosed-recipients:'), [
      [null, 'undisclosed-recipients', null, 'start'],
      [null, null, null, 'end'],
    ]);
  });
  it('reads the legacy "addr-spec (Full Name)" form as the display name (RFC 5322 3.4 note)', () => {
    assert.deepEqual(simple('plain@y.org (Not \\(really\\) A Name), b@z.org'), [
      ['Not (really) A Name', 'plain', 'y.org', null],
      [null, 'b', 'z.org', null],
    ]);
  });
  it('keeps an obsolete source route as the envelope at-domain-list (RFC 3501 7.4.2, RFC 5322 4.4)', () => {
    const [a] = parseAddressList('Relay <@relay.org,@b.org:jqp@example.com>');
    assert.deepEqual(
      [a?.name, a?.route, a?.mailbox, a?.host],
      ['Relay', '@relay.org,@b.org', 'jqp', 'example.com'],
    );
    assert.equal(parseAddressList('<x@y.org>')[0]?.route, null);
    const envelope = {
      date: null,
      subject: null,
      from: parseAddressList('<@r.org:u@h.org>, v@h.org (Vee)'),
      sender: [],
      replyTo: [],
      to: [],
      cc: [],
      bcc: [],
      inReplyTo: null,
      messageId: null,
    };
    assert.equal(
      formatEnvelope(envelope),
      '(NIL NIL ((NIL "@r.org" "u" "h.org")("Vee" NIL "v" "h.org")) NIL NIL NIL NIL NIL NIL NIL)',
    );
  });
  it('SEARCH text of an address list holds display names, addresses and group names', () => {
    assert.equal(
      addressText(parseAddressList('team: a@x.org, B <b@y.org>;, c@z.org (Cee)')),
      'team, a@x.org, B <b@y.org>, Cee <c@z.org>',
    );
  });
});
