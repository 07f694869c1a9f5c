// decodePartBody: ASCII text in an ASCII-compatible charset comes back as it is (no decoding);
// everything else still goes through its charset's decoder.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodePartBody, parseMime } from '../src/message.js';

const part = (contentType: string, body: Buffer, encoding = '7bit') =>
  parseMime(
    Buffer.concat([
      Buffer.from(`Content-Type: ${contentType}\r\nContent-Transfer-Encoding: ${encoding}\r\n\r\n`),
      body,
    ]).toString('latin1'),
  );

test('ASCII text in utf-8, us-ascii, iso-8859-1, an unknown or no charset: the text itself', () => {
  const text = 'Dear reader,\r\nwire the transfer today.\r\n\tTabs, NUL \0 and ~ stay.\r\n';
  for (const type of [
    'text/plain; charset=utf-8',
    'text/plain; charset=US-ASCII',
    'text/plain; charset=iso-8859-1',
    'text/plain; charset=x-unknown',
    'text/plain',
  ])
    assert.equal(decodePartBody(part(type, Buffer.from(text))), text, type);
});

test('non-ASCII bytes and charsets whose ASCII bytes mean something else are decoded', () => {
  assert.equal(decodePartBody(part('text/plain; charset=utf-8', Buffer.from('Grüße\r\n'))), 'Grüße\r\n');
  assert.equal(
    decodePartBody(part('text/plain; charset=iso-8859-1', Buffer.from('Gr\xfc\xdfe\r\n', 'latin1'))),
    'Grüße\r\n',
  );
  // UTF-16: every byte is ASCII here, but two make one character.
  assert.equal(decodePartBody(part('text/plain; charset=utf-16le', Buffer.from('Hi', 'utf16le'))), 'Hi');
  // ISO-2022-JP: ASCII bytes between escape sequences are JIS X 0208 (here 日本).
  const jis = Buffer.from('\x1b$BF|K\\\x1b(B', 'latin1');
  assert.equal(decodePartBody(part('text/plain; charset=iso-2022-jp', jis)), '日本');
  assert.equal(
    decodePartBody(part('text/plain; charset=utf-8', Buffer.from('SGk=', 'latin1'), 'base64')),
    'Hi',
  );
});
