// TNEF (winmail.dat) attachments listed like an archive's members (streams from the small TNEF
// writer in tnef-fixtures.ts), the default rules on what is inside, and bounded parsing of
// damaged streams.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { messageFacts, sniffKind } from '../src/index.js';
import { listTnef } from '../src/tnef.js';
import { defaultRulesVerdict, makeMessage, OLE_MACRO, PDF, PE } from './fixtures.js';
import { makeTnef } from './tnef-fixtures.js';

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

  it('randomly damaged streams never throw (listed or unlisted)', () => {
    const whole = makeTnef([
      { title: 'A.TXT', data: text, longName: 'a long name.txt' },
      { title: 'FW: x', embedded: [{ title: 'B.EXE', data: PE }] },
    ]);
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let round = 0; round < 2000; round++) {
      const damaged = Buffer.from(whole);
      for (let k = 0; k <= round % 4; k++) damaged[6 + (random() % (damaged.length - 6))] = random() & 0xff;
      assert.equal(typeof sniffKind(damaged, 'winmail.dat').unlisted, 'boolean');
      // With the embedded message's members listed in turn.
      if (round % 10 === 0)
        assert.ok(
          messageFacts(makeMessage({ attachments: [{ name: 'winmail.dat', data: damaged }] })).attachments,
        );
    }
  });

  it("the files' bytes count against the message's inflate budget (past it: judged by name)", () => {
    const tnef = makeTnef([
      { title: 'A.TXT', data: text },
      { title: 'B.EXE', data: PE },
    ]);
    const budget = { bytes: text.length + 10 };
    const { members } = listTnef(tnef, budget, { maxMembers: 1000, memberBytes: 1024 });
    assert.deepEqual(
      members.map((m) => [m.name, m.size, m.content?.length]),
      [
        ['A.TXT', text.length, text.length],
        ['B.EXE', PE.length, undefined],
      ],
    );
    assert.equal(budget.bytes, 10);
    const limited = listTnef(tnef, { bytes: 1e6 }, { maxMembers: 1, memberBytes: 1024 });
    assert.deepEqual([limited.members.map((m) => m.name), limited.unlisted], [['A.TXT'], true]);
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

    it('an executable in a message attached inside the winmail.dat (an embedded TNEF) is refused', () => {
      const tnef = makeTnef([
        { title: 'NOTES.TXT', data: text },
        {
          title: 'FW: tools',
          embedded: [
            { title: 'README.TXT', data: text },
            { title: 'SETUP.DAT', data: PE },
          ],
        },
      ]);
      assert.equal(verdict(tnef)?.rule, 'default-executables');
      const facts = messageFacts(makeMessage({ attachments: [{ name: 'winmail.dat', data: tnef }] }));
      assert.deepEqual(
        facts.attachments.filter((a) => a.inArchive).map((a) => [a.name, a.archive]),
        [
          ['NOTES.TXT', 'winmail.dat'],
          ['FW: tools', 'winmail.dat'],
          ['README.TXT', 'FW: tools'],
          ['SETUP.DAT', 'FW: tools'],
        ],
      );
      const clean = makeTnef([{ title: 'FW: notes', embedded: [{ title: 'README.TXT', data: text }] }]);
      assert.equal(verdict(clean), undefined);
    });

    it('a damaged TNEF meets the unlisted rule', () => {
      const whole = makeTnef([{ title: 'NOTES.TXT', data: text }]);
      assert.equal(verdict(whole.subarray(0, whole.length - 3))?.rule, 'no-unlisted-archives');
    });
  });
});
