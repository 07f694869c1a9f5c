import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeBinaryParts } from '../src/mime/binary-parts.js';
import { parseMime } from '../src/mime/parse-mime.js';

const bytes = (...pieces: Array<string | Buffer>) =>
  Buffer.concat(pieces.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : p)));

// A binary part holds NUL and other octets no literal may carry (RFC 3516 section 3).
const payload = Buffer.from([0x68, 0x69, 0x00, 0x0d, 0xff, 0x01, 0x0a, 0x7f]);

describe('binary parts of a literal8 APPEND stored base64-encoded (RFC 3516 4.4, RFC 2045 6.8)', () => {
  it('re-encodes each leaf with Content-Transfer-Encoding: binary and leaves everything else alone', () => {
    const message = bytes(
      'From: a@example.org\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n',
      'pre\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: Binary\r\n',
      'Content-Disposition: attachment\r\n\r\n',
      payload,
      '\r\n--b\r\nContent-Type: text/plain\r\n\r\nplain text\r\n--b--\r\n',
    );
    const out = encodeBinaryParts(message);
    assert.equal(
      out.toString('latin1'),
      bytes(
        'From: a@example.org\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n',
        'pre\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n',
        'Content-Disposition: attachment\r\n\r\n',
        payload.toString('base64'),
        '\r\n--b\r\nContent-Type: text/plain\r\n\r\nplain text\r\n--b--\r\n',
      ).toString('latin1'),
    );
    // The new structure says base64 and the part decodes to the original octets.
    const part = parseMime(out).root.children![0]!;
    assert.equal(part.encoding.toLowerCase(), 'base64');
    assert.deepEqual(
      Buffer.from(out.subarray(part.bodyStart, part.bodyEnd).toString('latin1'), 'base64'),
      payload,
    );
  });

  it('wraps base64 at 76 characters (RFC 2045 6.8), also for a single-part message and folded headers', () => {
    const big = Buffer.alloc(200, 0);
    const message = bytes('Content-Transfer-Encoding:\r\n binary\r\nSubject: x\r\n\r\n', big);
    const out = encodeBinaryParts(message).toString('latin1');
    const [head, body] = out.split('\r\n\r\n') as [string, string];
    assert.equal(head, 'Content-Transfer-Encoding: base64\r\nSubject: x');
    const lines = body.split('\r\n');
    assert.ok(lines.every((l) => l.length <= 76));
    assert.equal(lines[0]!.length, 76);
    assert.deepEqual(Buffer.from(lines.join(''), 'base64'), big);
  });

  it('returns the same bytes when no leaf is binary, and never re-encodes multiparts or attached messages', () => {
    const plain = bytes('Subject: x\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\xe9t\xe9\r\n');
    assert.equal(encodeBinaryParts(plain), plain);
    const multipart = bytes(
      'Content-Type: multipart/mixed; boundary="b"\r\nContent-Transfer-Encoding: binary\r\n\r\n',
      '--b\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: binary\r\n\r\nSubject: in\r\n\r\nhi\r\n--b--\r\n',
    );
    assert.equal(encodeBinaryParts(multipart), multipart);
  });
});
