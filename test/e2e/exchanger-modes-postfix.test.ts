// The exchanger modes end to end, with Debian's Postfix as the other mail exchanger (the remote MX
// or the primary) and every MX record served by the test DNS server: real routing, mda, msa, mx and
// outbound-mta over one nats-server and PostgreSQL.
// - backup: accepted and held while the primary refuses connections, relayed once it accepts; with
//   the primary up, a user it does not know is refused at RCPT (callout); a domain with a short
//   maxHoldSeconds gives up when its hold time is over.
// - remote: a local domain switched to remote in the live config (KV hermod-domains, no restart)
//   relays to the domain's MX (Postfix), also mail from our own users.
// - auto: follows the MX records: local, remote (our users' mail to Postfix), backup (inbound mail
//   relayed to Postfix), with the effective mode and reason in hermod-domain-status.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { credentials, Metadata } from '@grpc/grpc-js';
import { AccountStore } from '@hermod/accounts';
import {
  type DomainStatusValue,
  openDomainBucket,
  openDomainStatusBucket,
  parseDomainConfig,
  readDomainStatus,
  writeDomainConfig,
} from '@hermod/domain-config';
import { freePort } from '@hermod/local-infra';
import { routingV1 } from '@hermod/proto';
import {
  DnsTestServer,
  eventually,
  type HermodPlatform,
  type PostfixPeer,
  requireTool,
  startHermod,
  startPostfixPeer,
  testWorkdir,
} from '../harness/index.js';
import { waitForMessages } from '../integration/mx/mx-fixture.js';
import { expectCode, SmtpWire, submitMessage } from '../integration/mx/smtp-wire.js';

const PEER_DOMAINS = ['switch.test', 'backup.test', 'shorthold.test', 'auto.test'];

let hermod: HermodPlatform;
let dns: DnsTestServer;
let peer: PostfixPeer | undefined;
/** Every Postfix instance started so far (each restart has its own directories). */
const peers: PostfixPeer[] = [];
let peerPort: number;
let peerUsers: string;

/** Postfix as the other exchanger: accepts for PEER_DOMAINS into one Maildir, on a fixed loopback port. */
async function startPeer(): Promise<void> {
  peer = await startPostfixPeer({
    domains: PEER_DOMAINS,
    port: peerPort,
    hostname: 'mx.remote.test',
    // Only these users exist at the other exchanger: anyone else gets 550 5.1.1 there.
    settings: { virtual_mailbox_maps: `texthash:${peerUsers}` },
  });
  peers.push(peer);
}

async function stopPeer(): Promise<void> {
  await peer?.stop();
  peer = undefined;
  // Until the port refuses connections (the master process exits asynchronously).
  await eventually('the Postfix port to close', async () => ((await portOpen(peerPort)) ? undefined : true));
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Waits until Postfix delivered a message with this subject to `address`; returns its text. */
async function waitForPeerMessage(address: string, subject: string, timeoutMs = 30_000): Promise<string> {
  return eventually(
    `Postfix to receive '${subject}' for ${address}`,
    async () => {
      for (const p of peers)
        for (const m of await p.messages(address)) {
          const text = m.toString('latin1');
          if (text.includes(`Subject: ${subject}\n`)) return text;
        }
      return undefined;
    },
    timeoutMs,
  );
}

/** A message from outside, through our MX; returns the reply to DATA (or the RCPT refusal). */
async function sendToMx(to: string, subject: string): Promise<string> {
  const wire = await SmtpWire.open(hermod.ports.mx);
  try {
    expectCode(await wire.reply(), 220);
    expectCode(await wire.command('EHLO client.remote.example'), 250);
    expectCode(await wire.command('MAIL FROM:<sender@remote.example>'), 250);
    const rcpt = await wire.command(`RCPT TO:<${to}>`);
    if (!rcpt.startsWith('250')) return rcpt;
    expectCode(await wire.command('DATA'), 354);
    wire.write(
      `From: sender@remote.example\r\nTo: ${to}\r\nSubject: ${subject}\r\n\r\nBody of ${subject}.\r\n.\r\n`,
    );
    const reply = await wire.reply();
    await wire.command('QUIT');
    return reply;
  } finally {
    wire.close();
  }
}

/** A message from one of our users, through submission (STARTTLS, AUTH PLAIN). */
async function submit(to: string, subject: string): Promise<void> {
  const reply = await submitMessage(hermod.ports.submission, {
    user: 'writer@home.test',
    password: 'writer-password-1',
    to,
    subject,
  });
  if (!reply.startsWith('250'))
    throw new Error(`submission refused: ${reply}\n${hermod.services.get('msa')?.logs() ?? ''}`);
}

/** Routing's own answer (gRPC ExplainRoute), to know when it has seen a live change. */
async function explain(address: string): Promise<routingV1.ExplainRouteResponse> {
  const client = new routingV1.RoutingServiceClient(
    `127.0.0.1:${hermod.ports.routingGrpc}`,
    credentials.createInsecure(),
  );
  try {
    return await new Promise((resolve, reject) =>
      client.explainRoute(
        { address },
        new Metadata(),
        { deadline: new Date(Date.now() + 5_000) },
        (error, response) => (error ? reject(error) : resolve(response)),
      ),
    );
  } finally {
    client.close();
  }
}

interface SpoolRecipient {
  state: string;
  last_error: string | null;
  destination: { kind?: string; excludeHosts?: string[]; outcome?: { host?: string; reply?: string } };
}

/** The latest spool recipient row for an address whose message has this subject. */
async function spoolRecipient(address: string): Promise<SpoolRecipient | undefined> {
  const { rows } = await hermod.db.pool.query<SpoolRecipient>(
    `SELECT r.state, r.last_error, r.destination FROM spool_recipients r JOIN spool_messages m ON m.id = r.spool_id
     WHERE r.address = $1 ORDER BY m.received_at DESC LIMIT 1`,
    [address],
  );
  return rows[0];
}

async function queueRow(address: string) {
  const { rows } = await hermod.db.pool.query<{ attempts: number; last_reply: string | null; state: string }>(
    'SELECT attempts, last_reply, state FROM outbound_queue WHERE recipient = $1',
    [address],
  );
  return rows[0];
}

async function setDomain(settings: Record<string, unknown>): Promise<void> {
  const kv = await openDomainBucket(hermod.nc.jetstream());
  await writeDomainConfig(kv, parseDomainConfig(settings));
}

async function waitForStatus(domain: string, effective: string): Promise<DomainStatusValue> {
  const kv = await openDomainStatusBucket(hermod.nc.jetstream());
  return eventually(`${domain} to be effective ${effective}`, async () => {
    const status = await readDomainStatus(kv, domain);
    return status?.effectiveExchanger === effective ? status : undefined;
  });
}

before(async () => {
  await requireTool('postfix', 'apt-get install postfix');
  peerPort = await freePort();
  peerUsers = join(await testWorkdir('exchanger-peer-users'), 'virtual-mailboxes');
  await writeFile(
    peerUsers,
    ['anyone@backup.test', 'info@shorthold.test', 'sam@switch.test', 'dora@auto.test']
      .map((a) => `${a} box/\n`)
      .join(''),
  );
  dns = new DnsTestServer();
  await dns.start();
  dns.set([...dnsBase(), { type: 'MX', name: 'auto.test', exchange: 'mx.hermod.test', preference: 10 }]);
  hermod = await startHermod({
    services: ['routing', 'mda', 'outbound-mta', 'msa', 'mx'],
    env: {
      routing: {
        ROUTING_MX_NAMES: 'mx.hermod.test',
        ROUTING_DNS_SERVERS: dns.address,
        ROUTING_AUTO_INTERVAL_MS: '300',
        ROUTING_CALLOUT_PORT: String(peerPort),
      },
      mx: { MX_DNS_SERVERS: dns.address, MX_AUTH_CHECKS: 'false', MX_RECIPIENT_CACHE_MS: '0' },
      msa: { MSA_RECIPIENT_CACHE_MS: '0' },
      'outbound-mta': {
        OUTBOUND_DNS_SERVERS: dns.address,
        OUTBOUND_SMTP_PORT: String(peerPort),
        // The default back-off for remote mail; backup-held mail retries every second.
        OUTBOUND_BACKUP_RETRY_INTERVAL: '1s',
        OUTBOUND_POLL_INTERVAL: '200ms',
        OUTBOUND_CONNECT_TIMEOUT: '3s',
      },
    },
  });
  await hermod.addDomain('home.test');
  await hermod.addDomain('switch.test');
  await hermod.addDomain('backup.test', { exchanger: 'backup', backup: { maxHoldSeconds: 600 } });
  await hermod.addDomain('shorthold.test', {
    exchanger: 'backup',
    backup: { maxHoldSeconds: 3, recipients: ['info'] },
  });
  await hermod.addDomain('auto.test', { exchanger: 'auto' });
  const accounts = new AccountStore(hermod.db.pool);
  await accounts.create({ address: 'writer@home.test', password: 'writer-password-1' });
  await accounts.create({ address: 'sam@switch.test', password: 'sam-password-123' });
  await accounts.create({ address: 'dora@auto.test', password: 'dora-password-1' });
});

after(async () => {
  await peer?.stop().catch(() => undefined);
  await hermod?.stop();
  await dns?.stop();
});

describe('backup: hold while the primary refuses connections', () => {
  test('accepted and held while Postfix is down, relayed to the primary once it accepts', async () => {
    assert.equal(await portOpen(peerPort), false, 'the primary is down at first');
    assert.match(await sendToMx('anyone@backup.test', 'held for the primary'), /^250 /);
    // Tried and deferred (connection refused), more than once: held, not bounced.
    const held = await eventually('two refused attempts', async () => {
      const row = await queueRow('anyone@backup.test');
      return row && row.attempts >= 2 ? row : undefined;
    });
    assert.equal(held.state, 'deferred');
    assert.match(held.last_reply ?? '', /ECONNREFUSED|refused/i);
    const before = await spoolRecipient('anyone@backup.test');
    assert.equal(before?.state, 'outbound');
    assert.equal(before?.destination.kind, 'backup');
    assert.deepEqual(before?.destination.excludeHosts, ['mx.hermod.test']);

    await startPeer();
    const relayed = await waitForPeerMessage('anyone@backup.test', 'held for the primary');
    assert.match(relayed, /^Received: from [^\n]*\n\tby mx\.hermod\.test \(Hermod\)/m);
    const after = await eventually('the recipient to be delivered', async () => {
      const r = await spoolRecipient('anyone@backup.test');
      return r?.state === 'delivered' ? r : undefined;
    });
    assert.match(after.destination.outcome?.host ?? '', /^mx\.primary\.test\[127\.0\.0\.1\]/);
    assert.equal(await queueRow('anyone@backup.test'), undefined);
  });

  test('with the primary up, a recipient it does not know is refused at RCPT (callout), not held', async () => {
    assert.match(await sendToMx('stranger@backup.test', 'to a stranger'), /^550 5\.1\.1 .*primary/);
    assert.equal(await spoolRecipient('stranger@backup.test'), undefined);
    assert.match(await sendToMx('anyone@backup.test', 'known to the primary'), /^250 /);
    await waitForPeerMessage('anyone@backup.test', 'known to the primary');
  });

  test('the hold time is bounded: past maxHoldSeconds the held message fails', async () => {
    await stopPeer();
    assert.match(await sendToMx('nobody@shorthold.test', 'not listed'), /^550 5\.1\.1 /);
    assert.match(await sendToMx('info@shorthold.test', 'short hold'), /^250 /);
    const failed = await eventually(
      'the short hold to run out',
      async () => {
        const r = await spoolRecipient('info@shorthold.test');
        return r?.state === 'failed' ? r : undefined;
      },
      20_000,
    );
    assert.match(failed.last_error ?? '', /gave up after \d+ attempts/);
    assert.equal(await queueRow('info@shorthold.test'), undefined);
    await startPeer();
  });
});

describe('remote: a live switch from local', () => {
  test('a local domain switched to remote in hermod-domains relays to its MX (Postfix), no restart', async () => {
    await submit('sam@switch.test', 'while local');
    const [local] = await waitForMessages(hermod.db.pool, 'sam@switch.test', 1);
    assert.match(local?.text ?? '', /Subject: while local/);

    await setDomain({ domain: 'switch.test', exchanger: 'remote' });
    await eventually('routing to see switch.test as remote', async () =>
      (await explain('sam@switch.test')).rule === 'remote-domain' ? true : undefined,
    );
    // Refused inbound (we are not its MX any more) ...
    assert.match(await sendToMx('sam@switch.test', 'inbound after the switch'), /^550 5\.7\.1 /);
    // ... and our own users' mail goes to the domain's MX from DNS: Postfix.
    await submit('sam@switch.test', 'after the switch');
    const relayed = await waitForPeerMessage('sam@switch.test', 'after the switch');
    assert.match(
      relayed,
      /^Received: from laptop\.client\.test[^\n]*\n\tby mail\.hermod\.test \(Hermod\) with ESMTPSA/m,
    );
    const delivered = await eventually('the recipient to be delivered', async () => {
      const r = await spoolRecipient('sam@switch.test');
      return r?.state === 'delivered' ? r : undefined;
    });
    assert.equal(delivered.destination.kind, 'remote');
    assert.match(delivered.destination.outcome?.host ?? '', /^mx\.remote\.test\[127\.0\.0\.1\]/);
    // Nothing more in the local mailbox.
    assert.equal((await waitForMessages(hermod.db.pool, 'sam@switch.test', 1)).length, 1);
  });
});

describe('auto: follows the MX records in the test DNS server', () => {
  test('local, then remote, then backup: status published and mail goes where the mode says', async () => {
    const local = await waitForStatus('auto.test', 'local');
    assert.match(local.reason, /lowest-preference MX mx\.hermod\.test \(10\) points at us/);
    assert.match(await sendToMx('dora@auto.test', 'auto local'), /^250 /);
    await waitForMessages(hermod.db.pool, 'dora@auto.test', 1);

    dns.set([...dnsBase(), { type: 'MX', name: 'auto.test', exchange: 'mx.remote.test', preference: 10 }]);
    const remote = await waitForStatus('auto.test', 'remote');
    assert.match(remote.reason, /no MX points at us \(lowest: mx\.remote\.test \(10\)\)/);
    assert.match(await sendToMx('dora@auto.test', 'auto remote inbound'), /^550 5\.7\.1 /);
    await submit('dora@auto.test', 'auto remote');
    await waitForPeerMessage('dora@auto.test', 'auto remote');

    dns.set([
      ...dnsBase(),
      { type: 'MX', name: 'auto.test', exchange: 'mx.remote.test', preference: 10 },
      { type: 'MX', name: 'auto.test', exchange: 'mx.hermod.test', preference: 20 },
    ]);
    const backup = await waitForStatus('auto.test', 'backup');
    assert.match(backup.reason, /MX mx\.hermod\.test \(20\) points at us behind mx\.remote\.test \(10\)/);
    assert.match(await sendToMx('dora@auto.test', 'auto backup'), /^250 /);
    const relayed = await waitForPeerMessage('dora@auto.test', 'auto backup');
    assert.match(relayed, /\tby mx\.hermod\.test \(Hermod\)/);
    const row = await spoolRecipient('dora@auto.test');
    assert.equal(row?.destination.kind, 'backup');
    // The local mailbox only ever got the message from the local phase.
    assert.equal((await waitForMessages(hermod.db.pool, 'dora@auto.test', 1)).length, 1);
  });
});

/** The records every test relies on, besides auto.test's MX. */
function dnsBase() {
  return [
    { type: 'A' as const, name: 'mx.primary.test', address: '127.0.0.1' },
    { type: 'A' as const, name: 'mx.remote.test', address: '127.0.0.1' },
    // Our own MX name resolves where nothing listens on the peer's port: relaying to it would fail.
    { type: 'A' as const, name: 'mx.hermod.test', address: '127.0.0.2' },
    { type: 'MX' as const, name: 'switch.test', exchange: 'mx.remote.test', preference: 10 },
    { type: 'MX' as const, name: 'backup.test', exchange: 'mx.primary.test', preference: 10 },
    { type: 'MX' as const, name: 'backup.test', exchange: 'mx.hermod.test', preference: 20 },
    { type: 'MX' as const, name: 'shorthold.test', exchange: 'mx.primary.test', preference: 10 },
    { type: 'MX' as const, name: 'shorthold.test', exchange: 'mx.hermod.test', preference: 20 },
  ];
}
