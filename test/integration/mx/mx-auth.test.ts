// The filtering gateway's checks with a real DNS server (UDP on loopback): SPF, DKIM and DMARC
// through mailauth, DMARC p=reject refused at end of DATA and p=quarantine filed to Junk, forged
// Authentication-Results removed, and the PROXY protocol (v1, v2) feeding the real client address to
// SPF, the DNSBL check and the per-IP limits.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { AccountStore } from '@hermod/accounts';
import { DnsTestServer, type HermodPlatform, startHermod } from '@hermod/test/harness';
import { createTransport } from 'nodemailer';
import { waitForMessages } from './mx-fixture.js';
import { expectCode, SmtpWire } from './smtp-wire.js';

let hermod: HermodPlatform;
let dns: DnsTestServer;
let port: number;
let proxyPort: number;

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const dkimPublic = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
const dkimPrivate = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

function proxyV1(ip: string): Buffer {
  return Buffer.from(`PROXY TCP4 ${ip} 127.0.0.1 40000 25\r\n`);
}

function proxyV2(ip: string): Buffer {
  const body = Buffer.from([...ip.split('.').map(Number), 127, 0, 0, 1, 0x9c, 0x40, 0, 25]);
  return Buffer.concat([
    Buffer.from([
      0x0d,
      0x0a,
      0x0d,
      0x0a,
      0x00,
      0x0d,
      0x0a,
      0x51,
      0x55,
      0x49,
      0x54,
      0x0a,
      0x21,
      0x11,
      0,
      body.length,
    ]),
    body,
  ]);
}

/** One whole transaction; returns the reply to the final dot (or the first refusal). */
async function send(options: {
  from: string;
  to: string;
  data: string;
  prefix?: Buffer;
  port?: number;
}): Promise<string> {
  const wire = await SmtpWire.open(options.port ?? port, options.prefix);
  try {
    const greeting = await wire.reply();
    if (!greeting.startsWith('220')) return greeting;
    expectCode(await wire.command('EHLO client.example'), 250);
    const mail = await wire.command(`MAIL FROM:<${options.from}>`);
    if (!mail.startsWith('250')) return mail;
    const rcpt = await wire.command(`RCPT TO:<${options.to}>`);
    if (!rcpt.startsWith('250')) return rcpt;
    expectCode(await wire.command('DATA'), 354);
    wire.write(`${options.data}\r\n.\r\n`);
    return await wire.reply();
  } finally {
    wire.close();
  }
}

const plain = (from: string, subject: string, extra = '') =>
  `From: <${from}>\r\nTo: <alice@example.test>\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@x>\r\n${extra}\r\nbody of ${subject}`;

before(async () => {
  dns = new DnsTestServer();
  await dns.start();
  dns.set([
    { type: 'TXT', name: 'signed.test', text: 'v=spf1 -all' },
    { type: 'TXT', name: 'sel._domainkey.signed.test', text: `v=DKIM1; k=rsa; p=${dkimPublic}` },
    { type: 'TXT', name: '_dmarc.signed.test', text: 'v=DMARC1; p=reject' },
    { type: 'TXT', name: 'reject.test', text: 'v=spf1 ip4:192.0.2.200 -all' },
    { type: 'TXT', name: '_dmarc.reject.test', text: 'v=DMARC1; p=reject' },
    { type: 'TXT', name: 'quarantine.test', text: 'v=spf1 ip4:192.0.2.200 -all' },
    { type: 'TXT', name: '_dmarc.quarantine.test', text: 'v=DMARC1; p=quarantine' },
    { type: 'TXT', name: 'proxied.test', text: 'v=spf1 ip4:203.0.113.5 -all' },
    { type: 'TXT', name: '_dmarc.proxied.test', text: 'v=DMARC1; p=reject' },
    { type: 'A', name: '99.2.0.192.bl.test', address: '127.0.0.2' },
  ]);
  hermod = await startHermod({
    services: ['routing', 'mda', 'mx'],
    env: {
      mx: {
        MX_DNS_SERVERS: dns.address,
        MX_DNSBL_ZONES: 'bl.test',
        MX_PROXY_PORT: '0',
        MX_RATE_LIMIT_PER_MINUTE: '10',
        MX_MAX_CONNECTIONS_PER_IP: '3',
      },
    },
  });
  port = hermod.ports.mx;
  await hermod.addDomain('example.test');
  await new AccountStore(hermod.db.pool).create({
    address: 'alice@example.test',
    password: 'alice-password-1',
  });
});

after(async () => {
  await hermod?.stop();
  await dns?.stop();
});

describe('authentication', () => {
  test('a DKIM-signed message verifies (dkim=pass, dmarc=pass) although SPF fails', async () => {
    const transport = createTransport({ streamTransport: true, buffer: true, newline: 'windows' });
    const info = await transport.sendMail({
      from: 'news@signed.test',
      to: 'alice@example.test',
      subject: 'signed',
      text: 'signed body\n',
      messageId: '<signed@signed.test>',
      dkim: { domainName: 'signed.test', keySelector: 'sel', privateKey: dkimPrivate },
    });
    const raw = (info.message as Buffer).toString('latin1').replace(/\r\n$/, '');
    const reply = await send({
      from: 'bounce@signed.test',
      to: 'alice@example.test',
      data: raw.replace(/^\./gm, '..'),
    });
    assert.match(reply, /^250 /);
    const [stored] = await waitForMessages(hermod.db.pool, 'alice@example.test', 1);
    assert.ok(stored);
    assert.match(stored.text, /dkim=pass header\.i=@signed\.test header\.s=sel/);
    assert.match(stored.text, /spf=fail/);
    assert.match(stored.text, /dmarc=pass/);
  });

  test('DMARC p=reject failure is refused at end of DATA with 550 5.7.1', async () => {
    const reply = await send({
      from: 'ceo@reject.test',
      to: 'alice@example.test',
      data: plain('ceo@reject.test', 'spoofed ceo'),
    });
    assert.match(reply, /^550 5\.7\.1 .*DMARC/);
  });

  test('DMARC p=quarantine failure is delivered to Junk with its results', async () => {
    const reply = await send({
      from: 'promo@quarantine.test',
      to: 'alice@example.test',
      data: plain('promo@quarantine.test', 'quarantined'),
    });
    assert.match(reply, /^250 /);
    const [junk] = await waitForMessages(hermod.db.pool, 'alice@example.test', 1, 'Junk');
    assert.ok(junk);
    assert.match(junk.text, /dmarc=fail/);
    assert.match(junk.text, /Subject: quarantined/);
  });

  test('Authentication-Results forged with our authserv-id are removed; foreign ones are kept', async () => {
    const forged =
      'Authentication-Results: mx.hermod.test; dkim=pass header.d=bank.example; dmarc=pass\r\n' +
      'Authentication-Results: relay.other.example; spf=pass\r\n';
    const reply = await send({
      from: 'someone@unknown-domain.test',
      to: 'alice@example.test',
      data: `${forged}${plain('someone@unknown-domain.test', 'forged results')}`,
    });
    assert.match(reply, /^250 /);
    const all = await waitForMessages(hermod.db.pool, 'alice@example.test', 2);
    const stored = all.find((m) => m.text.includes('Subject: forged results'));
    assert.ok(stored);
    assert.equal(stored.text.match(/^Authentication-Results: mx\.hermod\.test;/gm)?.length, 1);
    assert.doesNotMatch(stored.text, /header\.d=bank\.example/);
    assert.match(stored.text, /^Authentication-Results: relay\.other\.example; spf=pass/m);
  });
});

describe('PROXY protocol', () => {
  before(async () => {
    // A second MX on a PROXY listener: restart mx with MX_PROXY_PORT set.
    const mx = hermod.services.get('mx');
    assert.ok(mx);
    await mx.stop();
    const { freePort } = await import('@hermod/local-infra');
    proxyPort = await freePort();
    mx.options.env.MX_PROXY_PORT = String(proxyPort);
    await mx.start(60_000);
  });

  test('v2: SPF is evaluated for the client address in the header (pass), not the proxy (fail)', async () => {
    const data = plain('app@proxied.test', 'via proxy v2');
    assert.match(
      await send({
        from: 'app@proxied.test',
        to: 'alice@example.test',
        data,
        prefix: proxyV2('203.0.113.5'),
        port: proxyPort,
      }),
      /^250 /,
    );
    const direct = await send({
      from: 'app@proxied.test',
      to: 'alice@example.test',
      data: plain('app@proxied.test', 'direct'),
    });
    assert.match(direct, /^550 5\.7\.1 /);
    const all = await waitForMessages(hermod.db.pool, 'alice@example.test', 3);
    const stored = all.find((m) => m.text.includes('Subject: via proxy v2'));
    assert.ok(stored);
    assert.match(stored.text, /spf=pass[^;]*smtp\.mailfrom=app@proxied\.test/);
    assert.match(stored.text, /\[203\.0\.113\.5\]/);
  });

  test('v1: a client listed in the DNSBL is refused with 554 5.7.1; an unlisted one is served', async () => {
    const listed = await SmtpWire.open(proxyPort, proxyV1('192.0.2.99'));
    assert.match(await listed.reply(), /^554 5\.7\.1 .*bl\.test/);
    listed.close();
    const clean = await SmtpWire.open(proxyPort, proxyV1('192.0.2.98'));
    expectCode(await clean.reply(), 220);
    clean.close();
  });

  test('a connection without a PROXY header on the PROXY listener is dropped', async () => {
    const wire = await SmtpWire.open(proxyPort, Buffer.from('EHLO sneaky.example\r\n'));
    assert.equal(await wire.reply(), '');
  });

  test('per-IP limits apply to the proxied address: connections (421) and message rate (450)', async () => {
    const open: SmtpWire[] = [];
    for (let i = 0; i < 3; i++) {
      const w = await SmtpWire.open(proxyPort, proxyV1('198.51.100.30'));
      expectCode(await w.reply(), 220);
      open.push(w);
    }
    const fourth = await SmtpWire.open(proxyPort, proxyV1('198.51.100.30'));
    assert.match(await fourth.reply(), /^421 4\.7\.0 /);
    fourth.close();
    // Another address is not affected.
    const other = await SmtpWire.open(proxyPort, proxyV1('198.51.100.31'));
    expectCode(await other.reply(), 220);
    expectCode(await other.command('EHLO client.example'), 250);
    for (let i = 0; i < 10; i++) {
      expectCode(await other.command('MAIL FROM:<a@remote.example>'), 250);
      expectCode(await other.command('RSET'), 250);
    }
    assert.match(await other.command('MAIL FROM:<a@remote.example>'), /^450 4\.7\.1 /);
    other.close();
    for (const w of open) w.close();
  });
});
