import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crlfSize, dotStuff } from '../src/pop3/dot-stuff.js';

const wire = async (chunks: string[]) => {
  const out: Buffer[] = [];
  for await (const b of dotStuff(chunks.map((c) => Buffer.from(c, 'latin1')))) out.push(b);
  return Buffer.concat(out).toString('latin1');
};
const size = (chunks: string[]) => crlfSize(chunks.map((c) => Buffer.from(c, 'latin1')));

describe('POP3 multi-line body (RFC 1939 3, 11)', () => {
  it('ends lines with CRLF, stuffs dots, and crlfSize counts what is sent before stuffing, over any chunking', async () => {
    const message = 'A: b\n\r\n.\n..x\r\nmid\nend.\r\n.\n';
    const expected = 'A: b\r\n\r\n..\r\n...x\r\nmid\r\nend.\r\n..\r\n.\r\n';
    const unstuffedSize = expected.length - 3 - 3; // the terminator and three stuffed dots
    for (let cut = 0; cut <= message.length; cut++)
      for (let cut2 = cut; cut2 <= message.length; cut2++) {
        const chunks = [message.slice(0, cut), message.slice(cut, cut2), message.slice(cut2)];
        assert.equal(await wire(chunks), expected, JSON.stringify(chunks));
        assert.equal(await size(chunks), unstuffedSize, JSON.stringify(chunks));
      }
  });

  it('a message without a final line end gets one before the terminator; an empty one is just the dot', async () => {
    assert.equal(await wire(['x\r\n.y']), 'x\r\n..y\r\n.\r\n');
    assert.equal(await wire([]), '.\r\n');
    assert.equal(await size([]), 0);
  });
});
