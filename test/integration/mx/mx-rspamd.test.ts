// Spam scoring through Debian's rspamd over its HTTP protocol: GTUBE rejected at end of DATA, the
// add-header test pattern filed to Junk, clean mail delivered with its score, and rspamd down
// answered with 451 (fail-closed) or accepted unscored (fail-open), as configured.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AccountStore } from '@hermod/accounts';
import { DnsTestServer, type HermodPlatform, startHermod } from '@hermod/test/harness';
import { waitForMessages } from './mx-fixture.js';
import { RspamdPeer } from './rspamd-peer.js';
import { expectCode, openTransaction } from './smtp-wire.js';

let hermod: HermodPlatform;
let dns: DnsTestServer;
let rspamd: RspamdPeer;

const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';
const GTUBE_ADD_HEADER = 'YJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';

async function send(subject: string, body: string): Promise<string> {
  const wire = await openTransaction(hermod.ports.mx, 'sender@remote.example', ['alice@example.test']);
  try {
    expectCode(await wire.command('DATA'), 354);
    wire.write(
      `From: sender@remote.example\r\nTo: alice@example.test\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@remote.example>\r\n` +
        `Date: Mon, 23 Nov 2026 01:00:00 +0000\r\n\r\n${body}\r\n.\r\n`,
    );
    return await wire.reply(30_000);
  } finally {
    wire.close();
  }
}

before(async () => {
  dns = new DnsTestServer();
  await dns.start();
  rspamd = new RspamdPeer();
  await rspamd.start(dns.address);
  hermod = await startHermod({
    services: ['routing', 'mda', 'mx'],
    env: {
      mx: {
        MX_DNS_SERVERS: dns.address,
        RSPAMD_URL: rspamd.url,
        RSPAMD_FAIL_MODE: 'tempfail',
        RSPAMD_TIMEOUT_MS: '20000',
      },
    },
  });
  await hermod.addDomain('example.test');
  await new AccountStore(hermod.db.pool).create({
    address: 'alice@example.test',
    password: 'alice-password-1',
  });
});

after(async () => {
  await hermod?.stop();
  await rspamd?.stop();
  await dns?.stop();
});

describe('rspamd', () => {
  test('GTUBE is rejected at end of DATA with 550 5.7.1', async () => {
    assert.match(await send('gtube', GTUBE), /^550 5\.7\.1 .*spam/);
  });

  test('the add-header test pattern is accepted and filed to Junk with the spam headers', async () => {
    assert.match(await send('add header', GTUBE_ADD_HEADER), /^250 /);
    const [junk] = await waitForMessages(hermod.db.pool, 'alice@example.test', 1, 'Junk');
    assert.match(junk?.text ?? '', /^X-Spam-Status: Yes, score=/m);
    assert.match(junk?.text ?? '', /^X-Spam-Action: add header/m);
  });

  test('a clean message lands in the INBOX with its score', async () => {
    assert.match(await send('clean', 'Just a normal note between friends.'), /^250 /);
    const [inbox] = await waitForMessages(hermod.db.pool, 'alice@example.test', 1, 'INBOX');
    assert.match(inbox?.text ?? '', /^X-Spam-Status: No, score=/m);
    // The same value in the spool envelope: delivery's spamtest reads it there, not in the header.
    const status = /^X-Spam-Status: (.*)\r?$/m.exec(inbox?.text ?? '')?.[1];
    const { rows } = await hermod.db.pool.query(
      `SELECT 1 FROM spool_messages WHERE source = 'mx' AND envelope->>'spamStatus' = $1`,
      [status],
    );
    assert.equal(rows.length, 1);
  });

  test('rspamd down: 451 4.7.1 when fail-closed, accepted unscored when fail-open', async () => {
    await rspamd.stop();
    assert.match(await send('while down', 'anything'), /^451 4\.7\.1 /);
    const mx = hermod.services.get('mx');
    assert.ok(mx);
    await mx.stop();
    mx.options.env.RSPAMD_FAIL_MODE = 'open';
    await mx.start(60_000);
    assert.match(await send('fail open', 'anything'), /^250 /);
    const all = await waitForMessages(hermod.db.pool, 'alice@example.test', 2, 'INBOX');
    const open = all.find((m) => m.text.includes('Subject: fail open'));
    assert.match(open?.text ?? '', /^X-Spam-Status: unscored/m);
  });
});
