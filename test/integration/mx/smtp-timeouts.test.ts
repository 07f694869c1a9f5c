// The idle timeout of mx and msa (RFC 5321 4.5.3.2.7 asks for 5 minutes; the defaults are that),
// shortened here: a client that owes a command gets 421 4.4.2 and the connection ends, also in the
// middle of a message.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AccountStore } from '@hermod/accounts';
import { DnsTestServer, type HermodPlatform, startHermod } from '@hermod/test/harness';
import { expectCode, SmtpWire } from './smtp-wire.js';

let hermod: HermodPlatform;
let dns: DnsTestServer;

before(async () => {
  dns = new DnsTestServer();
  await dns.start();
  hermod = await startHermod({
    services: ['routing', 'mda', 'msa', 'mx'],
    env: {
      mx: { MX_DNS_SERVERS: dns.address, MX_SOCKET_TIMEOUT_MS: '1500' },
      msa: { MSA_SOCKET_TIMEOUT_MS: '1500' },
    },
  });
  await hermod.addDomain('example.test');
  await new AccountStore(hermod.db.pool).create({ address: 'alice@example.test', password: 'alice-pw-1' });
});

after(async () => {
  await hermod?.stop();
  await dns?.stop();
});

describe('idle timeout', () => {
  test('mx: silent after EHLO, then silent in the middle of DATA: 421 4.4.2 and closed', async () => {
    const idle = await SmtpWire.open(hermod.ports.mx);
    expectCode(await idle.reply(), 220);
    expectCode(await idle.command('EHLO client.remote.example'), 250);
    assert.match(await idle.reply(10_000), /^421 4\.4\.2 /);
    await idle.whenClosed();

    const data = await SmtpWire.open(hermod.ports.mx);
    expectCode(await data.reply(), 220);
    expectCode(await data.command('EHLO client.remote.example'), 250);
    expectCode(await data.command('MAIL FROM:<a@remote.example>'), 250);
    expectCode(await data.command('RCPT TO:<alice@example.test>'), 250);
    expectCode(await data.command('DATA'), 354);
    data.write('Subject: half a message\r\n\r\nand then nothing');
    assert.match(await data.reply(10_000), /^421 4\.4\.2 /);
    await data.whenClosed();
  });

  test('msa: silent after the greeting: 421 4.4.2 and closed', async () => {
    const idle = await SmtpWire.open(hermod.ports.submission);
    expectCode(await idle.reply(), 220);
    assert.match(await idle.reply(10_000), /^421 4\.4\.2 /);
    await idle.whenClosed();
  });
});
