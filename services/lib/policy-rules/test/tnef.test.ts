// TNEF (winmail.dat) attachments listed like an archive's members: a small TNEF writer after
// [MS-OXTNEF] (signature, key, attribute records with checksums; attAttachment's MAPI properties
// for the long file name), the default rules on what is inside, and bounded parsing of damaged
// streams.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { messageFacts, sniffKind } from '../src/index.js';
import { defaultRulesVerdict, makeMessage, OLE_MACRO, PDF, PE } from './fixtures.js';

const LEVEL_MESSAGE = 1;
const LEVEL_ATTACHMENT = 2;
const attTnefVersion = 0x00089006;
const attOemCodepage = 0x00069007;
const attMessageClass = 0x00078008;
const attAttachRendData = 0x00069002;
const attAttachTitle = 0x00018010;
const attAttachData = 0x0006800f;
const attAttachment = 0x00069005;

/** One attribute record: level, id, length, data, checksum (sum of the data bytes mod 65536). */
function attribute(level: number, id: number, data: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head[0] = level;
  head.writeUInt32LE(id, 1);
  head.writeUInt32LE(data.length, 5);
  const sum = Buffer.alloc(2);
  sum.writeUInt16LE(data.reduce((s, b) => (s + b) & 0xffff, 0));
  return Buffer.concat([head, data, sum]);
}

const pad4 = (b: Buffer) => Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);

/** attAttachment's MAPI properties: PR_ATTACH_LONG_FILENAME (PT_UNICODE) and a PT_LONG before it. */
function attachProps(longName: string): Buffer {
  const long = Buffer.from(`${longName}\0`, 'utf16le');
  const count = Buffer.alloc(4);
  count.writeUInt32LE(2);
  const method = Buffer.alloc(8);
  method.writeUInt16LE(0x0003, 0); // PT_LONG
  method.writeUInt16LE(0x3705, 2); // PR_ATTACH_METHOD
  method.writeUInt32LE(1, 4);
  const tag = Buffer.alloc(12);
  tag.writeUInt16LE(0x001f, 0); // PT_UNICODE
  tag.writeUInt16LE(0x3707, 2); // PR_ATTACH_LONG_FILENAME
  tag.writeUInt32LE(1, 4); // one value
  tag.writeUInt32LE(long.length, 8);
  return Buffer.concat([count, method, tag, pad4(long)]);
}

interface TnefFile {
  title: string;
  data: Buffer;
  longName?: string;
}

/** A TNEF stream (winmail.dat) with the given attached files. */
function makeTnef(files: TnefFile[]): Buffer {
  const sig = Buffer.alloc(6);
  sig.writeUInt32LE(0x223e9f78, 0);
  sig.writeUInt16LE(0x1234, 4);
  const version = Buffer.alloc(4);
  version.writeUInt32LE(0x00010000);
  const codepage = Buffer.alloc(8);
  codepage.writeUInt32LE(1252);
  const parts = [
    sig,
    attribute(LEVEL_MESSAGE, attTnefVersion, version),
    attribute(LEVEL_MESSAGE, attOemCodepage, codepage),
    attribute(LEVEL_MESSAGE, attMessageClass, Buffer.from('IPM.Microsoft Mail.Note\0', 'latin1')),
  ];
  for (const f of files) {
    parts.push(attribute(LEVEL_ATTACHMENT, attAttachRendData, Buffer.alloc(14)));
    parts.push(attribute(LEVEL_ATTACHMENT, attAttachTitle, Buffer.from(`${f.title}\0`, 'latin1')));
    parts.push(attribute(LEVEL_ATTACHMENT, attAttachData, f.data));
    if (f.longName) parts.push(attribute(LEVEL_ATTACHMENT, attAttachment, attachProps(f.longName)));
  }
  return Buffer.concat(parts);
}

const text = Buffer.from('quarterly figures\n');

describe('TNEF (winmail.dat)', () => {
  it('lists the attached files with their names and sniffed kinds', () => {
    const tnef = makeTnef([
      { title: 'README.TXT', data: text },
      { title: 'SETUP.EXE', data: PE },
      { title: 'QUARTE~1.PDF', data: PDF, longName: 'quarterly report.pdf' },
    ]);
    const sniffed = sniffKind(tnef, 'winmail.dat');
    assert.deepEqual(
      sniffed.members?.map((m) => [m.name, m.size]),
      [
        ['README.TXT', text.length],
        ['SETUP.EXE', PE.length],
        ['quarterly report.pdf', PDF.length],
      ],
    );
    assert.equal(sniffed.unlisted, false);
    const facts = messageFacts(
      makeMessage({ attachments: [{ name: 'winmail.dat', data: tnef, type: 'application/ms-tnef' }] }),
    );
    const inside = facts.attachments.filter((a) => a.inArchive);
    assert.deepEqual(
      inside.map((a) => [a.name, a.kind, a.archive]),
      [
        ['README.TXT', 'text', 'winmail.dat'],
        ['SETUP.EXE', 'executable', 'winmail.dat'],
        ['quarterly report.pdf', 'pdf', 'winmail.dat'],
      ],
    );
  });

  it('a cut-short or lying TNEF keeps what it read and is unlisted, never an error', () => {
    const whole = makeTnef([
      { title: 'A.TXT', data: text },
      { title: 'B.EXE', data: PE },
    ]);
    const cut = sniffKind(whole.subarray(0, whole.length - 40), 'winmail.dat');
    assert.equal(cut.unlisted, true);
    assert.deepEqual(
      cut.members?.map((m) => m.name),
      ['A.TXT', 'B.EXE'],
    );
    // A record claiming more bytes than there are.
    const lying = Buffer.from(whole);
    lying.writeUInt32LE(0x7fffffff, 6 + 5);
    assert.equal(sniffKind(lying, 'winmail.dat').unlisted, true);
    // Every prefix parses without throwing.
    for (let n = 0; n <= whole.length; n += 7) sniffKind(whole.subarray(0, n), 'winmail.dat');
  });

  describe('default rules on what is inside', () => {
    const verdict = (data: Buffer, type = 'application/ms-tnef') =>
      defaultRulesVerdict('winmail.dat', data, type);

    it('an executable, a script by its long name, or a macro document inside is refused', () => {
      assert.equal(verdict(makeTnef([{ title: 'SETUP.DAT', data: PE }]))?.rule, 'default-executables');
      assert.equal(
        verdict(
          makeTnef([{ title: 'INVOIC~1.TXT', data: text, longName: 'invoice.js' }]),
          'application/vnd.ms-tnef',
        )?.rule,
        'default-executables',
      );
      assert.equal(
        verdict(makeTnef([{ title: 'BUDGET.XLS', data: OLE_MACRO }]))?.rule,
        'default-office-macros',
      );
      assert.equal(verdict(makeTnef([{ title: 'NOTES.TXT', data: text }])), undefined);
    });

    it('a damaged TNEF meets the unlisted rule', () => {
      const whole = makeTnef([{ title: 'NOTES.TXT', data: text }]);
      assert.equal(verdict(whole.subarray(0, whole.length - 3))?.rule, 'no-unlisted-archives');
    });
  });
});
