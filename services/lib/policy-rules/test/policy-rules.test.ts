import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  compileRule,
  evaluatePolicy,
  judgeMessage,
  messageFacts,
  type PolicyContext,
  PolicyRuleError,
  type PolicyRuleInput,
  PolicySet,
  parsePolicyRules,
  sniffKind,
  stripAttachments,
} from '../src/index.js';
import { listZip } from '../src/sniff.js';
import {
  DOCM,
  DOCX,
  makeCfb,
  makeMessage,
  makeZip,
  OLE_MACRO,
  OLE_PLAIN,
  PDF,
  PE,
  uuencode,
} from './fixtures.js';

const ctx: PolicyContext = {
  direction: 'inbound',
  mailFrom: 'alice@example.org',
  recipients: ['bob@example.com'],
  clientAddress: '192.0.2.10',
  auth: { spf: 'pass', dkim: 'fail', dmarc: 'fail' },
  spamScore: 4.5,
};

function run(rules: PolicyRuleInput[], message: Buffer, context: Partial<PolicyContext> = {}) {
  const compiled = parsePolicyRules(rules).map((r) => compileRule(r, 'global'));
  return evaluatePolicy(compiled, messageFacts(message), { ...ctx, ...context });
}

const matches = (
  condition: PolicyRuleInput['all'] & object,
  message: Buffer,
  context: Partial<PolicyContext> = {},
) =>
  run(
    [{ name: 'r', all: condition, action: { addHeader: [{ name: 'X-R', value: '1' }] } }],
    message,
    context,
  ).matched.includes('r');

const plain = makeMessage({
  subject: 'Quarterly =?utf-8?q?r=C3=A9sultats?=',
  text: 'Please wire the money today',
});

describe('conditions', () => {
  it('envelope sender and recipients: exact, domain (subdomains too), glob, regex', () => {
    assert.ok(matches([{ envelopeFrom: { exact: ['ALICE@example.org'] } }], plain));
    assert.ok(
      matches([{ envelopeFrom: { domain: ['example.org'] } }], plain, { mailFrom: 'x@mail.example.org' }),
    );
    assert.ok(
      !matches([{ envelopeFrom: { domain: ['example.org'] } }], plain, { mailFrom: 'x@badexample.org' }),
    );
    assert.ok(matches([{ envelopeTo: { glob: ['b?b@*.com'] } }], plain));
    assert.ok(!matches([{ envelopeTo: { glob: ['b?b@*.net'] } }], plain));
    assert.ok(matches([{ envelopeTo: { regex: ['^bob@example\\.(com|net)$'] } }], plain));
    assert.throws(() => matches([{ envelopeFrom: { exact: [''] } }], plain), /envelopeFrom\.exact\.0/);
  });

  it('header addresses: From, To, Cc, Reply-To', () => {
    const m = makeMessage({
      from: '"Boss" <ceo@corp.example>',
      to: 'a@x.example, b@y.example',
      cc: 'c@z.example',
      replyTo: 'fraud@evil.example',
    });
    assert.ok(matches([{ headerFrom: { exact: ['ceo@corp.example'] } }], m));
    assert.ok(matches([{ headerTo: { domain: ['y.example'] } }], m));
    assert.ok(matches([{ headerCc: { exact: ['c@z.example'] } }], m));
    assert.ok(matches([{ replyTo: { domain: ['evil.example'] } }], m));
    assert.ok(!matches([{ replyTo: { domain: ['corp.example'] } }], m));
  });

  it('subject and body, decoded', () => {
    assert.ok(matches([{ subject: { contains: ['résultats'] } }], plain));
    assert.ok(matches([{ body: { regex: ['wire (the )?money'] } }], plain));
    const qp = Buffer.from(
      'From: a@b.example\r\nTo: c@d.example\r\nSubject: x\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGesch=E4ftsbericht =\r\nvertraulich\r\n',
      'latin1',
    );
    assert.ok(matches([{ body: { contains: ['geschäftsbericht vertraulich'] } }], qp));
  });

  it('size, authentication results, spam score, source networks', () => {
    assert.ok(matches([{ sizeOver: 100 }], plain));
    assert.ok(!matches([{ sizeOver: 1_000_000 }], plain));
    assert.ok(matches([{ dmarc: ['fail'] }], plain));
    assert.ok(!matches([{ spf: ['fail', 'softfail'] }], plain));
    assert.ok(!matches([{ dkim: ['pass'] }], plain, { auth: {} }), 'not checked never matches');
    assert.ok(matches([{ spamScoreAtLeast: 4 }], plain));
    assert.ok(!matches([{ spamScoreAtLeast: 5 }], plain));
    assert.ok(!matches([{ spamScoreAtLeast: 0 }], plain, { spamScore: undefined }));
    assert.ok(matches([{ sourceNetwork: ['192.0.2.0/24'] }], plain));
    assert.ok(matches([{ sourceNetwork: ['192.0.2.0/24'] }], plain, { clientAddress: '::ffff:192.0.2.99' }));
    assert.ok(!matches([{ sourceNetwork: ['198.51.100.0/24', '2001:db8::/32'] }], plain));
    assert.ok(matches([{ sourceNetwork: ['2001:db8::/32'] }], plain, { clientAddress: '2001:db8::25' }));
    assert.ok(matches([{ sourceNetwork: ['2001:db8::25'] }], plain, { clientAddress: '2001:db8::25' }));
  });

  it('facts are computed when first read, once, and are the same whichever is read first', () => {
    const m = makeMessage({
      subject: 'Report',
      text: 'See the attachment',
      attachments: [{ name: 'setup.pdf', data: PE }],
    });
    const all = messageFacts(m);
    const factsOf = (f: typeof all) =>
      JSON.parse(
        JSON.stringify({
          size: f.size,
          subject: f.subject,
          addresses: f.addresses,
          bodyText: f.bodyText,
          attachments: f.attachments,
        }),
      );
    const snapshot = factsOf(all);
    const attachmentsFirst = messageFacts(m);
    assert.equal(attachmentsFirst.attachments, attachmentsFirst.attachments);
    assert.deepEqual(attachmentsFirst.attachments, snapshot.attachments);
    assert.equal(attachmentsFirst.addresses, attachmentsFirst.addresses);
    assert.deepEqual(attachmentsFirst.addresses, snapshot.addresses);
    assert.deepEqual(attachmentsFirst.bodyText, snapshot.bodyText);
    const textFirst = messageFacts(m);
    assert.match(textFirst.bodyText, /See the attachment/);
    assert.doesNotMatch(textFirst.bodyText, /setup/);
    assert.deepEqual(factsOf(textFirst), snapshot);
    assert.deepEqual(
      snapshot.attachments.map((a: { name: string }) => a.name),
      ['setup.pdf'],
    );
    assert.equal(snapshot.subject, 'Report');
  });

  it('a compiled rule names the facts it reads, which judgeMessage computes before the budget starts', () => {
    const facts = (input: PolicyRuleInput) =>
      [...compileRule(parsePolicyRules([input])[0]!, 'global').facts].sort();
    assert.deepEqual(facts({ name: 'a', all: [{ subject: { contains: ['x'] } }], action: { folder: 'X' } }), [
      'subject',
    ]);
    assert.deepEqual(
      facts({
        name: 'b',
        any: [{ headerFrom: { contains: ['x'] } }, { body: { contains: ['y'] } }],
        none: [{ spf: ['pass'] }],
        action: { stripAttachments: {} },
      }),
      ['addresses', 'attachments', 'bodyText'],
    );
    assert.deepEqual(facts({ name: 'c', all: [{ sizeOver: 10 }], action: { reject: 'no' } }), []);
  });

  it('attachments by content, not by name', () => {
    const m = makeMessage({ attachments: [{ name: 'holiday.jpg', data: PE }] });
    const facts = messageFacts(m);
    assert.deepEqual(
      facts.attachments.map((a) => [a.name, a.kind]),
      [['holiday.jpg', 'executable']],
    );
    assert.ok(matches([{ attachment: { kind: ['executable'] } }], m));
    assert.ok(!matches([{ attachment: { extension: ['exe'] } }], m));
    assert.ok(matches([{ attachment: { name: { glob: ['*.jpg'] } } }], m));
  });

  it('sniffs Office macros (OOXML vbaProject.bin, OLE VBA), archives, PDF, scripts', () => {
    assert.equal(sniffKind(DOCM, 'a.docx').kind, 'office-macro');
    assert.equal(sniffKind(DOCX, 'a.docx').kind, 'office');
    assert.equal(sniffKind(OLE_MACRO, 'a.xls').kind, 'office-macro');
    assert.equal(sniffKind(OLE_PLAIN, 'a.xls').kind, 'office');
    assert.equal(sniffKind(PDF, 'a.pdf').kind, 'pdf');
    assert.equal(sniffKind(Buffer.from('Rar!\x1a\x07\x01\x00', 'latin1'), 'a.rar').kind, 'rar');
    assert.equal(sniffKind(Buffer.from([0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c, 0, 4]), 'a.7z').kind, '7z');
    assert.equal(sniffKind(Buffer.from('WScript.Echo("hi")\r\n'), 'run.vbs').kind, 'script');
    assert.equal(sniffKind(Buffer.from('#!/bin/sh\nrm -rf ~\n'), 'notes.txt').kind, 'script');
    assert.equal(sniffKind(Buffer.from('just text\n'), 'notes.txt').kind, 'text');
    const jar = makeZip([
      { name: 'META-INF/MANIFEST.MF', data: Buffer.from('Manifest-Version: 1.0\n') },
      { name: 'a/Main.class', data: Buffer.from([0xca, 0xfe, 0xba, 0xbe]) },
    ]);
    assert.equal(sniffKind(jar, 'x.zip').kind, 'executable');
  });

  it('lists archives one level deep and sees the encryption flag', () => {
    const zip = makeZip([
      { name: 'docs/readme.txt', data: Buffer.from('hello'), deflate: true },
      { name: 'docs/setup.pdf', data: PE, deflate: true },
      { name: 'secret.xlsx', data: Buffer.from('x'), encrypted: true },
    ]);
    const m = makeMessage({ attachments: [{ name: 'files.zip', data: zip }] });
    const facts = messageFacts(m);
    assert.deepEqual(
      facts.attachments.map((a) => [a.name, a.kind, a.inArchive, a.encrypted]),
      [
        ['files.zip', 'zip', false, false],
        ['readme.txt', 'text', true, false],
        ['setup.pdf', 'executable', true, false],
        ['secret.xlsx', 'other', true, true],
      ],
    );
    assert.ok(matches([{ attachment: { kind: ['archive'], inArchive: false } }], m));
    assert.ok(matches([{ attachment: { kind: ['executable'], inArchive: true } }], m));
    assert.ok(matches([{ attachment: { encrypted: true } }], m));
  });

  it('double extensions', () => {
    const m = makeMessage({ attachments: [{ name: 'invoice.pdf.exe', data: PDF }] });
    assert.ok(matches([{ attachment: { doubleExtension: true } }], m));
    const ok = makeMessage({ attachments: [{ name: 'report.2024.pdf', data: PDF }] });
    assert.ok(!matches([{ attachment: { doubleExtension: true } }], ok));
  });

  it('all, any and none combine conditions', () => {
    const rule = (over: Partial<PolicyRuleInput>): PolicyRuleInput => ({
      name: 'c',
      action: { folder: 'X' },
      ...over,
    });
    const hit = (r: PolicyRuleInput) => run([r], plain).matched.length === 1;
    assert.ok(hit(rule({ all: [{ sizeOver: 1 }, { dmarc: ['fail'] }] })));
    assert.ok(!hit(rule({ all: [{ sizeOver: 1 }, { dmarc: ['pass'] }] })));
    assert.ok(hit(rule({ any: [{ dmarc: ['pass'] }, { spf: ['pass'] }] })));
    assert.ok(!hit(rule({ any: [{ dmarc: ['pass'] }, { spf: ['fail'] }] })));
    assert.ok(hit(rule({ all: [{ sizeOver: 1 }], none: [{ sourceNetwork: ['10.0.0.0/8'] }] })));
    assert.ok(!hit(rule({ all: [{ sizeOver: 1 }], none: [{ sourceNetwork: ['192.0.2.0/24'] }] })));
    assert.ok(
      hit(rule({ none: [{ sourceNetwork: ['10.0.0.0/8'] }] })),
      'only none: matches what none excludes',
    );
  });
});

describe('actions', () => {
  const exe = makeMessage({
    attachments: [
      { name: 'photo.jpg', data: Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2]) },
      { name: 'tool.exe', data: PE },
    ],
  });

  it('the first terminal action wins; non-terminal actions before it accumulate', () => {
    const d = run(
      [
        {
          name: 'tag',
          all: [{ sizeOver: 1 }],
          action: { addHeader: [{ name: 'X-Tag', value: 'a' }], bcc: ['audit@example.com'] },
        },
        { name: 'file', all: [{ sizeOver: 1 }], action: { folder: 'Archive' } },
        { name: 'block', all: [{ attachment: { kind: ['executable'] } }], action: { reject: 'No programs' } },
        { name: 'later', all: [{ sizeOver: 1 }], action: { addHeader: [{ name: 'X-Later', value: 'b' }] } },
      ],
      exe,
    );
    assert.deepEqual(d.terminal, { kind: 'reject', rule: 'block', text: 'No programs' });
    assert.deepEqual(d.matched, ['tag', 'file', 'block']);
    assert.deepEqual(d.headers, [{ rule: 'tag', name: 'X-Tag', value: 'a' }]);
    assert.deepEqual(d.bcc, [{ rule: 'tag', address: 'audit@example.com' }]);
    assert.deepEqual(d.folder, { rule: 'file', name: 'Archive' });
    assert.equal(d.trace[3]?.skipped, 'after reject by block');
  });

  it('quarantine, redirect and accept are terminal; the last folder wins', () => {
    const q = run([{ name: 'q', all: [{ sizeOver: 1 }], action: { quarantine: 'held for review' } }], plain);
    assert.deepEqual(q.terminal, { kind: 'quarantine', rule: 'q', reason: 'held for review' });
    const r = run(
      [{ name: 'r', all: [{ sizeOver: 1 }], action: { redirect: ['Legal@Example.com'] } }],
      plain,
    );
    assert.deepEqual(r.terminal, { kind: 'redirect', rule: 'r', addresses: ['legal@example.com'] });
    const f = run(
      [
        { name: 'a', all: [{ sizeOver: 1 }], action: { folder: 'One' } },
        { name: 'b', all: [{ sizeOver: 1 }], action: { folder: 'Two' } },
        { name: 'stop', all: [{ sizeOver: 1 }], action: { accept: true } },
        { name: 'c', all: [{ sizeOver: 1 }], action: { folder: 'Three' } },
      ],
      plain,
    );
    assert.equal(f.folder?.name, 'Two');
    assert.equal(f.terminal?.kind, 'accept');
  });

  it('outbound rules do not run inbound and the other way round', () => {
    const d = run(
      [{ name: 'out', direction: 'outbound', all: [{ sizeOver: 1 }], action: { reject: 'x' } }],
      plain,
    );
    assert.equal(d.terminal, undefined);
    assert.equal(d.trace[0]?.skipped, 'outbound only');
  });

  it('strips the attachments the rule matched and puts a notice in place', () => {
    const d = run(
      [
        {
          name: 'strip',
          all: [{ attachment: { kind: ['executable'] } }],
          action: { stripAttachments: { notice: 'Removed {name}.' } },
        },
      ],
      exe,
    );
    const facts = messageFacts(exe);
    assert.ok(d.strip);
    const out = stripAttachments(
      facts.root,
      d.strip.parts,
      d.strip.notice,
      (p) => facts.attachments.find((a) => a.part === p)?.name ?? '',
    );
    const after = messageFacts(out);
    assert.deepEqual(
      after.attachments.map((a) => [a.name, a.kind]),
      [['photo.jpg', 'image']],
    );
    assert.match(after.bodyText, /Hello Bob/);
    assert.match(after.bodyText, /Removed tool\.exe\./);
    assert.doesNotMatch(out.toString('latin1'), /TVqQ/, 'the executable bytes are gone');
  });

  it('strips every attachment when the rule has no attachment condition', () => {
    const d = run([{ name: 'strip', all: [{ sizeOver: 1 }], action: { stripAttachments: {} } }], exe);
    const facts = messageFacts(exe);
    const out = stripAttachments(facts.root, d.strip!.parts, d.strip!.notice, () => 'x');
    assert.equal(messageFacts(out).attachments.length, 0);
  });
});

describe('schema and compile', () => {
  it('refuses invalid rules naming the field', () => {
    assert.throws(
      () => parsePolicyRules([{ name: 'x', all: [], action: { reject: 'no' } }]),
      /at least one condition/,
    );
    assert.throws(
      () =>
        parsePolicyRules([{ name: 'x', all: [{ sizeOver: 1, dmarc: ['fail'] }], action: { reject: 'no' } }]),
      /exactly one field/,
    );
    assert.throws(
      () =>
        parsePolicyRules([{ name: 'x', all: [{ sizeOver: 1 }], action: { reject: 'a', quarantine: 'b' } }]),
      /at most one terminal/,
    );
    assert.throws(
      () => parsePolicyRules([{ name: 'x', all: [{ sizeOver: 1 }], action: { reject: 'a\r\nRCPT' } }]),
      /printable/,
    );
    assert.throws(
      () =>
        parsePolicyRules([
          { name: 'x', all: [{ sizeOver: 1 }], action: { folder: 'A' } },
          { name: 'x', all: [{ sizeOver: 2 }], action: { folder: 'B' } },
        ]),
      /1\.name: rule names must be unique \("x" is also the name of rule 0\)/,
    );
  });

  it('a bad regex or network is refused by the schema, naming the field', () => {
    assert.throws(
      () =>
        parsePolicyRules([
          { name: 'bad-re', all: [{ subject: { regex: ['(unclosed'] } }], action: { folder: 'X' } },
        ]),
      (e: unknown) =>
        e instanceof PolicyRuleError && /0\.all\.0\.subject\.regex\.0: not a valid/.test(e.message),
    );
    for (const network of ['300.1.1.1/8', '10.0.0.0/33', '1', 'example.com']) {
      assert.throws(
        () =>
          parsePolicyRules([
            { name: 'bad-net', all: [{ sourceNetwork: [network] }], action: { folder: 'X' } },
          ]),
        /sourceNetwork\.0: expected an IPv4 or IPv6/,
        network,
      );
    }
  });

  it('a misspelt field is refused, naming it (never dropped: a dropped field widens the rule)', () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ name: 'x', alll: [{ sizeOver: 1 }], action: { reject: 'no' } }, /0: Unrecognized key: "alll"/],
      [
        { name: 'x', all: [{ subjekt: { contains: ['a'] } }], action: { reject: 'no' } },
        /0\.all\.0: Unrecognized key: "subjekt"/,
      ],
      [
        { name: 'x', all: [{ attachment: { nmae: { exact: ['a.exe'] } } }], action: { reject: 'no' } },
        /0\.all\.0\.attachment: Unrecognized key: "nmae"/,
      ],
      [
        { name: 'x', all: [{ subject: { contain: ['a'] } }], action: { reject: 'no' } },
        /0\.all\.0\.subject: Unrecognized key: "contain"/,
      ],
      [
        { name: 'x', all: [{ sizeOver: 1 }], action: { reject: 'no', folderr: 'X' } },
        /0\.action: Unrecognized key: "folderr"/,
      ],
      [
        { name: 'x', all: [{ sizeOver: 1 }], action: { rejekt: 'no' } },
        /0\.action: Unrecognized key: "rejekt"/,
      ],
      [
        { name: 'x', all: [{ sizeOver: 1 }], action: { addHeader: [{ name: 'X-A', valu: '1' }] } },
        /0\.action\.addHeader\.0: Unrecognized key: "valu"/,
      ],
    ];
    for (const [rule, message] of cases) {
      assert.throws(
        () => parsePolicyRules([rule]),
        (e: unknown) => e instanceof PolicyRuleError && message.test(e.message),
        JSON.stringify(rule),
      );
    }
  });

  it('a pathological regex stays linear', () => {
    const text = `${'a'.repeat(20_000)}!`;
    const m = makeMessage({ text });
    const started = performance.now();
    assert.ok(!matches([{ body: { regex: ['^(a+)+$'] } }], m));
    assert.ok(performance.now() - started < 2_000);
  });
});

describe('PolicySet and default rules', () => {
  const set = (rules: Record<string, PolicyRuleInput[]>, blockEncryptedArchives = true, enabled = true) =>
    new PolicySet({
      global: parsePolicyRules(rules.global ?? []),
      defaults: { enabled, blockEncryptedArchives },
      domainRules: (d) => (rules[d] ? parsePolicyRules(rules[d]) : undefined),
    });
  const verdict = (s: PolicySet, m: Buffer, domains = ['example.com']) =>
    evaluatePolicy(s.rulesFor(domains), messageFacts(m), ctx).terminal;

  it('block executables, scripts, macros, double extensions and encrypted archives', () => {
    const s = set({});
    const cases: Array<[string, Buffer]> = [
      ['tool.exe', PE],
      ['photo.jpg', PE],
      ['run.js', Buffer.from('var x = new ActiveXObject("WScript.Shell");')],
      ['run.vbs', Buffer.from('CreateObject("WScript.Shell")')],
      ['a.scr', Buffer.from('x')],
      ['a.bat', Buffer.from('@echo off')],
      ['a.cmd', Buffer.from('@echo off')],
      ['a.com', Buffer.from('x')],
      ['a.pif', Buffer.from('x')],
      ['a.jar', Buffer.from('x')],
      // Code that Windows runs or mounts on a double click: help files, Excel add-ins, app
      // packages, Java Web Start, scriptlets, disk images (whose files escape the web mark).
      ...[
        'chm',
        'xll',
        'msix',
        'appx',
        'msixbundle',
        'appxbundle',
        'jnlp',
        'sct',
        'iso',
        'img',
        'vhd',
        'vhdx',
      ].map((ext): [string, Buffer] => [`file.${ext}`, Buffer.alloc(64, 1)]),
      ['report.docx', DOCM],
      ['sheet.xls', OLE_MACRO],
      ['invoice.pdf.exe', PDF],
      ['bundle.zip', makeZip([{ name: 'setup.exe', data: PE, deflate: true }])],
      ['secret.zip', makeZip([{ name: 'a.pdf', data: PDF, encrypted: true }])],
    ];
    for (const [name, data] of cases) {
      const t = verdict(s, makeMessage({ attachments: [{ name, data }] }));
      assert.equal(t?.kind, 'reject', `${name} is refused`);
      assert.match(t?.rule ?? '', /^default-/);
    }
    for (const [name, data] of [
      ['report.docx', DOCX],
      ['report.pdf', PDF],
      ['sheet.xls', OLE_PLAIN],
      ['notes.zip', makeZip([{ name: 'a.txt', data: Buffer.from('hello'), deflate: true }])],
    ] as Array<[string, Buffer]>) {
      assert.equal(verdict(s, makeMessage({ attachments: [{ name, data }] })), undefined, `${name} passes`);
    }
  });

  it('names with trailing dots and spaces (which Windows drops) are judged by the extension they run as', () => {
    const s = set({});
    const script = Buffer.from('WScript.Echo("hi");');
    for (const name of ['run.js.', 'run.js. . ', 'run.vbs..', 'invoice.pdf.js.', 'tool.scr .']) {
      const t = verdict(s, makeMessage({ attachments: [{ name, data: script }] }));
      assert.equal(t?.kind, 'reject', `${JSON.stringify(name)} is refused`);
    }
    assert.equal(
      verdict(s, makeMessage({ attachments: [{ name: 'invoice.pdf.exe.', data: PDF }] }))?.rule,
      'default-executables',
    );
    const facts = messageFacts(makeMessage({ attachments: [{ name: 'invoice.pdf.js. ', data: script }] }));
    assert.deepEqual(
      facts.attachments.map((a) => [a.extension, a.doubleExtension]),
      [['js', true]],
    );
  });

  it('archives inside archives are listed too (a zip in a zip, a 7z-free nesting of three levels)', () => {
    const s = set({});
    const inner = makeZip([{ name: 'setup.exe', data: PE, deflate: true }]);
    const middle = makeZip([{ name: 'inner.zip', data: inner, deflate: true }]);
    const outer = makeZip([{ name: 'middle.zip', data: middle }]);
    for (const [name, data] of [
      ['two.zip', middle],
      ['three.zip', outer],
    ] as Array<[string, Buffer]>) {
      const t = verdict(s, makeMessage({ attachments: [{ name, data }] }));
      assert.equal(t?.rule, 'default-executables', `${name}: the executable inside is found`);
    }
    // Encrypted by its local header while the central directory says not: an extractor asks for
    // the password all the same.
    const disguised = makeZip([{ name: 'a.pdf', data: PDF, encryptedLocally: true }]);
    assert.equal(
      verdict(s, makeMessage({ attachments: [{ name: 'plain.zip', data: disguised }] }))?.rule,
      'default-encrypted-archives',
    );
    const lockedInside = makeZip([
      { name: 'locked.zip', data: makeZip([{ name: 'a.pdf', data: PDF, encrypted: true }]) },
    ]);
    assert.equal(
      verdict(s, makeMessage({ attachments: [{ name: 'outer.zip', data: lockedInside }] }))?.rule,
      'default-encrypted-archives',
    );
    const facts = messageFacts(makeMessage({ attachments: [{ name: 'three.zip', data: outer }] }));
    assert.deepEqual(
      facts.attachments.map((a) => [a.name, a.archive ?? '', a.kind]),
      [
        ['three.zip', '', 'zip'],
        ['middle.zip', 'three.zip', 'zip'],
        ['inner.zip', 'middle.zip', 'zip'],
        ['setup.exe', 'inner.zip', 'executable'],
      ],
    );
    assert.ok(facts.attachments.slice(1).every((a) => a.inArchive));
  });

  it('zip64 archives are listed; a zip whose directory is cut short is unlisted', () => {
    const s = set({});
    const zip64 = makeZip(
      [
        { name: 'readme.txt', data: Buffer.from('hello'), deflate: true },
        { name: 'setup.exe', data: PE, deflate: true },
      ],
      { zip64: true },
    );
    assert.deepEqual(
      sniffKind(zip64, 'big.zip').members?.map((m) => [m.name, m.size, m.content?.length]),
      [
        ['readme.txt', 5, 5],
        ['setup.exe', PE.length, PE.length],
      ],
    );
    assert.equal(
      verdict(s, makeMessage({ attachments: [{ name: 'big.zip', data: zip64 }] }))?.rule,
      'default-executables',
    );
    // The end record promises two members, the directory holds one before it breaks off.
    const plain = makeZip([
      { name: 'a.txt', data: Buffer.from('a') },
      { name: 'b.txt', data: Buffer.from('b') },
    ]);
    const broken = Buffer.from(plain);
    broken.writeUInt32LE(0, plain.length - 22 - 46 - 'b.txt'.length);
    const sniffed = sniffKind(broken, 'broken.zip');
    assert.deepEqual([sniffed.members?.map((m) => m.name), sniffed.unlisted], [['a.txt'], true]);
    assert.equal(sniffKind(plain, 'fine.zip').unlisted ?? false, false);
  });

  it('a zip of highly compressed members is inflated within one budget (no memory blow-up)', () => {
    // 40 members of 8 MiB of zeros: about 8 KiB each compressed, 320 MiB inflated.
    const zeros = Buffer.alloc(8 * 1024 * 1024);
    const bomb = makeZip(
      Array.from({ length: 40 }, (_, i) => ({ name: `part${i}.bin`, data: zeros, deflate: true })),
    );
    const members = listZip(bomb)?.members;
    assert.equal(members?.length, 40, 'every name is still listed');
    const inflated = (members ?? []).reduce((sum, m) => sum + (m.content?.length ?? 0), 0);
    assert.ok(inflated <= 64 * 1024 * 1024, `inflated ${inflated} bytes`);
  });

  const refusedAsMacro = (s: PolicySet, name: string, data: Buffer) => {
    assert.equal(sniffKind(data, name).kind, 'office-macro', name);
    assert.equal(
      verdict(s, makeMessage({ attachments: [{ name, data }] }))?.rule,
      'default-office-macros',
      name,
    );
  };

  it('OOXML macros under another part name: by the content type, or by the VBA project inside', () => {
    const s = set({});
    const vba = makeCfb([
      { name: 'VBA', type: 'storage' },
      { name: '_VBA_PROJECT', type: 'stream', data: Buffer.from([0xcc, 0x61]) },
    ]);
    const declared = makeZip([
      {
        name: '[Content_Types].xml',
        data: Buffer.from(
          '<Types><Override PartName="/word/settings2.bin" ContentType="application/vnd.ms-office.vbaProject"/></Types>',
        ),
        deflate: true,
      },
      { name: 'word/document.xml', data: Buffer.from('<w:document/>'), deflate: true },
      { name: 'word/settings2.bin', data: Buffer.alloc(64), deflate: true },
    ]);
    const hidden = makeZip([
      { name: '[Content_Types].xml', data: Buffer.from('<Types/>'), deflate: true },
      { name: 'word/document.xml', data: Buffer.from('<w:document/>'), deflate: true },
      { name: 'word/media/image9.bin', data: vba, deflate: true },
    ]);
    for (const [name, data] of [
      ['declared.docx', declared],
      ['hidden.docx', hidden],
    ] as Array<[string, Buffer]>)
      refusedAsMacro(s, name, data);
    assert.equal(sniffKind(DOCX, 'plain.docx').kind, 'office');
  });

  it('OLE compound files (legacy .doc, .xls): macros by the VBA storages of the directory, not by text', () => {
    const s = set({});
    const wordText = (text: string) =>
      Buffer.concat([Buffer.from('\xec\xa5', 'latin1'), Buffer.from(text, 'utf16le')]);
    const docWithMacros = makeCfb([
      { name: 'WordDocument', type: 'stream', data: wordText('Quarterly figures') },
      { name: 'Macros', type: 'storage' },
      { name: 'VBA', type: 'storage' },
      { name: '_VBA_PROJECT', type: 'stream', data: Buffer.from([0xcc, 0x61, 0xff, 0xff]) },
      { name: 'dir', type: 'stream', data: Buffer.from([1, 2, 3]) },
    ]);
    const xlsWithMacros = makeCfb([
      { name: 'Workbook', type: 'stream', data: Buffer.from([9, 8, 7]) },
      { name: '_VBA_PROJECT_CUR', type: 'storage' },
      { name: 'VBA', type: 'storage' },
    ]);
    const docAboutMacros = makeCfb([
      { name: 'WordDocument', type: 'stream', data: wordText('How to write Macros and a _VBA_PROJECT') },
      { name: '1Table', type: 'stream', data: Buffer.from([0]) },
    ]);
    for (const [name, data] of [
      ['report.doc', docWithMacros],
      ['figures.xls', xlsWithMacros],
      ['renamed.pdf', docWithMacros],
    ] as Array<[string, Buffer]>)
      refusedAsMacro(s, name, data);
    assert.equal(sniffKind(docAboutMacros, 'guide.doc').kind, 'office');
    assert.equal(
      verdict(s, makeMessage({ attachments: [{ name: 'guide.doc', data: docAboutMacros }] })),
      undefined,
    );
    // A directory that cannot be read (here a damaged sector size): the names are looked for anywhere.
    const damaged = Buffer.from(docWithMacros);
    damaged.writeUInt16LE(7, 0x1e);
    assert.equal(sniffKind(damaged, 'damaged.doc').kind, 'office-macro');
    // A header that points the directory elsewhere (a sloppy writer): no root entry there, so the
    // directory is taken as unreadable and the names are looked for anywhere.
    const misdirected = Buffer.from(docWithMacros);
    misdirected.writeUInt32LE(3, 0x30); // the first sector of WordDocument
    assert.equal(sniffKind(misdirected, 'misdirected.doc').kind, 'office-macro');
  });

  it('password-protected Office documents are refused like password-protected archives (and can be allowed)', () => {
    // OOXML encrypted with a password (MS-OFFCRYPTO): an OLE file with EncryptionInfo and EncryptedPackage.
    const encryptedDocx = makeCfb([
      { name: 'EncryptionInfo', type: 'stream', data: Buffer.from([4, 0, 4, 0, 0x40, 0, 0, 0]) },
      { name: 'EncryptedPackage', type: 'stream', data: Buffer.alloc(64, 0x5a) },
    ]);
    // Word 97-2003: the FIB's fEncrypted flag (0x0100 of the flags at 0x0A).
    const fib = (flags: number) => {
      const b = Buffer.alloc(64);
      b.writeUInt16LE(0xa5ec, 0);
      b.writeUInt16LE(flags, 0x0a);
      return b;
    };
    const doc = (flags: number) =>
      makeCfb([
        { name: 'WordDocument', type: 'stream', data: fib(flags) },
        { name: '1Table', type: 'stream', data: Buffer.from([0]) },
      ]);
    // Excel 97-2003: a FILEPASS record (0x002F) after the workbook globals' BOF.
    const record = (type: number, data: Buffer) => {
      const head = Buffer.alloc(4);
      head.writeUInt16LE(type, 0);
      head.writeUInt16LE(data.length, 2);
      return Buffer.concat([head, data]);
    };
    const bof = record(0x0809, Buffer.from([0, 6, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
    const xls = (locked: boolean) =>
      makeCfb([
        {
          name: 'Workbook',
          type: 'stream',
          data: Buffer.concat([
            bof,
            ...(locked ? [record(0x002f, Buffer.from([1, 0, 1, 0, 1, 0]))] : []),
            record(0x00e1, Buffer.alloc(2)),
          ]),
        },
      ]);
    for (const [name, data] of [
      ['contract.docx', encryptedDocx],
      ['renamed.pdf', encryptedDocx],
      ['letter.doc', doc(0x0100)],
      ['figures.xls', xls(true)],
    ] as Array<[string, Buffer]>) {
      assert.equal(sniffKind(data, name).encrypted, true, name);
      const m = makeMessage({ attachments: [{ name, data }] });
      assert.equal(verdict(set({}), m)?.rule, 'default-encrypted-archives', name);
      assert.equal(verdict(set({}, false), m), undefined, `${name} allowed when encrypted archives are`);
    }
    // In a zip too.
    const zipped = makeMessage({
      attachments: [{ name: 'docs.zip', data: makeZip([{ name: 'c.docx', data: encryptedDocx }]) }],
    });
    assert.equal(verdict(set({}), zipped)?.rule, 'default-encrypted-archives');
    for (const [name, data] of [
      ['letter.doc', doc(0x0000)],
      ['figures.xls', xls(false)],
    ] as Array<[string, Buffer]>) {
      assert.equal(sniffKind(data, name).encrypted ?? false, false, name);
      assert.equal(verdict(set({}), makeMessage({ attachments: [{ name, data }] })), undefined, name);
    }
  });

  it('a part whose names disagree (filename, filename*, Content-Type name) is judged by every name', () => {
    const s = set({});
    const withPart = (contentType: string, disposition: string) =>
      Buffer.from(
        'From: alice@example.org\r\nTo: bob@example.com\r\nSubject: names\r\nMIME-Version: 1.0\r\n' +
          'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n' +
          `--b\r\nContent-Type: ${contentType}\r\nContent-Disposition: ${disposition}\r\n` +
          `Content-Transfer-Encoding: base64\r\n\r\n${PDF.toString('base64')}\r\n--b--\r\n`,
        'latin1',
      );
    for (const [contentType, disposition] of [
      ['application/pdf', `attachment; filename="a.pdf"; filename*=UTF-8''a.exe`],
      ['application/pdf', `attachment; filename*=UTF-8''a.pdf; filename="a.exe"`],
      ['application/pdf', `attachment; filename*0="a."; filename*1="pdf"; filename="a.js"`],
      ['application/pdf; name="invoice.exe"', 'attachment; filename="invoice.pdf"'],
      [`application/pdf; name*=UTF-8''invoice.scr`, 'attachment; filename="invoice.pdf"'],
      ['application/pdf', 'attachment; filename="a.pdf"; filename="a.exe"'],
    ] as Array<[string, string]>) {
      const m = withPart(contentType, disposition);
      assert.equal(verdict(s, m)?.rule, 'default-executables', `${contentType} / ${disposition}`);
    }
    const agreeing = withPart(
      'application/pdf; name="a.pdf"',
      `attachment; filename="a.pdf"; filename*=UTF-8''a.pdf`,
    );
    assert.equal(verdict(s, agreeing), undefined);
    assert.deepEqual(
      messageFacts(agreeing).attachments.map((a) => a.name),
      ['a.pdf'],
    );
    const both = messageFacts(
      withPart('application/pdf', `attachment; filename="a.pdf"; filename*=UTF-8''b.exe`),
    );
    assert.deepEqual(both.attachments.map((a) => [a.name, a.kind, a.part]).sort(), [
      ['a.pdf', 'pdf', 2],
      ['b.exe', 'pdf', 2],
    ]);
  });

  it('uuencoded files in a text body (which mail clients show as attachments) are attachments too', () => {
    const plain = (body: string) =>
      Buffer.from(
        `From: a@example.org\r\nTo: bob@example.com\r\nSubject: t\r\n\r\nHello,\r\n\r\n${body}\r\n`,
      );
    const s = set({});
    const facts = messageFacts(plain(uuencode('readme.txt', PE)));
    assert.deepEqual(
      facts.attachments.map((a) => [a.name, a.kind, a.size]),
      [['readme.txt', 'executable', PE.length]],
    );
    assert.equal(verdict(s, plain(uuencode('readme.txt', PE)))?.rule, 'default-executables');
    assert.equal(
      verdict(s, plain(uuencode('run.vbs', Buffer.from('CreateObject("WScript.Shell")'))))?.rule,
      'default-executables',
    );
    const zipped = makeZip([{ name: 'setup.exe', data: PE, deflate: true }]);
    assert.equal(
      verdict(s, makeMessage({ text: `See below.\r\n${uuencode('files.zip', zipped)}` }))?.rule,
      'default-executables',
    );
    // Hidden from a look at the raw body by the transfer encoding of the text part.
    const encodedText = (cte: string, body: string) =>
      Buffer.from(
        'From: a@example.org\r\nTo: bob@example.com\r\nSubject: t\r\nMIME-Version: 1.0\r\n' +
          `Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: ${cte}\r\n\r\n${body}\r\n`,
      );
    const uu = uuencode('readme.txt', PE);
    assert.equal(
      verdict(s, encodedText('quoted-printable', uu.replaceAll('=', '=3D').replaceAll('begin', 'beg=69n')))
        ?.rule,
      'default-executables',
    );
    assert.equal(
      verdict(s, encodedText('base64', Buffer.from(uu).toString('base64')))?.rule,
      'default-executables',
    );
    // Text that only looks like the start of one is text.
    assert.equal(messageFacts(plain('begin 644 is how uuencode starts a file')).attachments.length, 0);
    assert.equal(verdict(s, plain(uuencode('notes.txt', Buffer.from('just some words\n')))), undefined);
    // Many beginnings and long blocks cost one read of each line.
    const noisy = plain(
      `${'begin 644 a.txt\r\n'.repeat(20_000)}${'M'.repeat(61).concat('\r\n').repeat(20_000)}`,
    );
    const started = performance.now();
    messageFacts(noisy).attachments;
    assert.ok(performance.now() - started < 2_000);
  });

  it('a forwarded message sent base64 or quoted-printable is decoded and its attachments judged', () => {
    const inner = makeMessage({ attachments: [{ name: 'invoice.pdf', data: PE }] });
    const forwarded = (cte: string, body: string) =>
      Buffer.from(
        'From: a@example.org\r\nTo: bob@example.com\r\nSubject: fwd\r\nMIME-Version: 1.0\r\n' +
          'Content-Type: multipart/mixed; boundary="fw"\r\n\r\n--fw\r\nContent-Type: text/plain\r\n\r\nSee below.\r\n' +
          `--fw\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: ${cte}\r\n\r\n${body}\r\n--fw--\r\n`,
      );
    const s = set({});
    const base64 = forwarded('base64', inner.toString('base64').replace(/.{76}(?=.)/g, '$&\r\n'));
    assert.equal(verdict(s, base64)?.rule, 'default-executables');
    const facts = messageFacts(base64);
    assert.deepEqual(
      facts.attachments.map((a) => [a.name, a.kind]),
      [['invoice.pdf', 'executable']],
    );
    const qp = forwarded('quoted-printable', inner.toString('latin1').replaceAll('=', '=3D'));
    assert.equal(verdict(s, qp)?.rule, 'default-executables');
  });

  it('a top-level part that is not text and has no name is an attachment too', () => {
    const raw = Buffer.from(
      'From: a@example.org\r\nTo: bob@example.com\r\nSubject: t\r\nMIME-Version: 1.0\r\n' +
        'Content-Type: application/x-msdownload\r\nContent-Transfer-Encoding: base64\r\n\r\n' +
        `${PE.toString('base64')}\r\n`,
    );
    assert.equal(verdict(set({}), raw)?.rule, 'default-executables');
  });

  it('encrypted archives can be allowed; defaults can be turned off; a domain rule can make an exception', () => {
    const secret = makeMessage({
      attachments: [{ name: 'secret.zip', data: makeZip([{ name: 'a.pdf', data: PDF, encrypted: true }]) }],
    });
    assert.equal(verdict(set({}, false), secret), undefined);
    const exe = makeMessage({ attachments: [{ name: 'tool.exe', data: PE }] });
    assert.equal(verdict(set({}, true, false), exe), undefined);
    const s = set({
      'example.com': [
        {
          name: 'partner-tools',
          all: [{ envelopeFrom: { domain: ['example.org'] } }],
          action: { accept: true },
        },
      ],
    });
    assert.equal(verdict(s, exe)?.kind, 'accept');
    assert.equal(verdict(s, exe, ['other.example'])?.kind, 'reject', "another domain's rules do not apply");
  });

  it('compiles a domain once and again after forget', () => {
    let reads = 0;
    const rules = parsePolicyRules([{ name: 'a', all: [{ sizeOver: 1 }], action: { folder: 'X' } }]);
    let current = rules;
    const s = new PolicySet({
      global: [],
      defaults: { enabled: false, blockEncryptedArchives: false },
      domainRules: () => {
        reads++;
        return current;
      },
    });
    const first = s.rulesFor(['example.com'])[0];
    assert.equal(s.rulesFor(['example.com'])[0], first, 'same compiled rule');
    current = parsePolicyRules([{ name: 'b', all: [{ sizeOver: 1 }], action: { folder: 'Y' } }]);
    assert.equal(s.rulesFor(['example.com'])[0]?.name, 'b', 'a new record is compiled');
    assert.ok(reads >= 3);
  });
});

describe('judgeMessage', () => {
  const set = new PolicySet({
    global: parsePolicyRules([
      {
        name: 'strip-exe',
        all: [{ attachment: { kind: ['executable'] } }],
        action: { stripAttachments: {}, addHeader: [{ name: 'X-Stripped', value: 'yes' }] },
      },
    ]),
    defaults: { enabled: false, blockEncryptedArchives: false },
    domainRules: () => undefined,
  });
  const message = makeMessage({ attachments: [{ name: 'tool.exe', data: PE }] });
  async function* chunks(data: Buffer, size: number) {
    for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
  }

  it('reads the message in chunks, adds the header fields and strips', async () => {
    const judged = await judgeMessage(set, chunks(message, 7), [], ctx, {
      maxBytes: 1 << 20,
      budgetMs: 1_000,
    });
    assert.equal(judged.headers, 'X-Stripped: yes\r\nX-Hermod-Policy: strip-exe\r\n');
    assert.ok(judged.stripped);
    assert.deepEqual(messageFacts(judged.stripped).attachments, []);
  });

  it('does not strip a message it read only the beginning of', async () => {
    const judged = await judgeMessage(set, chunks(message, 7), [], ctx, {
      maxBytes: message.length - 10,
      budgetMs: 1_000,
    });
    assert.equal(judged.stripped, undefined);
    assert.match(judged.headers, /^X-Hermod-Policy-Strip: skipped/m);
  });

  it('judges the size of the whole message, also when it reads only its beginning', async () => {
    const big = new PolicySet({
      global: parsePolicyRules([
        { name: 'too-big', all: [{ sizeOver: 3_000 }], action: { reject: 'too big' } },
      ]),
      defaults: { enabled: false, blockEncryptedArchives: false },
      domainRules: () => undefined,
    });
    const large = makeMessage({ text: 'x'.repeat(5_000) });
    const judged = await judgeMessage(big, chunks(large, 512), [], ctx, { maxBytes: 1_000, budgetMs: 1_000 });
    assert.equal(judged.decision.terminal?.rule, 'too-big');
  });
});

describe('judgeMessage without rules', () => {
  it('does not read the message when no rule applies to its direction', async () => {
    const set = new PolicySet({
      global: parsePolicyRules([
        { name: 'out', direction: 'outbound', all: [{ sizeOver: 0 }], action: { reject: 'x' } },
      ]),
      defaults: { enabled: false, blockEncryptedArchives: false },
      domainRules: () => undefined,
    });
    let read = false;
    async function* source() {
      read = true;
      yield Buffer.from('Subject: x\r\n\r\nbody\r\n');
    }
    const judged = await judgeMessage(set, source(), [], ctx, { maxBytes: 1 << 20, budgetMs: 1_000 });
    assert.equal(read, false);
    assert.deepEqual(judged.decision.matched, []);
    assert.equal(judged.headers, '');
    const outbound = await judgeMessage(
      set,
      source(),
      [],
      { ...ctx, direction: 'outbound' },
      { maxBytes: 1 << 20, budgetMs: 1_000 },
    );
    assert.equal(read, true);
    assert.equal(outbound.decision.terminal?.kind, 'reject');
  });
});
