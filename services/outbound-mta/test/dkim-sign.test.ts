import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { dkimSignature, relaxedBody } from '../src/dkim/dkim-sign.js';

const message = Buffer.from(
  [
    'From: Alice <alice@hermod.test>',
    'To: bob@example.org',
    'Subject:  Hello   there',
    '\tfolded subject line',
    'Date: Mon, 23 Nov 2026 01:00:00 +0000',
    'Message-ID: <m1@hermod.test>',
    'X-Other: not signed',
    '',
    'Hello Bob,  ',
    '',
    'trailing whitespace and blank lines follow \t',
    '',
    '',
  ].join('\r\n'),
  'latin1',
);

function keys(type: 'rsa' | 'ed25519') {
  const pair =
    type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ed25519');
  const spki = pair.publicKey.export({ type: 'spki', format: 'der' });
  const p = type === 'rsa' ? spki.toString('base64') : spki.subarray(spki.length - 32).toString('base64');
  return {
    privateKeyPem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    txt: `v=DKIM1; k=${type}; p=${p}`,
  };
}

async function verify(signed: Buffer, txt: string) {
  return dkimVerify(signed, {
    resolver: async (name, rrtype) => {
      if (rrtype === 'TXT' && name === 'sel1._domainkey.hermod.test') return [[txt]];
      throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
    },
  });
}

describe('dkimSignature', () => {
  for (const type of ['rsa', 'ed25519'] as const) {
    it(`signs relaxed/relaxed with ${type} so that mailauth verifies it`, async () => {
      const k = keys(type);
      const header = dkimSignature(message, {
        domain: 'hermod.test',
        selector: 'sel1',
        algorithm: type === 'rsa' ? 'rsa-sha256' : 'ed25519-sha256',
        privateKeyPem: k.privateKeyPem,
      });
      assert.match(header, /\r\n$/);
      for (const line of header.slice(0, -2).split('\r\n')) assert.ok(line.length <= 78, line);
      const signed = Buffer.concat([Buffer.from(header, 'latin1'), message]);
      const result = await verify(signed, k.txt);
      assert.equal(result.results[0]?.status.result, 'pass', JSON.stringify(result.results[0]?.status));
      // From and Subject are signed once more than they occur (oversigning)
      const h =
        /h=([^;]+);/
          .exec(header.replace(/\r\n\t/g, ' '))?.[1]
          ?.replace(/\s/g, '')
          .split(':') ?? [];
      assert.equal(h.filter((n) => n === 'from').length, 2);
      assert.equal(h.filter((n) => n === 'subject').length, 2);
      for (const name of ['to', 'date', 'message-id']) assert.ok(h.includes(name), name);
      assert.ok(!h.includes('x-other'));
      // A second From added in transit breaks the signature.
      const tampered = Buffer.concat([
        Buffer.from(header, 'latin1'),
        Buffer.from('From: mallory@evil.test\r\n'),
        message,
      ]);
      assert.notEqual((await verify(tampered, k.txt)).results[0]?.status.result, 'pass');
      // A changed body breaks it too.
      const changed = Buffer.from(signed.toString('latin1').replace('Hello Bob', 'Hello Eve'), 'latin1');
      assert.notEqual((await verify(changed, k.txt)).results[0]?.status.result, 'pass');
    });
  }

  it('canonicalizes bodies as RFC 6376 relaxed', () => {
    assert.equal(relaxedBody(' a  b \t\r\n\r\n\r\n'), ' a b\r\n');
    assert.equal(relaxedBody('\r\n\r\n'), '');
    assert.equal(relaxedBody('x'), 'x\r\n');
  });
});
