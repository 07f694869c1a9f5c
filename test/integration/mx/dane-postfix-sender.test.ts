// Our MX as a DANE-protected destination (RFC 7672): Postfix is the sending MTA with
// smtp_tls_security_level = dane and smtp_dns_support_level = dnssec, resolving through Debian's
// unbound, which validates (and serves) a zone signed with ldns-signzone that publishes Hermod's MX
// and a TLSA 3 1 1 record of the mx's certificate. With the matching record Postfix delivers over a
// verified TLS connection; with a TLSA record of another key it defers the mail.
//
// Postfix has no resolver setting (libc reads /etc/resolv.conf), so it runs in a private mount
// namespace of its own with a resolv.conf naming the unbound, which listens on port 53 of a random
// 127/8 address; the machine's /etc/resolv.conf is untouched (see startPostfixPeer `resolver`).
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { AccountStore } from '@hermod/accounts';
import { ensureSelfSignedCertificate } from '@hermod/local-infra';
import {
  eventually,
  type HermodPlatform,
  inboxMessages,
  type PostfixPeer,
  startHermod,
  startPostfixPeer,
  startValidatingResolver,
  testWorkdir,
  type ValidatingResolver,
} from '@hermod/test/harness';
import { expectCode, openTransaction } from './smtp-wire.js';

let hermod: HermodPlatform;
let resolver: ValidatingResolver;
let postfix: PostfixPeer;

const spkiSha256 = (pem: string) =>
  createHash('sha256')
    .update(new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' }) as Buffer)
    .digest('hex');

// A resolver address of our own on port 53 (resolv.conf names no port); 127/8 needs no setup on Linux.
const resolverHost = `127.53.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;

before(async () => {
  hermod = await startHermod({
    services: ['routing', 'mda', 'mx'],
    env: { mx: { MX_DNS_SERVERS: `${resolverHost}:53` } },
  });
  await hermod.addDomain('hermod.dane.test');
  await new AccountStore(hermod.db.pool).create({ address: 'user@hermod.dane.test', password: 'dane-pass' });
  const mxPort = hermod.ports.mx;
  const ours = spkiSha256(await readFile(hermod.tls.certFile, 'utf8'));
  const other = await ensureSelfSignedCertificate(await testWorkdir('dane-other'), 'other.test', {
    name: 'other',
  });
  const theirs = spkiSha256(await readFile(other.certFile, 'utf8'));
  // Postfix looks the TLSA record up at _<port>._tcp.<mx host>, the port being smtp_tcp_port.
  resolver = await startValidatingResolver(
    [
      {
        name: 'dane.test',
        signed: true,
        records: [
          'hermod IN MX 10 mx.hermod',
          'mx.hermod IN A 127.0.0.1',
          `_${mxPort}._tcp.mx.hermod IN TLSA 3 1 1 ${ours}`,
          'wrong IN MX 10 mx.wrong',
          'mx.wrong IN A 127.0.0.1',
          `_${mxPort}._tcp.mx.wrong IN TLSA 3 1 1 ${theirs}`,
        ],
      },
    ],
    { host: resolverHost, port: 53 },
  );
  postfix = await startPostfixPeer({
    domains: ['postfix.dane.test'],
    hostname: 'sender.dane.test',
    resolver: resolverHost,
    settings: {
      smtp_tls_security_level: 'dane',
      smtp_dns_support_level: 'dnssec',
      smtp_tcp_port: String(mxPort),
      smtp_tls_loglevel: '1',
      // Deferred mail is tried again soon, and nothing waits on it after the test.
      minimal_backoff_time: '300s',
    },
  });
});

after(async () => {
  await postfix?.stop();
  await resolver?.stop();
  await hermod?.stop();
});

async function relayThroughPostfix(to: string, subject: string): Promise<void> {
  const wire = await openTransaction(postfix.port, 'alice@postfix.dane.test', [to]);
  try {
    expectCode(await wire.command('DATA'), 354);
    wire.write(`From: alice@postfix.dane.test\r\nTo: ${to}\r\nSubject: ${subject}\r\n\r\nover DANE\r\n.\r\n`);
    expectCode(await wire.reply(), 250);
    await wire.command('QUIT').catch(() => '');
  } finally {
    wire.close();
  }
}

test('Postfix verifies our MX by its DNSSEC-signed TLSA 3 1 1 record and delivers', async () => {
  await relayThroughPostfix('user@hermod.dane.test', 'dane verified');
  const inbox = await eventually(
    'the message in the INBOX',
    async () => {
      const messages = await inboxMessages(hermod.db.pool, 'user@hermod.dane.test');
      return messages.some((m) => m.includes('Subject: dane verified')) ? messages : undefined;
    },
    60_000,
  );
  assert.equal(inbox.length, 1);
  const log = await postfix.log();
  assert.match(
    log,
    new RegExp(
      `Verified TLS connection established to mx\\.hermod\\.dane\\.test\\[127\\.0\\.0\\.1\\]:${hermod.ports.mx}`,
    ),
  );
  assert.match(log, /to=<user@hermod\.dane\.test>.*status=sent/);
});

test('with a TLSA record of another key, Postfix defers the mail', async () => {
  await relayThroughPostfix('user@wrong.dane.test', 'dane mismatch');
  const line = await eventually(
    'the deferral in the Postfix log',
    async () => /^.*to=<user@wrong\.dane\.test>.*status=deferred.*$/m.exec(await postfix.log())?.[0],
    60_000,
  );
  assert.match(line, /dsn=4\.7\.5, status=deferred \(Server certificate not verified\)/);
  assert.match(
    await postfix.log(),
    /server certificate verification failed for mx\.wrong\.dane\.test\[127\.0\.0\.1\]:\d+: num=65:no matching DANE TLSA records/,
  );
});
