// The routing engine behind the MX, with real routing, mda, mx, nats-server, PostgreSQL and a DNS
// server: aliases (fan-out, forwarding with SRS, loops), catch-all and sub-addressing configured
// with the `hermod alias` CLI, `hermod route explain`, a live switch to remote mode, and auto mode
// following the test DNS server's MX records (backup hold included).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AccountStore } from '@hermod/accounts';
import { openDomainStatusBucket, readDomainStatus } from '@hermod/domain-config';
import { DnsTestServer, type HermodPlatform, run, startHermod } from '@hermod/test/harness';
import { waitForMessages } from './mx-fixture.js';
import { expectCode, rcptReply, SmtpWire } from './smtp-wire.js';

let hermod: HermodPlatform;
let dns: DnsTestServer;

async function hermodCli(...args: string[]) {
  const result = await run(process.execPath, ['--import', 'tsx', 'services/cli/src/main.ts', ...args], {
    env: {
      ...process.env,
      NATS_URL: hermod.nats.url,
      DATABASE_URL: hermod.db.url,
      ROUTING_GRPC_ADDRESS: `127.0.0.1:${hermod.ports.routingGrpc}`,
    },
    timeoutMs: 30_000,
  });
  assert.equal(result.code, 0, `hermod ${args.join(' ')}: ${result.stdout}${result.stderr}`);
  return result.stdout;
}

/** RCPT replies for a list of recipients in one transaction, then the reply to DATA (if any was accepted). */
async function deliver(recipients: string[], subject: string): Promise<{ rcpt: string[]; data?: string }> {
  const wire = await SmtpWire.open(hermod.ports.mx);
  try {
    expectCode(await wire.reply(), 220);
    expectCode(await wire.command('EHLO client.example'), 250);
    expectCode(await wire.command('MAIL FROM:<sender@remote.example>'), 250);
    const rcpt: string[] = [];
    for (const r of recipients) rcpt.push(await wire.command(`RCPT TO:<${r}>`));
    if (!rcpt.some((r) => r.startsWith('250'))) return { rcpt };
    expectCode(await wire.command('DATA'), 354);
    wire.write(`From: sender@remote.example\r\nSubject: ${subject}\r\n\r\nbody\r\n.\r\n`);
    return { rcpt, data: await wire.reply() };
  } finally {
    wire.close();
  }
}

/** The RCPT reply for one address, without sending a message. */
const rcptOnly = (address: string) => rcptReply(hermod.ports.mx, address);

/** Retries an RCPT until its reply matches (live config and auto decisions take a moment). */
async function eventuallyRcpt(address: string, pattern: RegExp, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reply = await rcptOnly(address).catch(() => '');
    if (pattern.test(reply)) return reply;
    if (Date.now() > deadline) throw new Error(`RCPT ${address}: last reply ${reply}`);
    await new Promise((r) => setTimeout(r, 200));
  }
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
        ROUTING_SRS_SECRET: 'routing-engine-test-secret',
      },
      mx: { MX_DNS_SERVERS: dns.address, MX_AUTH_CHECKS: 'false', MX_RECIPIENT_CACHE_MS: '0' },
    },
  });
  await hermod.addDomain('example.test');
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

describe('aliases, catch-all and sub-addressing', () => {
  test('hermod alias add: one alias fans out to local mailboxes and forwards externally with SRS', async () => {
    await hermodCli(
      'alias',
      'add',
      'team@example.test',
      'alice@example.test',
      'bob@example.test',
      'friend@far.example',
    );
    await eventuallyRcpt('team@example.test', /^250 /);
    const { data } = await deliver(['team@example.test'], 'to the team');
    assert.match(data ?? '', /^250 /);
    for (const user of ['alice', 'bob']) {
      const [m] = await waitForMessages(hermod.db.pool, `${user}@example.test`, 1);
      assert.match(m?.text ?? '', /Subject: to the team/);
    }
    const { rows } = await hermod.db.pool.query<{
      address: string;
      state: string;
      parameters: Record<string, string>;
    }>(`SELECT address, state, parameters FROM spool_recipients WHERE address = 'friend@far.example'`);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.state, 'outbound');
    assert.equal(rows[0]?.parameters.expandedFrom, 'team@example.test');
    assert.match(
      rows[0]?.parameters.mailFrom ?? '',
      /^SRS0=[^=]{4}=[A-Z2-7]{2}=remote\.example=sender@example\.test$/,
    );
  });

  test('an alias loop is refused at RCPT with 554 5.4.6', async () => {
    await hermodCli('alias', 'add', 'loop1@example.test', 'loop2@example.test');
    await hermodCli('alias', 'add', 'loop2@example.test', 'loop1@example.test');
    await eventuallyRcpt('loop1@example.test', /^554 5\.4\.6 /);
  });

  test('sub-addressing delivers user+tag to user; catch-all takes unknown users', async () => {
    const sub = await deliver(['alice+lists@example.test'], 'tagged');
    assert.match(sub.data ?? '', /^250 /);
    const all = await waitForMessages(hermod.db.pool, 'alice@example.test', 2);
    assert.ok(all.some((m) => m.text.includes('Subject: tagged')));
    assert.match(await rcptOnly('whoever@example.test'), /^550 5\.1\.1 /);
    await hermodCli('alias', 'catch-all', 'example.test', 'carol@example.test');
    await eventuallyRcpt('whoever@example.test', /^250 /);
    assert.match((await deliver(['whoever@example.test'], 'caught')).data ?? '', /^250 /);
    const [caught] = await waitForMessages(hermod.db.pool, 'carol@example.test', 1);
    assert.match(caught?.text ?? '', /Subject: caught/);
    const listed = await hermodCli('alias', 'list', 'example.test');
    assert.match(listed, /team@example\.test\s+alice@example\.test, bob@example\.test, friend@far\.example/);
    assert.match(listed, /\*@example\.test\s+carol@example\.test/);
  });

  test('hermod route explain prints the mode, the rule and the destinations', async () => {
    const team = await hermodCli('route', 'explain', 'team@example.test');
    assert.match(team, /mode:\s+local/);
    assert.match(team, /rule:\s+domain-alias/);
    assert.match(team, /mailbox:alice@example\.test\/INBOX/);
    assert.match(team, /forward:friend@far\.example via MX of far\.example \(SRS sender\)/);
    const tagged = await hermodCli('route', 'explain', 'bob+x@example.test');
    assert.match(tagged, /rule:\s+subaddress/);
    const outside = await hermodCli('route', 'explain', 'someone@elsewhere.example');
    assert.match(outside, /rule:\s+not-served/);
  });
});

describe('exchanger modes, live', () => {
  test('a domain switched from local to remote is refused inbound at once, without a restart', async () => {
    await hermod.addDomain('switch.test');
    await new AccountStore(hermod.db.pool).create({
      address: 'sam@switch.test',
      password: 'sam-password-12',
    });
    await eventuallyRcpt('sam@switch.test', /^250 /);
    await hermodCli('domain', 'set', 'switch.test', '--mode', 'remote', '--remote-host', '127.0.0.1:2599');
    await eventuallyRcpt('sam@switch.test', /^550 5\.7\.1 /);
    const explained = await hermodCli('route', 'explain', 'sam@switch.test');
    assert.match(explained, /rule:\s+remote-domain/);
    assert.match(explained, /smtp:sam@switch\.test via 127\.0\.0\.1:2599/);
  });

  test('auto mode follows the MX records: local, then remote, then backup (hold for relay)', async () => {
    const kv = await openDomainStatusBucket(hermod.nc.jetstream());
    await eventuallyRcpt('dora@auto.test', /^250 /);
    assert.equal((await readDomainStatus(kv, 'auto.test'))?.effectiveExchanger, 'local');
    assert.match((await deliver(['dora@auto.test'], 'auto local')).data ?? '', /^250 /);
    await waitForMessages(hermod.db.pool, 'dora@auto.test', 1);

    dns.set([{ type: 'MX', name: 'auto.test', exchange: 'mx.elsewhere.example', preference: 10 }]);
    await eventuallyRcpt('dora@auto.test', /^550 5\.7\.1 /);
    const remote = await readDomainStatus(kv, 'auto.test');
    assert.equal(remote?.effectiveExchanger, 'remote');
    assert.match(remote?.reason ?? '', /no MX points at us/);

    dns.set([
      { type: 'MX', name: 'auto.test', exchange: 'mx.elsewhere.example', preference: 10 },
      { type: 'MX', name: 'auto.test', exchange: 'mx.hermod.test', preference: 20 },
    ]);
    await eventuallyRcpt('dora@auto.test', /^250 /);
    assert.equal((await readDomainStatus(kv, 'auto.test'))?.effectiveExchanger, 'backup');
    assert.match((await deliver(['dora@auto.test'], 'auto backup')).data ?? '', /^250 /);
    const deadline = Date.now() + 10_000;
    let held: { state: string; destination: { kind?: string; excludeHosts?: string[] } } | undefined;
    while (!held && Date.now() < deadline) {
      const { rows } = await hermod.db.pool.query<{
        state: string;
        destination: { kind?: string; excludeHosts?: string[] };
      }>(
        `SELECT state, destination FROM spool_recipients WHERE address = 'dora@auto.test' AND destination->>'kind' = 'backup'`,
      );
      held = rows[0];
      if (!held) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(held?.state, 'outbound');
    assert.deepEqual(held?.destination.excludeHosts, ['mx.hermod.test']);
  });
});
