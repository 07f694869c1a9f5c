// The ManageSieve command reader: atoms, quoted strings with escapes, {n+} and {n} literals holding
// CRLF and quotes; the same commands however the input is cut into segments (property test); and
// the limits (line length, literal size) refused before anything is buffered.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ManageSieveReader, type ReadItem, sieveString } from '../src/managesieve/command-reader.js';

const input = Buffer.from(
  'capability\r\nPUTSCRIPT "my \\"script\\"" {13+}\r\nkeep;\r\n"x" {}\r\n\r\nAUTHENTICATE "PLAIN" {4}\r\nAAAA\r\nNOOP\r\n',
);
const expected = [
  { verb: 'CAPABILITY', args: [], tokens: ['capability'] },
  {
    verb: 'PUTSCRIPT',
    args: ['my "script"', 'keep;\r\n"x" {}'],
    tokens: ['PUTSCRIPT', 'my "script"', 'keep;\r\n"x" {}'],
  },
  { verb: 'AUTHENTICATE', args: ['PLAIN', 'AAAA'], tokens: ['AUTHENTICATE', 'PLAIN', 'AAAA'] },
  { verb: 'NOOP', args: [], tokens: ['NOOP'] },
];

test('commands with quoted strings and literals', () => {
  assert.deepEqual(new ManageSieveReader(1024, 1024).push(input), expected);
});

test('the same commands however the input is split', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: input.length - 1 }), { maxLength: 12 }), (cuts) => {
      const reader = new ManageSieveReader(1024, 1024);
      const points = [...new Set(cuts)].sort((a, b) => a - b);
      const out: ReadItem[] = [];
      let start = 0;
      for (const p of [...points, input.length]) {
        out.push(...reader.push(input.subarray(start, p)));
        start = p;
      }
      assert.deepEqual(out, expected);
    }),
  );
});

test('limits: a long line and a large literal are refused at once', () => {
  assert.deepEqual(new ManageSieveReader(16, 1024).push(Buffer.from(`NOOP "${'x'.repeat(40)}`)), [
    { error: 'too-long', message: 'Line too long' },
  ]);
  assert.deepEqual(new ManageSieveReader(1024, 100).push(Buffer.from('PUTSCRIPT "a" {4294967295+}\r\n')), [
    { error: 'too-long', message: 'Literal too large' },
  ]);
  assert.equal(new ManageSieveReader(1024, 100).push(Buffer.from('NOOP "a\r\n"'))[0] !== undefined, true);
});

test('response strings: quoted when plain, escaped, a literal with line breaks', () => {
  assert.equal(sieveString('abc'), '"abc"');
  assert.equal(sieveString('a"b\\c'), '"a\\"b\\\\c"');
  assert.equal(sieveString('line 1\nline 2'), '{13}\r\nline 1\nline 2');
});
