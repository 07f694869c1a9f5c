import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProxyHeaderError, parseProxyHeader } from '../src/proxy-protocol/proxy-header.js';

const v2 = (command: number, family: number, body: Buffer) =>
  Buffer.concat([
    Buffer.from([
      0x0d,
      0x0a,
      0x0d,
      0x0a,
      0x00,
      0x0d,
      0x0a,
      0x51,
      0x55,
      0x49,
      0x54,
      0x0a,
      0x20 | command,
      family,
    ]),
    Buffer.from([body.length >> 8, body.length & 0xff]),
    body,
  ]);

test('v1 TCP4 and TCP6 headers give the client address and the header length', () => {
  const line = 'PROXY TCP4 203.0.113.7 192.0.2.1 40000 25\r\n';
  const h = parseProxyHeader(Buffer.from(`${line}EHLO x\r\n`));
  assert.deepEqual(h, {
    source: { address: '203.0.113.7', port: 40000 },
    destination: { address: '192.0.2.1', port: 25 },
    length: line.length,
  });
  assert.equal(
    parseProxyHeader(Buffer.from('PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n'))?.source?.address,
    '2001:db8::1',
  );
  assert.deepEqual(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n')), { length: 15 });
});

test('v1: partial input waits, garbage and forged fields throw', () => {
  assert.equal(parseProxyHeader(Buffer.from('PROXY TCP4 203.0')), undefined);
  assert.equal(parseProxyHeader(Buffer.from('PRO')), undefined);
  assert.throws(() => parseProxyHeader(Buffer.from('EHLO x\r\n')), ProxyHeaderError);
  assert.throws(
    () => parseProxyHeader(Buffer.from('PROXY TCP4 evil\r\nMAIL 192.0.2.1 1 2\r\n')),
    ProxyHeaderError,
  );
  assert.throws(
    () => parseProxyHeader(Buffer.from('PROXY TCP4 2001:db8::1 192.0.2.1 1 2\r\n')),
    ProxyHeaderError,
  );
  assert.throws(
    () => parseProxyHeader(Buffer.from('PROXY TCP4 192.0.2.9 192.0.2.1 99999 2\r\n')),
    ProxyHeaderError,
  );
  assert.throws(() => parseProxyHeader(Buffer.from(`PROXY ${'x'.repeat(200)}`)), ProxyHeaderError);
});

test('v2 PROXY over IPv4 and IPv6, LOCAL, and truncated input', () => {
  const ipv4 = Buffer.from([203, 0, 113, 9, 192, 0, 2, 1, 0x9c, 0x40, 0, 25]);
  const h = parseProxyHeader(Buffer.concat([v2(1, 0x11, ipv4), Buffer.from('EHLO')]));
  assert.deepEqual(h?.source, { address: '203.0.113.9', port: 40000 });
  assert.equal(h?.length, 28);
  const ipv6 = Buffer.alloc(36);
  ipv6.set([0x20, 0x01, 0x0d, 0xb8], 0);
  ipv6[15] = 5;
  ipv6.writeUInt16BE(1234, 32);
  assert.deepEqual(parseProxyHeader(v2(1, 0x21, ipv6))?.source, { address: '2001:db8::5', port: 1234 });
  assert.deepEqual(parseProxyHeader(v2(0, 0x00, Buffer.alloc(0))), { length: 16 });
  assert.equal(parseProxyHeader(v2(1, 0x11, ipv4).subarray(0, 20)), undefined);
  assert.throws(() => parseProxyHeader(v2(1, 0x11, Buffer.alloc(4))), ProxyHeaderError);
  assert.throws(() => parseProxyHeader(v2(5, 0x11, ipv4)), ProxyHeaderError);
});
