// Postfix from Debian as a real sending MTA: it relays to our MX over STARTTLS, and the message
// lands in the mailbox with our Received and Authentication-Results (SPF checked against the test
// DNS server); Postfix's own queue shows the handoff as delivered, and an unknown recipient comes
// back to Postfix as a 5xx at RCPT (a bounce by the sender, not backscatter from us).
import assert from 'node:assert/strict';
import { chown, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AccountStore } from '@hermod/accounts';
import { freePort, waitForPort } from '@hermod/local-infra';
import {
  DnsTestServer,
  type HermodPlatform,
  requireTool,
  run,
  startHermod,
  testWorkdir,
} from '../harness/index.js';
import { waitForMessages } from '../integration/mx/mx-fixture.js';

let hermod: HermodPlatform;
let dns: DnsTestServer;
let postfixDir: string;
let postfixPort: number;
let postfixLog = '';

/** A private Postfix that accepts from loopback and relays everything to our MX. */
async function startRelayingPostfix(mxPort: number): Promise<void> {
  postfixDir = await testWorkdir('postfix-relay');
  postfixPort = await freePort();
  await mkdir(join(postfixDir, 'queue'), { recursive: true });
  await mkdir(join(postfixDir, 'data'), { recursive: true });
  const passwd = await readFile('/etc/passwd', 'utf8');
  const user = passwd.split('\n').find((l) => l.startsWith('postfix:'));
  if (!user) throw new Error("Postfix is not installed (no 'postfix' user): apt-get install postfix");
  const [, , uid, gid] = user.split(':');
  await chown(join(postfixDir, 'data'), Number(uid), Number(gid));
  await writeFile(
    join(postfixDir, 'main.cf'),
    [
      'compatibility_level = 3.6',
      `queue_directory = ${postfixDir}/queue`,
      `data_directory = ${postfixDir}/data`,
      'inet_interfaces = 127.0.0.1',
      'inet_protocols = ipv4',
      'myhostname = postfix.sender.test',
      'mydestination =',
      'mynetworks = 127.0.0.0/8',
      'smtpd_relay_restrictions = permit_mynetworks reject',
      `relayhost = [127.0.0.1]:${mxPort}`,
      'smtp_tls_security_level = encrypt',
      'smtp_tls_loglevel = 1',
      `maillog_file = ${postfixDir}/maillog`,
      // Postfix only logs to files under these prefixes (default /var, /dev/stdout).
      `maillog_file_prefixes = ${postfixDir}`,
      'smtpd_tls_security_level = none',
      'bounce_queue_lifetime = 0',
      '',
    ].join('\n'),
  );
  const master = await readFile('/etc/postfix/master.cf', 'utf8');
  await writeFile(
    join(postfixDir, 'master.cf'),
    master.replace(/^smtp(\s+)inet/m, `127.0.0.1:${postfixPort}$1inet`),
  );
  const started = await run('postfix', ['-c', postfixDir, 'start']);
  if (started.code !== 0) {
    const log = await readFile(join(postfixDir, 'maillog'), 'utf8').catch(() => '');
    throw new Error(`postfix did not start (${started.code}): ${started.stderr}${log}`);
  }
  await waitForPort(postfixPort, 30_000, '127.0.0.1');
}

async function submitToPostfix(to: string, subject: string) {
  const result = await run('swaks', [
    '--server',
    '127.0.0.1',
    '--port',
    String(postfixPort),
    '--helo',
    'workstation.sender.test',
    '--from',
    'writer@sender.test',
    '--to',
    to,
    '--header',
    `Subject: ${subject}`,
    '--body',
    `Body of ${subject}.`,
  ]);
  assert.equal(result.code, 0, result.stdout + result.stderr);
}

async function waitForLog(pattern: RegExp, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    postfixLog = await readFile(join(postfixDir, 'maillog'), 'utf8').catch(() => '');
    const match = pattern.exec(postfixLog);
    if (match) return match[0];
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`postfix log never matched ${pattern}:\n${postfixLog.slice(-3000)}`);
}

before(async () => {
  await requireTool('postfix', 'apt-get install postfix');
  await requireTool('swaks', 'apt-get install swaks');
  dns = new DnsTestServer();
  await dns.start();
  dns.set([
    { type: 'TXT', name: 'sender.test', text: 'v=spf1 ip4:127.0.0.1 -all' },
    { type: 'TXT', name: '_dmarc.sender.test', text: 'v=DMARC1; p=reject' },
  ]);
  hermod = await startHermod({
    services: ['routing', 'mda', 'mx'],
    env: { mx: { MX_DNS_SERVERS: dns.address } },
  });
  await hermod.addDomain('example.test');
  await new AccountStore(hermod.db.pool).create({
    address: 'alice@example.test',
    password: 'alice-password-1',
  });
  await startRelayingPostfix(hermod.ports.mx);
});

after(async () => {
  if (postfixDir) await run('postfix', ['-c', postfixDir, 'stop']).catch(() => undefined);
  await hermod?.stop();
  await dns?.stop();
});

describe('Postfix sends to the MX', () => {
  test('relayed over STARTTLS, stored with Received and Authentication-Results (spf=pass, dmarc=pass)', async () => {
    await submitToPostfix('alice@example.test', 'from postfix');
    const [stored] = await waitForMessages(hermod.db.pool, 'alice@example.test', 1, 'INBOX', 30_000);
    assert.ok(stored);
    assert.match(stored.text, /^Authentication-Results: mx\.hermod\.test;/m);
    assert.match(stored.text, /spf=pass[^;]*smtp\.mailfrom=writer@sender\.test/);
    assert.match(stored.text, /dmarc=pass/);
    assert.match(
      stored.text,
      /^Received: from postfix\.sender\.test \(\[127\.0\.0\.1\]\)\r\n\tby mx\.hermod\.test \(Hermod\) with ESMTPS/m,
    );
    assert.match(stored.text, /Subject: from postfix/);
    await waitForLog(/status=sent \(250 2\.0\.0 Ok: queued as [0-9a-f-]{36}\)/);
    assert.match(postfixLog, /TLS connection established to 127\.0\.0\.1/);
  });

  test('an unknown recipient is refused at RCPT, so the bounce comes from Postfix, not from us', async () => {
    await submitToPostfix('nobody@example.test', 'to nobody');
    await waitForLog(
      /to=<nobody@example\.test>.*status=bounced \(host 127\.0\.0\.1\[127\.0\.0\.1\] said: 550 5\.1\.1/,
    );
  });
});
