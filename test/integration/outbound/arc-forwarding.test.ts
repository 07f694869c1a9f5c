// ARC sealing (RFC 8617) of forwarded mail: an alias of a local domain forwards to an external
// address; routing rewrites the envelope sender with SRS and outbound-mta seals the message with
// the alias domain's DKIM key before relaying it to Postfix. The message as Postfix stored it is
// checked by mailauth as a receiver would: the ARC chain validates with the key published in DNS
// and carries the Authentication-Results our MX had recorded.
import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { after, before, test } from 'node:test';
import { type PostfixPeer, startPostfixPeer } from '@hermod/test/harness';
import { authenticate } from 'mailauth';
import { addMx, crlf, LOCAL_DOMAIN, type OutboundTestbed, startOutboundTestbed } from './outbound-fixture.js';

let bed: OutboundTestbed;
let postfix: PostfixPeer;

before(async () => {
  bed = await startOutboundTestbed({ env: { routing: { ROUTING_SRS_SECRET: 'arc-forwarding-secret' } } });
  postfix = await startPostfixPeer({ domains: ['far.test'], port: bed.smtpPort, hostname: 'mx.far.test' });
  addMx(bed.dns, 'far.test', '127.0.0.1');
  await bed.enableDkim(LOCAL_DOMAIN, 'arc1');
  await bed.hermod.addDomain(LOCAL_DOMAIN, {
    dkim: { selector: 'arc1', keyRef: `${LOCAL_DOMAIN}.arc1` },
    aliases: [{ source: 'team', destinations: ['friend@far.test'] }],
  });
});

after(async () => {
  await postfix?.stop();
  await bed?.stop();
});

test('an alias forwarding to an external address: ARC-sealed by the alias domain, valid at the receiver', async () => {
  const results = `mx.${LOCAL_DOMAIN}; spf=pass smtp.mailfrom=example.org; dkim=none; dmarc=none; arc=none`;
  // The message as our MX stored it: its Authentication-Results first.
  const spoolId = await bed.submit(
    'alice@example.org',
    [`team@${LOCAL_DOMAIN}`],
    crlf(
      `Authentication-Results: ${results}`,
      'From: Alice <alice@example.org>',
      `To: team@${LOCAL_DOMAIN}`,
      'Subject: to the team',
      'Message-ID: <arc-1@example.org>',
      '',
      'body of the forwarded message',
    ),
  );
  const [stored] = await postfix.waitForMessages('friend@far.test', 1);
  const text = stored!.toString('latin1');
  assert.match(text, /^Return-Path: <SRS0=[^>]+@hermod\.test>$/m, 'the envelope sender rewritten with SRS');
  assert.match(text, /^ARC-Seal: i=1; a=rsa-sha256; [^\n]*cv=none; d=hermod\.test; s=arc1/m);
  assert.match(
    text,
    new RegExp(`^ARC-Authentication-Results: i=1; ${results.replace(/[.;=]/g, '\\$&')}`, 'm'),
  );
  const dns = new Resolver();
  dns.setServers([bed.dns.address]);
  const received = await authenticate(stored!, {
    ip: '127.0.0.1',
    helo: 'mx.hermod.test',
    sender: /^Return-Path: <([^>]+)>/m.exec(text)?.[1] ?? '',
    mta: 'mx.far.test',
    disableBimi: true,
    // Keys and policies are TXT records; nothing else is published for these names.
    resolver: async (name, rrtype) => {
      if (rrtype === 'TXT') return dns.resolveTxt(name);
      throw Object.assign(new Error(`no ${rrtype} for ${name}`), { code: 'ENOTFOUND' });
    },
  });
  assert.equal((received.arc || undefined)?.status.result, 'pass', JSON.stringify(received.arc));
  assert.ok(spoolId);
});
