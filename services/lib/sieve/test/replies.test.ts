import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeMimeWords } from '../src/message.js';
import {
  buildMailtoNotification,
  buildRejectNotice,
  buildVacationReply,
  firstHeaderValue,
  headerFields,
} from '../src/replies.js';

const original = headerFields(
  Buffer.from(
    'From: alice@example.org\r\nTo: bob@example.com\r\nSubject: hello\r\nMessage-ID: <m1@example.org>\r\n\r\nHi\r\n',
  ),
);
const field = (raw: Buffer, name: string) =>
  headerFields(raw)
    .filter((f) => f.name === name)
    .map((f) => f.value);

test('mailto notification goes to every address of the URI: its to part and its to/cc fields (RFC 5436 2.7, RFC 6068)', () => {
  const notice = buildMailtoNotification({
    method: 'mailto:carol@example.net%2Cdave@example.net?cc=erin@example.net&subject=Mail%20arrived',
    from: 'bob@example.com',
    original,
    hostname: 'mx.example.com',
  });
  assert.ok(notice, 'a usable mailto URI');
  assert.deepEqual(notice.recipients, ['carol@example.net', 'dave@example.net', 'erin@example.net']);
  assert.deepEqual(field(notice.body, 'to'), ['carol@example.net, dave@example.net']);
  assert.deepEqual(field(notice.body, 'cc'), ['erin@example.net']);
  assert.deepEqual(field(notice.body, 'subject'), ['Mail arrived']);
  assert.deepEqual(field(notice.body, 'auto-submitted'), ['auto-notified']);
});

test('mailto notification names each recipient once', () => {
  const notice = buildMailtoNotification({
    method: 'mailto:carol@example.net?to=Carol@example.net&cc=carol@example.net,dave@example.net',
    from: 'bob@example.com',
    original,
    hostname: 'mx.example.com',
  });
  assert.ok(notice);
  assert.deepEqual(notice.recipients, ['carol@example.net', 'dave@example.net']);
  assert.deepEqual(field(notice.body, 'cc'), ['dave@example.net']);
});

test('a non-ASCII vacation subject is sent as RFC 2047 encoded-words of at most 75 characters each', () => {
  const subject = 'Auto: Я могу есть стекло, оно мне не вредит.';
  const raw = buildVacationReply({
    from: 'bob@example.com',
    to: 'alice@example.org',
    subject,
    reason: 'Away',
    mime: false,
    original,
    hostname: 'mx.example.com',
  });
  const text = raw.toString('latin1');
  assert.match(text, /^[\x00-\x7f]*$/, 'the message is ASCII');
  const line = /^Subject: (.*(?:\r\n[ \t].*)*)/m.exec(text)![1]!;
  for (const word of line.match(/=\?[^?]+\?[BbQq]\?[^?]*\?=/g) ?? []) assert.ok(word.length <= 75, word);
  for (const physical of line.split('\r\n')) assert.ok(physical.length <= 78, physical);
  assert.equal(decodeMimeWords(line.replace(/\r\n/g, '')), subject);
});

test('firstHeaderValue gives what headerFields gives for the first field of a name', () => {
  const messages = [
    'X-Spam-Status: No, score=1.20 required=15.00\r\nSubject: a\r\n\r\nbody',
    'Subject: a\r\nx-spam-status: Yes,\r\n score=20.1\r\n\trequired=15.0\r\nX-Spam-Status: second\r\n\r\n',
    'Subject: a\nX-SPAM-STATUS :  spaced  \n folded\n\nbody',
    ' leading: continuation\r\nno colon line\r\n continued after it\r\nX-Spam-Status: v\r\n\r\n',
    'Subject: x\r\nX-Spam-Status: v\r\nno colon\r\n continued\r\nOther: y\r\n\r\n',
    'Subject: only\r\n\r\n',
    'X-Spam-Status: cr\r',
    'X-Spam-Status: last line without end',
    ':no name\r\nX-Spam-Status: after\r\n\r\n',
    '',
  ];
  for (const text of messages) {
    const raw = Buffer.from(text);
    for (const name of ['x-spam-status', 'subject', 'other', 'leading', 'missing'])
      assert.equal(
        firstHeaderValue(raw, name),
        headerFields(raw).find((f) => f.name === name)?.value,
        `${JSON.stringify(text)}: ${name}`,
      );
  }
});

test('a reject notice is an MDN (RFC 5429 2.1, RFC 8098): deleted disposition, Original-Message-ID, the reason readable in any charset', () => {
  const header = Buffer.from(
    'From: alice@example.org\r\nTo: bob@example.com\r\nSubject: hello\r\nMessage-ID: <m1@example.org>',
  );
  const raw = buildRejectNotice({
    recipient: 'bob@example.com',
    to: 'alice@example.org',
    reason: 'Keine Anhänge, bitte.',
    originalHeader: header,
    hostname: 'mx.example.com',
  });
  const text = raw.toString('utf8');
  assert.match(
    text,
    /^Content-Type: multipart\/report; report-type=disposition-notification; boundary="([^"]+)"\r$/m,
  );
  assert.match(text, /^Auto-Submitted: auto-replied/m);
  const boundary = /boundary="([^"]+)"/.exec(text)![1]!;
  const parts = text.split(`--${boundary}`).slice(1, -1);
  assert.equal(parts.length, 3);
  const [human, mdn, original] = parts as [string, string, string];
  // the human-readable part: 7-bit on the wire, the reason there once decoded
  assert.ok(/^[\x00-\x7f]*$/.test(human), 'the first part is 7-bit');
  const cte = /^Content-Transfer-Encoding: (\S+)\r$/m.exec(human)?.[1]?.toLowerCase();
  const bodyText = human.slice(human.indexOf('\r\n\r\n') + 4);
  const decoded =
    cte === 'base64' ? Buffer.from(bodyText.replace(/\s+/g, ''), 'base64').toString('utf8') : bodyText;
  assert.match(decoded, /Keine Anhänge, bitte\./);
  assert.match(mdn, /^Content-Type: message\/disposition-notification\r$/m);
  assert.match(mdn, /^Final-Recipient: rfc822; bob@example\.com\r$/m);
  assert.match(mdn, /^Original-Message-ID: <m1@example\.org>\r$/m);
  assert.match(mdn, /^Disposition: automatic-action\/MDN-sent-automatically; deleted\r$/m);
  assert.match(original, /^Content-Type: text\/rfc822-headers\r$/m);
  assert.match(original, /^Message-ID: <m1@example\.org>/m);
});

test('a vacation reply with :mime carries the reason as its MIME entity, once, after the reply fields (RFC 5230 4.4)', () => {
  const raw = buildVacationReply({
    from: 'bob@example.com',
    to: 'alice@example.org',
    reason:
      'Content-Type: multipart/alternative; boundary="b1"\n\n--b1\nContent-Type: text/plain\n\nAway.\n--b1\nContent-Type: text/html\n\n<p>Away.</p>\n--b1--\n',
    mime: true,
    original,
    hostname: 'mx.example.com',
  });
  const text = raw.toString('utf8');
  assert.deepEqual(field(raw, 'content-type'), ['multipart/alternative; boundary="b1"']);
  assert.deepEqual(field(raw, 'mime-version'), ['1.0']);
  assert.deepEqual(field(raw, 'subject'), ['Auto: hello']);
  assert.deepEqual(field(raw, 'in-reply-to'), ['<m1@example.org>']);
  assert.match(text, /\r\n\r\n--b1\r\nContent-Type: text\/plain\r\n\r\nAway\.\r\n--b1\r\n/);
  assert.ok(!text.replace(/\r\n/g, '').includes('\n'), 'every line ends in CRLF');
});

test('a vacation reply to a message with a very long subject keeps every line within RFC 5322 2.1.1 (998 characters), the subject intact', () => {
  const words = Array.from({ length: 200 }, (_, i) => `word${i}`).join(' ');
  const unbroken = 'x'.repeat(1200);
  for (const subject of [words, unbroken]) {
    const raw = buildVacationReply({
      from: 'bob@example.com',
      to: 'alice@example.org',
      subject: `Auto: ${subject}`,
      reason: 'Away.',
      mime: false,
      original,
      hostname: 'mx.example.com',
    });
    const lines = raw.toString('utf8').split('\r\n');
    assert.ok(
      lines.every((l) => l.length <= 998),
      `longest line ${Math.max(...lines.map((l) => l.length))}`,
    );
    const [value] = field(raw, 'subject');
    assert.equal(decodeMimeWords(value!).replace(/\s+/g, ' '), `Auto: ${subject}`);
  }
});

test('a vacation :from with a non-ASCII display name is sent as RFC 2047 words, the address as given (RFC 5230 4.3)', () => {
  const raw = buildVacationReply({
    from: 'Jörg Müller <joerg@example.com>',
    to: 'alice@example.org',
    reason: 'Away.',
    mime: false,
    original,
    hostname: 'mx.example.com',
  });
  const [from] = field(raw, 'from');
  assert.ok(/^[\x20-\x7e]*$/.test(from!), `From is ASCII: ${from}`);
  assert.match(from!, /<joerg@example\.com>$/);
  assert.equal(decodeMimeWords(from!), 'Jörg Müller <joerg@example.com>');
  // plain ASCII :from values are left as the script wrote them
  const plain = buildVacationReply({
    from: '"Bob B." <bob@example.com>',
    to: 'alice@example.org',
    reason: 'Away.',
    mime: false,
    original,
    hostname: 'mx.example.com',
  });
  assert.deepEqual(field(plain, 'from'), ['"Bob B." <bob@example.com>']);
});
