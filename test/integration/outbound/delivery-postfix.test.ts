// outbound-mta delivering to Debian's Postfix as the remote MX, found through MX records on a real
// DNS server on loopback: the bytes arrive intact (CRLF on the wire - Postfix refuses bare LF here -
// dot-stuffing, 8-bit), the DKIM signature verifies with mailauth and with opendkim-testmsg, and of
// two MX hosts where the first refuses connections the second gets the message.
import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readBody } from '@hermod/mail-store';
import { type PostfixPeer, requireTool, run, startPostfixPeer, testWorkdir } from '@hermod/test/harness';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import {
  crlf,
  LOCAL_DOMAIN,
  type OutboundTestbed,
  startOutboundTestbed,
  waitFor,
} from './outbound-fixture.js';

let bed: OutboundTestbed;
let postfix: PostfixPeer;
const sender = `alice@${LOCAL_DOMAIN}`;

/** The message as Postfix stored it, without the three fields Postfix's delivery agent prepends. */
function withoutDeliveryFields(stored: Buffer): string {
  return stored
    .toString('latin1')
    .replace(/^Return-Path: .*\n/, '')
    .replace(/^X-Original-To: .*\n/, '')
    .replace(/^Delivered-To: .*\n/, '')
    .replace(/^Received: [^\n]*\n(?:[ \t][^\n]*\n)*/, '');
}

before(async () => {
  await requireTool('postfix', 'apt-get install postfix');
  await requireTool('opendkim-testmsg', 'apt-get install opendkim-tools');
  await requireTool('unshare', 'apt-get install util-linux');
  // Port 53 on a spare loopback address: opendkim-testmsg only knows resolv.conf resolvers.
  const dnsHost = `127.53.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
  bed = await startOutboundTestbed({ dns: { host: dnsHost, port: 53 } });
  const access = join(await testWorkdir('postfix-access'), 'recipients.regexp');
  await writeFile(
    access,
    '/^nouser@/ 550 5.1.1 no such user here\n/^later@/ 450 4.2.0 mailbox busy, try later\n',
  );
  postfix = await startPostfixPeer({
    domains: ['example.net', 'two-mx.test'],
    port: bed.smtpPort,
    hostname: 'mx1.example.net',
    // Strict: a bare LF anywhere in the session is refused (521) instead of being tolerated.
    settings: {
      smtpd_forbid_bare_newline: 'yes',
      smtpd_forbid_bare_newline_exclusions: '',
      // Per-recipient answers inside one transaction: nouser@ refused, later@ deferred.
      smtpd_recipient_restrictions: `check_recipient_access regexp:${access}, permit_mynetworks, reject_unauth_destination`,
    },
  });
  bed.dns.add(
    { type: 'MX', name: 'example.net', exchange: 'mx1.example.net', preference: 10 },
    { type: 'A', name: 'mx1.example.net', address: '127.0.0.1' },
    // Two MX hosts; nothing listens on 127.0.0.2, so the preferred one refuses connections.
    { type: 'MX', name: 'two-mx.test', exchange: 'dead.two-mx.test', preference: 10 },
    { type: 'A', name: 'dead.two-mx.test', address: '127.0.0.2' },
    { type: 'MX', name: 'two-mx.test', exchange: 'live.two-mx.test', preference: 20 },
    { type: 'A', name: 'live.two-mx.test', address: '127.0.0.1' },
  );
  await bed.enableDkim(LOCAL_DOMAIN, 'sel2026');
});

after(async () => {
  await postfix?.stop();
  await bed?.stop();
});

describe('outbound delivery to Postfix', () => {
  test('bytes arrive intact: CRLF on the wire, dot-stuffing undone by the remote, 8-bit kept', async () => {
    const body = [
      'plain line',
      '.leading dot',
      '..two leading dots',
      '.',
      'a line after a lone dot',
      'bare LF follows\nthen this line',
      'bare CR follows\rthen this one',
      'utf-8: \u00e9\u00e8 \u00fc\u00df \u2713',
      `long: ${'x'.repeat(900)}`,
      '',
      'trailing blank line above',
    ];
    const message = crlf(
      `From: Alice <${sender}>`,
      'To: Bob <bob@example.net>',
      'Subject: wire check',
      'Date: Mon, 30 Nov 2026 05:00:00 +0000',
      `Message-ID: <wire-1@${LOCAL_DOMAIN}>`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      ...body,
    );
    const spoolId = await bed.submit(sender, ['bob@example.net', 'carol@example.net'], message);
    const rows = await bed.settled(spoolId, 'delivered');
    for (const r of rows) {
      assert.match(r.destination?.outcome?.host ?? '', /^mx1\.example\.net\[127\.0\.0\.1\]:\d+$/);
      assert.match(r.destination?.outcome?.reply ?? '', /^250 /);
    }
    const [stored] = await postfix.waitForMessages('bob@example.net', 1);
    await postfix.waitForMessages('carol@example.net', 1);
    const text = withoutDeliveryFields(stored!);
    // Maildir keeps LF; a bare CR that had reached Postfix would still be there.
    assert.ok(!text.includes('\r'), JSON.stringify(text.slice(0, 2000)));
    const expectedBody = Buffer.from(body.join('\n').replace(/\r/g, '\n'), 'utf8').toString('latin1');
    assert.ok(text.endsWith(`\n\n${expectedBody}\n`), JSON.stringify(text.slice(-1200)));
    assert.match(text, /^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/relaxed; d=hermod\.test;/);
    assert.ok(text.includes('\nFrom: Alice <alice@hermod.test>\n'));
    // The transaction carried both recipients: Postfix logged one message with nrcpt=2.
    assert.match(await postfix.log(), /from=<alice@hermod\.test>, size=\d+, nrcpt=2/);
    assert.doesNotMatch(await postfix.log(), /bare <LF>|bare newline/i);
  });

  test('the DKIM signature verifies with mailauth and with opendkim-testmsg (key from the test DNS)', async () => {
    const message = crlf(
      `From: Alice <${sender}>`,
      'To: dave@example.net',
      'Cc: erin@example.net',
      'Subject:   folded   and\tspaced',
      '  subject continued',
      'Date: Mon, 30 Nov 2026 05:01:00 +0000',
      `Message-ID: <dkim-1@${LOCAL_DOMAIN}>`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=us-ascii',
      '',
      'Hello Dave,   trailing spaces   ',
      '',
      '.dot line',
      '',
      '',
    );
    const spoolId = await bed.submit(sender, ['dave@example.net'], message);
    await bed.settled(spoolId, 'delivered');
    const [stored] = await postfix.waitForMessages('dave@example.net', 1);
    const received = Buffer.from(stored!.toString('latin1').replace(/\n/g, '\r\n'), 'latin1');

    const resolver = new Resolver();
    resolver.setServers([bed.dns.address]);
    const verdict = await dkimVerify(received, {
      resolver: (name, rrtype) => resolver.resolve(name, rrtype as 'TXT'),
    });
    const result = verdict.results[0];
    assert.equal(result?.status.result, 'pass', JSON.stringify(result?.status));
    assert.equal(result?.signingDomain, LOCAL_DOMAIN);
    assert.equal(result?.selector, 'sel2026');
    // From and Subject oversigned; the usual set signed.
    const h = (/\bh=([^;]+);/.exec(received.toString('latin1').replace(/\r\n[ \t]+/g, ''))?.[1] ?? '')
      .toLowerCase()
      .split(':');
    assert.equal(h.filter((n) => n === 'from').length, 2, h.join(':'));
    assert.equal(h.filter((n) => n === 'subject').length, 2, h.join(':'));
    for (const name of ['to', 'cc', 'date', 'message-id', 'mime-version', 'content-type'])
      assert.ok(h.includes(name), name);

    // opendkim-testmsg resolves through resolv.conf: a private mount namespace gives it ours.
    const dir = await testWorkdir('opendkim');
    await writeFile(join(dir, 'resolv.conf'), `nameserver ${bed.dns.host}\noptions attempts:1 timeout:2\n`);
    await writeFile(join(dir, 'message'), stored!);
    const checked = await run('unshare', [
      '--mount',
      'sh',
      '-c',
      `mount --bind ${dir}/resolv.conf /etc/resolv.conf && exec opendkim-testmsg < ${dir}/message`,
    ]);
    assert.equal(checked.code, 0, `opendkim-testmsg: ${checked.stdout}${checked.stderr}`);
    assert.equal(checked.stdout + checked.stderr, '');
    // It really checks: one changed body byte fails.
    await writeFile(join(dir, 'tampered'), stored!.toString('latin1').replace('Hello Dave', 'Hello Eve!'));
    const tampered = await run('unshare', [
      '--mount',
      'sh',
      '-c',
      `mount --bind ${dir}/resolv.conf /etc/resolv.conf && exec opendkim-testmsg < ${dir}/tampered`,
    ]);
    assert.notEqual(tampered.code, 0, 'opendkim-testmsg accepted a tampered body');
  });

  test('two MX hosts: the preferred one refuses connections, the second gets the message', async () => {
    const spoolId = await bed.submit(
      sender,
      ['frank@two-mx.test'],
      crlf(`From: ${sender}`, 'To: frank@two-mx.test', 'Subject: second MX', '', 'via the backup MX'),
    );
    const [row] = await bed.settled(spoolId, 'delivered');
    assert.match(row!.destination?.outcome?.host ?? '', /^live\.two-mx\.test\[127\.0\.0\.1\]:/);
    const [stored] = await postfix.waitForMessages('frank@two-mx.test', 1);
    assert.match(stored!.toString('utf8'), /\n\nvia the backup MX\n$/);
    // Both MX names were resolved from the test DNS, the dead one first.
    const lookups = bed.dns.queries
      .filter((q) => q.name.endsWith('two-mx.test'))
      .map((q) => `${q.type} ${q.name}`);
    assert.ok(lookups.includes('MX two-mx.test'), lookups.join(', '));
    assert.ok(lookups.includes('A dead.two-mx.test'), lookups.join(', '));
  });

  test('one transaction, per-recipient outcomes: accepted, refused (one DSN for it alone), deferred', async () => {
    const spoolId = await bed.submit(
      sender,
      ['rita@example.net', 'nouser@example.net', 'later@example.net'],
      crlf(`From: ${sender}`, 'To: rita@example.net', 'Subject: mixed', '', 'three recipients'),
    );
    const rows = await waitFor('the first attempt recorded for every recipient', async () => {
      const r = await bed.recipients(spoolId);
      const [q] = await bed.queue(spoolId);
      return r.filter((x) => x.state !== 'outbound').length === 2 && q && q.attempts >= 1 ? r : undefined;
    });
    const by = new Map(rows.map((r) => [r.address, r]));
    assert.equal(by.get('rita@example.net')?.state, 'delivered');
    assert.equal(by.get('nouser@example.net')?.state, 'failed');
    assert.match(by.get('nouser@example.net')?.error ?? '', /^550 5\.1\.1 /);
    assert.equal(by.get('later@example.net')?.state, 'outbound');
    const [queued] = await bed.queue(spoolId);
    assert.equal(queued!.state, 'deferred');
    assert.match(queued!.last_reply ?? '', /^450 4\.2\.0 /);
    await postfix.waitForMessages('rita@example.net', 1);
    assert.deepEqual(await postfix.messages('nouser@example.net'), []);
    // One transaction carried all three.
    assert.match(
      await postfix.log(),
      /NOQUEUE: reject: RCPT from localhost\[127\.0\.0\.1\]: 550 5\.1\.1 <nouser@example\.net>/,
    );
    // One failure notice, naming only the refused recipient.
    const { rows: notices } = await bed.hermod.db.pool.query<{
      body_id: number;
      envelope: { dsnFor: string };
    }>(`SELECT body_id, envelope FROM spool_messages WHERE envelope->>'dsnFor' LIKE $1`, [`${spoolId}:%`]);
    assert.equal(notices.length, 1);
    assert.match(notices[0]!.envelope.dsnFor, /:failed:1$/);
    const parts: Buffer[] = [];
    for await (const b of readBody(bed.hermod.db.pool, notices[0]!.body_id)) parts.push(b);
    const dsn = Buffer.concat(parts).toString('utf8');
    assert.match(
      dsn,
      /\r\nFinal-Recipient: rfc822; nouser@example\.net\r\nAction: failed\r\nStatus: 5\.1\.1\r\n/,
    );
    assert.doesNotMatch(dsn, /Final-Recipient: rfc822; (rita|later)@/);
  });
});
