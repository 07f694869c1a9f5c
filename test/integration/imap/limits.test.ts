import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../../harness/index.js';
import { type ImapFixture, PASSWORD, RawImapClient, startImapFixture } from './imap-fixture.js';

async function connected(port: number): Promise<RawImapClient> {
  const raw = await RawImapClient.connect(port, true);
  await raw.readLine();
  return raw;
}

async function rss(fx: ImapFixture): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${fx.service.opsPort}/metrics`);
  const text = await res.text();
  return Number(/^hermod_process_resident_memory_bytes\S* (\d+)/m.exec(text)?.[1] ?? 0);
}

describe('imap limits and hostile input', () => {
  let fx: ImapFixture;
  before(async () => {
    fx = await startImapFixture({
      IMAP_MAX_CONNECTIONS_PER_IP: '40',
      IMAP_MAX_CONNECTIONS_PER_USER: '3',
      AUTH_LOCKOUT_THRESHOLD: '8',
      AUTH_FAILURE_BASE_DELAY_MS: '20',
      AUTH_FAILURE_MAX_DELAY_MS: '80',
      IMAP_MAX_LINE_LENGTH: '8192',
    });
    await fx.createUser('henry@example.com');
    await fx.createUser('ida@example.com');
  });
  after(async () => {
    await fx?.close();
  });

  it('refuses huge synchronising literals before allocating and stays usable', async () => {
    const raw = await connected(fx.service.imapsPort);
    for (const size of ['4294967295', '99999999999999999999', '10000000']) {
      raw.send(`a LOGIN {${size}}\r\n`);
      assert.match(await raw.readLine(), /^a NO \[TOOBIG\]/);
    }
    assert.equal((await raw.command('NOOP')).status, 'OK');
    raw.close();
  });

  it('closes the connection on an oversized non-synchronising literal and on an endless line', async () => {
    const raw = await connected(fx.service.imapsPort);
    raw.send('a LOGIN {99999999+}\r\n');
    assert.match(await raw.readLine(), /^\* BYE/);
    const raw2 = await connected(fx.service.imapsPort);
    raw2.send(Buffer.alloc(1024 * 1024, 0x61));
    assert.match(await raw2.readLine(), /^\* BYE .*too long/i);
    raw.close();
    raw2.close();
  });

  it('caps parenthesis nesting before login over many connections with flat memory (CVE-2026-27857)', async () => {
    const before = await rss(fx);
    const clients = await Promise.all(Array.from({ length: 30 }, () => connected(fx.service.imapsPort)));
    const deep = `${'('.repeat(4000)}${')'.repeat(4000)}`;
    for (const c of clients) c.send(`n NOOP ${deep}\r\n`);
    for (const c of clients) assert.match(await c.readLine(), /^n BAD .*nesting/i);
    for (const c of clients) c.close();
    const after = await rss(fx);
    assert.ok(after - before < 64 * 1024 * 1024, `RSS grew by ${after - before} bytes`);
  });

  it('limits connections per user', async () => {
    const sessions: RawImapClient[] = [];
    for (let i = 0; i < 3; i++) {
      const c = await connected(fx.service.imapsPort);
      await c.login('henry@example.com');
      sessions.push(c);
    }
    const extra = await connected(fx.service.imapsPort);
    const r = await extra.command(`LOGIN henry@example.com "${PASSWORD}"`);
    assert.match(r.tagged, /NO \[LIMIT\]/);
    sessions.pop()?.close();
    // The slot comes free once the server has seen the close: the retried LOGIN then succeeds.
    await eventually('a LOGIN once a session has closed', async () => {
      const retry = await extra.command(`LOGIN henry@example.com "${PASSWORD}"`);
      return retry.status === 'OK' ? true : undefined;
    });
    for (const s of [...sessions, extra]) s.close();
  });

  it('limits connections per IP with a clean refusal', async () => {
    const clients: RawImapClient[] = [];
    for (let i = 0; i < 40; i++) clients.push(await RawImapClient.connect(fx.service.imapsPort, true));
    for (const c of clients) assert.match(await c.readLine(), /^\* OK/);
    const refused = await RawImapClient.connect(fx.service.imapsPort, true);
    assert.match(await refused.readLine(), /^\* BYE Too many connections/);
    for (const c of clients) c.close();
    refused.close();
    // The next tests connect again: wait until the server has let the connections go.
    await eventually('a greeting once the connections are closed', async () => {
      const c = await RawImapClient.connect(fx.service.imapsPort, true);
      try {
        return /^\* OK/.test(await c.readLine()) ? true : undefined;
      } finally {
        c.close();
      }
    });
  });

  it('slows down and locks out brute force without revealing which accounts exist', async () => {
    const attempt = async (user: string, password: string) => {
      const c = await connected(fx.service.imapsPort);
      const started = Date.now();
      const r = await c.command(`LOGIN ${user} "${password}"`);
      c.close();
      return { tagged: r.tagged.replace(/^t\d+ /, ''), ms: Date.now() - started };
    };
    const known = await attempt('ida@example.com', 'wrong-password');
    const unknown = await attempt('nobody@example.com', 'wrong-password');
    assert.equal(known.tagged, unknown.tagged);
    assert.match(known.tagged, /^NO \[AUTHENTICATIONFAILED\]/);
    for (let i = 0; i < 8; i++) await attempt('ida@example.com', `wrong-${i}`);
    // Locked out now, even with the right password; the reply says so without naming the account.
    const locked = await attempt('ida@example.com', PASSWORD);
    assert.match(locked.tagged, /^NO \[UNAVAILABLE\]/);
    const lockedUnknown = await attempt('ghost@example.com', PASSWORD);
    assert.match(lockedUnknown.tagged, /^NO \[UNAVAILABLE\]/, 'the IP is locked as a whole');
  });
});
