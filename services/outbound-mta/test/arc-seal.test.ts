import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { authenticate } from 'mailauth';
import { forwardingDomain } from '../src/delivery/deliver-message.js';
import { arcSeal } from '../src/dkim/arc-seal.js';

const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
const key = {
  domain: 'hermod.test',
  selector: 'sel1',
  algorithm: 'rsa-sha256' as const,
  privateKeyPem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
};
const txt = `v=DKIM1; k=rsa; p=${pair.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`;

/** mailauth as the receiver of the forwarded message: ARC validated with our published key. */
const receive = (message: Buffer) =>
  authenticate(message, {
    ip: '192.0.2.1',
    helo: 'mx.hermod.test',
    sender: 'SRS0=abcd=AB=example.org=alice@hermod.test',
    mta: 'mx.receiver.test',
    disableBimi: true,
    resolver: async (name, rrtype) => {
      if (rrtype === 'TXT' && name === 'sel1._domainkey.hermod.test') return [[txt]];
      throw Object.assign(new Error(`no ${rrtype} ${name}`), { code: 'ENOTFOUND' });
    },
  });

const forwarded = Buffer.from(
  [
    'Authentication-Results: mx.hermod.test; spf=pass smtp.mailfrom=example.org; dkim=none; dmarc=none; arc=none',
    'From: Alice <alice@example.org>',
    'To: team@hermod.test',
    'Subject: forwarded',
    'Date: Mon, 23 Nov 2026 01:00:00 +0000',
    'Message-ID: <m1@example.org>',
    '',
    'body',
    '',
  ].join('\r\n'),
);

describe('arcSeal (RFC 8617)', () => {
  it('adds an ARC set (i=1, cv=none) carrying our MX results that a receiver validates', async () => {
    const sealed = await arcSeal(forwarded, key);
    const head = sealed.subarray(0, sealed.indexOf('\r\n\r\n')).toString('latin1');
    assert.match(head, /^ARC-Seal: i=1; a=rsa-sha256; .*cv=none/m);
    assert.match(head, /^ARC-Message-Signature: i=1; /m);
    assert.match(
      head,
      /^ARC-Authentication-Results: i=1; mx\.hermod\.test; spf=pass smtp\.mailfrom=example\.org; dkim=none; dmarc=none; arc=none/m,
    );
    const result = await receive(sealed);
    assert.equal((result.arc || undefined)?.status.result, 'pass');
  });

  it('a second hop: i=2 with cv=pass when our MX found the chain valid', async () => {
    const first = await arcSeal(forwarded, key);
    const received = Buffer.concat([
      Buffer.from('Authentication-Results: mx2.hermod.test; arc=pass; spf=fail\r\n'),
      first,
    ]);
    const sealed = await arcSeal(received, key);
    assert.match(sealed.toString('latin1'), /^ARC-Seal: i=2; .*cv=pass/m);
    const result = await receive(sealed);
    assert.equal((result.arc || undefined)?.status.result, 'pass');
  });

  it('a message whose body changed after sealing fails validation (a test of the test)', async () => {
    const sealed = await arcSeal(forwarded, key);
    const tampered = Buffer.from(
      sealed.toString('latin1').replace(/\r\nbody\r\n$/, '\r\nBODY\r\n'),
      'latin1',
    );
    const result = await receive(tampered);
    assert.equal((result.arc || undefined)?.status.result, 'fail');
  });
});

describe('forwardingDomain', () => {
  it('alias forwarding, Sieve redirect, and nothing else', () => {
    assert.equal(forwardingDomain({ kind: 'forward', forwardedFrom: 'hermod.test' }, {}), 'hermod.test');
    assert.equal(
      forwardingDomain({ kind: 'remote' }, { sieve: 'redirect', forwardedFrom: 'a.test' }),
      'a.test',
    );
    assert.equal(
      forwardingDomain({ kind: 'remote' }, { sieve: 'vacation', forwardedFrom: 'a.test' }),
      undefined,
    );
    assert.equal(forwardingDomain({ kind: 'remote', forwardedFrom: 'a.test' }, {}), undefined);
    assert.equal(forwardingDomain(null, {}), undefined);
  });
});
