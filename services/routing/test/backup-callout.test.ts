import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { parseDomainConfig } from '@hermod/domain-config';
import { createLogger } from '@hermod/logging';
import { BackupCallout } from '../src/backup-callout.js';
import { type RoutingLookups, routeRecipient } from '../src/route-recipient.js';

/** A scripted primary on loopback: knows one user, answers EHLO over several lines. */
let primary: Server;
let port = 0;
let sessions = 0;
const seen: string[] = [];

before(async () => {
  primary = createServer((socket) => {
    sessions += 1;
    socket.setEncoding('latin1');
    socket.write('220 primary.test ESMTP\r\n');
    let buffer = '';
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      let end = buffer.indexOf('\r\n');
      while (end >= 0) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        seen.push(line);
        if (/^EHLO /i.test(line)) socket.write('250-primary.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n');
        else if (/^MAIL FROM:<>$/i.test(line)) socket.write('250 2.1.0 Ok\r\n');
        else if (/^RCPT TO:<known@backup\.test>$/i.test(line)) socket.write('250 2.1.5 Ok\r\n');
        else if (/^RCPT TO:<busy@backup\.test>$/i.test(line)) socket.write('450 4.2.1 Try later\r\n');
        else if (/^RCPT TO:/i.test(line)) socket.write('550 5.1.1 User unknown\r\n');
        else if (/^QUIT$/i.test(line)) socket.end('221 Bye\r\n');
        else socket.write('502 5.5.2 Unknown\r\n');
        end = buffer.indexOf('\r\n');
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => primary.listen(0, '127.0.0.1', () => resolve()));
  port = (primary.address() as { port: number }).port;
});
after(() => new Promise<void>((resolve) => primary.close(() => resolve())));

const resolver = (mx: Record<string, Array<{ exchange: string; priority: number }>>) => ({
  resolveMx: async (name: string) => {
    const records = mx[name];
    if (!records) throw Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' });
    return records;
  },
  resolve4: async (name: string) => {
    if (name === 'mx.primary.test' || name === 'mx.ours.test') return ['127.0.0.1'];
    throw Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' });
  },
});

function callout(
  options: {
    mx?: Record<string, Array<{ exchange: string; priority: number }>>;
    portOverride?: number;
    now?: () => number;
  } = {},
) {
  return new BackupCallout({
    resolver: resolver(options.mx ?? { 'backup.test': [{ exchange: 'mx.primary.test', priority: 10 }] }),
    ourNames: ['mx.ours.test'],
    port: options.portOverride ?? port,
    heloName: 'mx.ours.test',
    timeoutMs: 2_000,
    cacheMs: 60_000,
    logger: createLogger('routing-test'),
    ...(options.now ? { now: options.now } : {}),
  });
}

describe('BackupCallout', () => {
  it('asks the primary from the MX records: 2xx accepted, 5xx rejected, 4xx unknown', async () => {
    const c = callout();
    assert.equal(await c.verify('backup.test', 'known@backup.test', []), 'accepted');
    assert.equal(await c.verify('backup.test', 'stranger@backup.test', []), 'rejected');
    assert.equal(await c.verify('backup.test', 'busy@backup.test', []), 'unknown');
    assert.ok(seen.includes('EHLO mx.ours.test'));
    assert.ok(seen.includes('MAIL FROM:<>'));
    assert.ok(!seen.some((l) => /^DATA/i.test(l)), 'no message is ever sent');
  });

  it('uses configured primary hosts first, and never calls out to our own MX names', async () => {
    const c = callout({ mx: { 'backup.test': [{ exchange: 'mx.ours.test', priority: 10 }] } });
    assert.equal(await c.verify('backup.test', 'stranger@backup.test', []), 'unknown');
    const configured = callout({ mx: {} });
    const hosts = [{ host: '127.0.0.1', port, preference: 10, requireTls: false }];
    assert.equal(await configured.verify('backup.test', 'stranger@backup.test', hosts), 'rejected');
  });

  it('a primary that refuses connections gives unknown (accept and hold)', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', () => resolve()));
    const closedPort = (closed.address() as { port: number }).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    assert.equal(
      await callout({ portOverride: closedPort }).verify('backup.test', 'known@backup.test', []),
      'unknown',
    );
  });

  it('reuses a verdict until it expires', async () => {
    let clock = 1_000_000;
    const c = callout({ now: () => clock });
    const before = sessions;
    assert.equal(await c.verify('backup.test', 'stranger@backup.test', []), 'rejected');
    assert.equal(await c.verify('backup.test', 'stranger@backup.test', []), 'rejected');
    assert.equal(sessions, before + 1);
    clock += 61_000;
    assert.equal(await c.verify('backup.test', 'stranger@backup.test', []), 'rejected');
    assert.equal(sessions, before + 2);
  });
});

describe('routeRecipient with a callout', () => {
  const configs: Record<string, ReturnType<typeof parseDomainConfig>> = {
    'open.test': parseDomainConfig({ domain: 'open.test', exchanger: 'backup' }),
    'listed.test': parseDomainConfig({
      domain: 'listed.test',
      exchanger: 'backup',
      backup: { recipients: ['info'] },
    }),
  };
  const asked: string[] = [];
  const lookups: RoutingLookups = {
    domain: (name) => configs[name],
    accountFor: async () => undefined,
    verifyBackupRecipient: async (_domain, address) => {
      asked.push(address);
      return address.startsWith('gone@') ? 'rejected' : address.startsWith('down@') ? 'unknown' : 'accepted';
    },
  };

  it('refuses with 550 5.1.1 what the primary refuses; accepts and holds the rest', async () => {
    const gone = await routeRecipient('gone@open.test', 'inbound', lookups);
    assert.equal(
      gone.kind === 'reject' && `${gone.code} ${gone.enhanced} ${gone.rule}`,
      '550 5.1.1 backup-callout',
    );
    for (const who of ['down@open.test', 'here@open.test']) {
      const d = await routeRecipient(who, 'inbound', lookups);
      assert.equal(d.kind === 'deliver' && d.targets[0]?.kind, 'backup');
    }
  });

  it('a recipient list in the config decides without asking the primary', async () => {
    asked.length = 0;
    assert.equal((await routeRecipient('info@listed.test', 'inbound', lookups)).kind, 'deliver');
    assert.equal((await routeRecipient('gone@listed.test', 'inbound', lookups)).kind, 'reject');
    assert.deepEqual(asked, []);
  });
});
