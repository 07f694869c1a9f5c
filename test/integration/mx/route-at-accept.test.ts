// Routing at accept time, with real routing, mda, mx, nats-server, PostgreSQL and a DNS server:
// a message whose every recipient goes to one local mailbox is written routed with the accept
// (routing's RCPT answer names the mailbox) and goes straight to mda; anything else is routed by
// the routing stage as before. The MX remembers routing's answers (recipient cache on, long TTL
// here) and must forget them as soon as a domain's config or its auto status changes.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AccountStore } from '@hermod/accounts';
import { DnsTestServer, eventually, type HermodPlatform, startHermod } from '@hermod/test/harness';
import { waitForMessages } from './mx-fixture.js';
import { expectCode, openTransaction, rcptReply } from './smtp-wire.js';

let hermod: HermodPlatform;
let dns: DnsTestServer;

/** One transaction to the MX (every RCPT accepted); returns the spool id from the 250 after DATA. */
async function send(recipients: string[], subject: string): Promise<string> {
  const wire = await openTransaction(hermod.ports.mx, 'sender@remote.example', recipients);
  try {
    expectCode(await wire.command('DATA'), 354);
    wire.write(`From: sender@remote.example\r\nSubject: ${subject}\r\n\r\nbody\r\n.\r\n`);
    const reply = await wire.reply();
    const spoolId = /queued as ([0-9a-f-]{36})/.exec(reply)?.[1];
    assert.ok(spoolId, `no spool id in ${reply}`);
    await wire.command('QUIT');
    return spoolId;
  } finally {
    wire.close();
  }
}

const rcptOnly = (address: string) => rcptReply(hermod.ports.mx, address);

async function spoolRow(spoolId: string) {
  const { rows } = await hermod.db.pool.query<{ routed_at: Date | null; received_at: Date }>(
    'SELECT routed_at, received_at FROM spool_messages WHERE id = $1',
    [spoolId],
  );
  const recipients = await hermod.db.pool.query<{
    rcpt_index: number;
    state: string;
    destination: Record<string, unknown> | null;
  }>('SELECT rcpt_index, state, destination FROM spool_recipients WHERE spool_id = $1 ORDER BY rcpt_index', [
    spoolId,
  ]);
  return { ...rows[0]!, recipients: recipients.rows };
}

/** routing's count of routing jobs handled (every outcome). */
async function routingJobs(): Promise<number> {
  const text = await (
    await fetch(`http://127.0.0.1:${hermod.services.get('routing')!.options.opsPort}/metrics`)
  ).text();
  return [...text.matchAll(/^hermod_routing_jobs_total\{[^}]*\} (\d+)/gm)].reduce(
    (n, m) => n + Number(m[1]),
    0,
  );
}

before(async () => {
  dns = new DnsTestServer();
  await dns.start();
  dns.set([{ type: 'MX', name: 'auto.test', exchange: 'mx.hermod.test', preference: 10 }]);
  hermod = await startHermod({
    services: ['routing', 'mda', 'mx'],
    env: {
      routing: {
        ROUTING_MX_NAMES: 'mx.hermod.test',
        ROUTING_DNS_SERVERS: dns.address,
        ROUTING_AUTO_INTERVAL_MS: '300',
      },
      // Answers remembered for ten minutes: only forgetting them on a change can pass the tests below.
      mx: { MX_DNS_SERVERS: dns.address, MX_AUTH_CHECKS: 'false', MX_RECIPIENT_CACHE_MS: '600000' },
    },
  });
  await hermod.addDomain('example.test', {
    aliases: [{ source: 'team', destinations: ['alice@example.test', 'bob@example.test'] }],
  });
  await hermod.addDomain('auto.test', { exchanger: 'auto' });
  const accounts = new AccountStore(hermod.db.pool);
  for (const user of ['alice', 'bob', 'carol'])
    await accounts.create({ address: `${user}@example.test`, password: `${user}-password-1` });
  await accounts.create({ address: 'dora@auto.test', password: 'dora-password-1' });
});

after(async () => {
  await hermod?.stop();
  await dns?.stop();
});

test('every recipient to one local mailbox: written routed with the accept, delivered without a routing job', async () => {
  const jobsBefore = await routingJobs();
  const spoolId = await send(['alice@example.test', 'bob+lists@example.test'], 'routed at accept');
  const accepted = await spoolRow(spoolId);
  // routed in the accept's own statement: the same transaction timestamp
  assert.ok(accepted.routed_at, 'routed_at is set');
  assert.equal(accepted.routed_at.getTime(), accepted.received_at.getTime());
  await waitForMessages(hermod.db.pool, 'alice@example.test', 1);
  const [tagged] = await waitForMessages(hermod.db.pool, 'bob@example.test', 1);
  assert.match(tagged?.text ?? '', /Subject: routed at accept/);
  const done = await eventually('both recipients delivered', async () => {
    const row = await spoolRow(spoolId);
    return row.recipients.every((r) => r.state === 'delivered') ? row : undefined;
  });
  assert.deepEqual(
    done.recipients.map((r) => [r.destination?.kind, r.destination?.mailbox]),
    [
      ['local', 'INBOX'],
      ['local', 'INBOX'],
    ],
  );
  assert.equal(await routingJobs(), jobsBefore, 'routing handled no job for it');
});

test('a message routing must decide (an alias that fans out) goes through the routing stage whole', async () => {
  const jobsBefore = await routingJobs();
  const spoolId = await send(['carol@example.test', 'team@example.test'], 'routed by routing');
  // not routed with the accept (the alias is not one local mailbox): routed later, or not yet
  const accepted = await spoolRow(spoolId);
  assert.notEqual(accepted.routed_at?.getTime(), accepted.received_at.getTime());
  const [carol] = await waitForMessages(hermod.db.pool, 'carol@example.test', 1);
  assert.match(carol?.text ?? '', /Subject: routed by routing/);
  await waitForMessages(hermod.db.pool, 'alice@example.test', 2);
  await waitForMessages(hermod.db.pool, 'bob@example.test', 2);
  const routed = await spoolRow(spoolId);
  assert.ok(routed.routed_at && routed.routed_at.getTime() > routed.received_at.getTime());
  assert.equal(routed.recipients[1]?.destination?.kind, 'expanded');
  assert.ok((await routingJobs()) > jobsBefore, 'routing handled it');
});

test('a domain config change makes the MX forget what routing told it', async () => {
  await send(['carol@example.test'], 'before the alias');
  await waitForMessages(hermod.db.pool, 'carol@example.test', 2);
  // carol@ becomes an alias of alice@ (aliases come before accounts)
  await hermod.addDomain('example.test', {
    aliases: [
      { source: 'team', destinations: ['alice@example.test', 'bob@example.test'] },
      { source: 'carol', destinations: ['alice@example.test'] },
    ],
  });
  // A later write to the same bucket as a marker: routing and the MX apply the bucket's writes in
  // order, so once the MX accepts the marker's recipient (its own domain check and routing's
  // answer), both have applied the alias change, and the MX has forgotten what it remembered.
  await hermod.addDomain('marker.test', {
    aliases: [{ source: 'marker', destinations: ['alice@example.test'] }],
  });
  await eventually('the MX and routing saw the marker domain', async () =>
    (await rcptOnly('marker@marker.test')).startsWith('250') ? true : undefined,
  );
  const spoolId = await send(['carol@example.test'], 'after the alias');
  // still one local mailbox, so routed at accept, by the new rule
  const row = await spoolRow(spoolId);
  assert.equal(row.routed_at?.getTime(), row.received_at.getTime());
  const [, , third] = await waitForMessages(hermod.db.pool, 'alice@example.test', 3);
  assert.match(third?.text ?? '', /Subject: after the alias/);
  assert.equal((await waitForMessages(hermod.db.pool, 'carol@example.test', 2)).length, 2);
});

test("an auto domain's status change makes the MX forget too: a domain gone remote is refused", async () => {
  await eventually('auto.test decided local', async () =>
    (await rcptOnly('dora@auto.test')).startsWith('250') ? true : undefined,
  );
  await send(['dora@auto.test'], 'while local');
  await waitForMessages(hermod.db.pool, 'dora@auto.test', 1);
  dns.set([{ type: 'MX', name: 'auto.test', exchange: 'mx.elsewhere.example', preference: 10 }]);
  const refused = await eventually('dora@auto.test refused', async () => {
    const reply = await rcptOnly('dora@auto.test');
    return reply.startsWith('550') ? reply : undefined;
  });
  assert.match(refused, /^550 5\.7\.1 /);
});
