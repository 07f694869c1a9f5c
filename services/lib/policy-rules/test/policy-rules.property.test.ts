import assert from 'node:assert/strict';
import { it } from 'node:test';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import {
  compileRule,
  evaluatePolicy,
  messageFacts,
  type PolicyContext,
  PolicySet,
  parsePolicyRules,
  stripAttachments,
} from '../src/index.js';
import { DOCM, makeCfb, makeZip, OLE_MACRO, PDF, PE } from './fixtures.js';

/** Rules touching every condition kind, so every code path sees the random input. */
const everyCondition = parsePolicyRules([
  {
    name: 'addr',
    any: [
      { envelopeFrom: { glob: ['*@*.example'] } },
      { headerFrom: { regex: ['^(a|b)+@'] } },
      { headerTo: { domain: ['x.example'] } },
      { headerCc: { exact: ['c@d.example'] } },
      { replyTo: { contains: ['evil'] } },
      { envelopeTo: { glob: ['*'] } },
    ],
    action: { addHeader: [{ name: 'X-A', value: '1' }] },
  },
  {
    name: 'text',
    any: [{ subject: { regex: ['(x+x+)+y'] } }, { body: { regex: ['([a-z]+)*[0-9]$', 'wire.*money'] } }],
    action: { bcc: ['audit@example.com'] },
  },
  {
    name: 'files',
    any: [{ attachment: { name: { glob: ['*.*.*'] } } }, { attachment: { kind: ['archive', 'office'] } }],
    action: { stripAttachments: {} },
  },
  {
    name: 'misc',
    any: [
      { sizeOver: 10 },
      { spf: ['fail'] },
      { spamScoreAtLeast: 3 },
      { sourceNetwork: ['10.0.0.0/8', '2001:db8::/32'] },
    ],
    action: { folder: 'Misc' },
  },
]);

const chunk = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.constantFrom(
    '\r\n',
    '\n',
    '\r\n\r\n',
    '--b\r\n',
    '--b--\r\n',
    'Content-Type: multipart/mixed; boundary=b\r\n',
    'Content-Transfer-Encoding: base64\r\n',
    "Content-Disposition: attachment; filename*=utf-8''a%E4.exe\r\n",
    '=?utf-8?b?w6k=?=',
    '=?x?q?=ZZ?=',
    'From: <a@b>\r\n',
    'To: ;;,<\r\n',
    ':',
    'Content-Type: message/rfc822\r\n',
    'Content-Transfer-Encoding: quoted-printable\r\n',
    'begin 644 a.exe\r\n',
    'M35J0``,`````\r\n',
    '`\r\nend\r\n',
  ),
  fc
    .constantFrom(
      PE,
      PDF,
      DOCM,
      OLE_MACRO,
      makeZip([{ name: 'x.exe', data: PE, deflate: true }]),
      makeZip([{ name: 'in.zip', data: makeZip([{ name: 'x.exe', data: PE }]), deflate: true }]),
      gzipSync(PE),
      makeCfb([{ name: 'VBA', type: 'storage' }]),
    )
    .map((b) => b.toString('base64')),
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('latin1')),
);
const message = fc.array(chunk, { maxLength: 60 }).map((parts) => Buffer.from(parts.join(''), 'latin1'));

/** A structured multipart message: random names, types and contents in the right places. */
const multipart = fc
  .record({
    subject: fc.string({ maxLength: 80 }),
    from: fc.string({ maxLength: 60 }),
    parts: fc.array(
      fc.record({
        name: fc.string({ maxLength: 40 }),
        type: fc.constantFrom(
          'application/octet-stream',
          'text/plain',
          'message/rfc822',
          'multipart/alternative',
          'application/zip',
        ),
        encoding: fc.constantFrom('base64', 'quoted-printable', '7bit', '8bit'),
        data: fc.oneof(
          fc.uint8Array({ maxLength: 2_000 }).map((b) => Buffer.from(b)),
          fc.constantFrom(
            PE,
            PDF,
            DOCM,
            OLE_MACRO,
            makeZip([{ name: 'a.js', data: Buffer.from('x'), encrypted: true }]),
          ),
        ),
      }),
      { maxLength: 6 },
    ),
  })
  .map(({ subject, from, parts }) => {
    let out = `From: ${from}\r\nSubject: ${subject}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="zz"\r\n\r\n`;
    for (const p of parts) {
      const body = p.encoding === 'base64' ? p.data.toString('base64') : p.data.toString('latin1');
      out += `--zz\r\nContent-Type: ${p.type}; name="${p.name}"\r\nContent-Transfer-Encoding: ${p.encoding}\r\nContent-Disposition: attachment; filename="${p.name}"\r\n\r\n${body}\r\n`;
    }
    return Buffer.from(`${out}--zz--\r\n`, 'latin1');
  });

const context = fc.record({
  direction: fc.constantFrom('inbound' as const, 'outbound' as const),
  mailFrom: fc.oneof(fc.constant(''), fc.emailAddress(), fc.string({ maxLength: 40 })),
  recipients: fc.array(fc.oneof(fc.emailAddress(), fc.string({ maxLength: 40 })), { maxLength: 5 }),
  clientAddress: fc.oneof(fc.ipV4(), fc.ipV6(), fc.string({ maxLength: 20 })),
  auth: fc.record({ spf: fc.constantFrom('pass', 'fail', 'none'), dmarc: fc.constantFrom('pass', 'fail') }),
  spamScore: fc.double({ min: -50, max: 50, noNaN: true }),
});

const rules = [
  ...everyCondition.map((r) => compileRule(r, 'global')),
  ...new PolicySet({
    global: [],
    defaults: { enabled: true, blockEncryptedArchives: true },
    domainRules: () => undefined,
  }).rulesFor([]),
];

function check(raw: Buffer, ctx: PolicyContext) {
  const started = performance.now();
  const facts = messageFacts(raw);
  const decision = evaluatePolicy(rules, facts, ctx, 5_000);
  assert.equal(decision.trace.length, rules.length);
  if (decision.strip) {
    const out = stripAttachments(facts.root, decision.strip.parts, decision.strip.notice, () => 'n');
    messageFacts(out);
  }
  const elapsed = performance.now() - started;
  assert.ok(elapsed < 1_000, `took ${elapsed} ms`);
}

it('never throws and finishes in bounded time on random bytes', () => {
  fc.assert(
    fc.property(message, context, (raw, ctx) => check(raw, ctx)),
    { numRuns: 300, seed: 20 },
  );
});

it('never throws and finishes in bounded time on random MIME structures', () => {
  fc.assert(
    fc.property(multipart, context, (raw, ctx) => check(raw, ctx)),
    { numRuns: 300, seed: 21 },
  );
});
