// RFC 5321 reply handling and TLS fallback of outbound delivery, against a raw SMTP server that
// fails in the way each test chooses: a connection dropped after DATA's final dot and before the
// reply is not a delivery (retried; the remote may get the message twice, never zero times), a
// 421 mid-session is retried on a new connection, a 4xx greeting sends the message to the next MX
// (section 5.1), a 5xx reply to the dot bounces at once, and an opportunistic STARTTLS whose
// handshake fails falls back to plaintext where no policy requires TLS (RFC 7435) and defers
// where one does.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  crlf,
  LOCAL_DOMAIN,
  type OutboundTestbed,
  startOutboundTestbed,
  waitFor,
} from './outbound-fixture.js';
import { type RawSmtpServer, startRawMx, startRawSmtp } from './raw-smtp.js';

let bed: OutboundTestbed;
const servers: RawSmtpServer[] = [];
const from = `sf@${LOCAL_DOMAIN}`;

async function mxServer(domain: string, address: string, options: Parameters<typeof startRawSmtp>[2]) {
  const server = await startRawMx(bed, domain, address, options);
  servers.push(server);
  return server;
}

const message = (to: string, subject: string) =>
  crlf(`From: ${from}`, `To: ${to}`, `Subject: ${subject}`, '', `body of ${subject}`);

before(async () => {
  bed = await startOutboundTestbed();
  await bed.addAccount(from);
});

after(async () => {
  for (const server of servers) await server.close();
  await bed?.stop();
});

describe('SMTP replies and session failures', () => {
  test('connection dropped after the final dot, before the reply: not delivered, retried (a duplicate, never a loss)', async () => {
    const server = await mxServer('drop-dot.test', '127.0.0.45', {
      extensions: ['PIPELINING'],
      dataReply: (n) => (n === 1 ? 'drop' : '250 2.0.0 queued'),
    });
    const spoolId = await bed.submit(
      from,
      ['ann@drop-dot.test'],
      message('ann@drop-dot.test', 'drop at dot'),
    );
    await bed.settled(spoolId, 'delivered');
    assert.equal(server.transactions.length, 2, 'the dropped transaction was counted as delivered');
    assert.ok(server.connections >= 2);
  });

  test('421 to MAIL FROM mid-session: deferred, delivered on a later connection', async () => {
    let mails = 0;
    const server = await mxServer('closing.test', '127.0.0.46', {
      extensions: ['PIPELINING'],
      mailReply: () => (++mails === 1 ? '421 4.3.2 service shutting down' : '250 2.1.0 ok'),
    });
    const spoolId = await bed.submit(from, ['ben@closing.test'], message('ben@closing.test', 'after 421'));
    await bed.settled(spoolId, 'delivered');
    assert.equal(server.transactions.length, 1);
    assert.ok(server.connections >= 2);
  });

  test('a 4xx greeting at the preferred MX: the next MX gets the message', async () => {
    const busy = await startRawSmtp('127.0.0.47', bed.smtpPort, {
      extensions: ['PIPELINING'],
      greeting: () => '421 4.3.2 too busy, try another MX',
    });
    const good = await startRawSmtp('127.0.0.48', bed.smtpPort, { extensions: ['PIPELINING'] });
    servers.push(busy, good);
    bed.dns.add(
      { type: 'MX', name: 'busy-mx.test', exchange: 'mx1.busy-mx.test', preference: 10 },
      { type: 'MX', name: 'busy-mx.test', exchange: 'mx2.busy-mx.test', preference: 20 },
      { type: 'A', name: 'mx1.busy-mx.test', address: '127.0.0.47' },
      { type: 'A', name: 'mx2.busy-mx.test', address: '127.0.0.48' },
    );
    const spoolId = await bed.submit(from, ['cat@busy-mx.test'], message('cat@busy-mx.test', 'next mx'));
    const [row] = await bed.settled(spoolId, 'delivered');
    assert.match(row!.destination?.outcome?.host ?? '', /^mx2\.busy-mx\.test\[127\.0\.0\.48\]/);
    assert.ok(busy.connections >= 1, 'the preferred MX was not tried first');
    assert.equal(busy.transactions.length, 0);
    assert.equal(good.transactions.length, 1);
  });

  test('5xx to the final dot: failed at once with one DSN', async () => {
    await mxServer('refuse-data.test', '127.0.0.49', {
      extensions: ['PIPELINING'],
      dataReply: () => '554 5.6.0 message content rejected',
    });
    const spoolId = await bed.submit(from, ['dan@refuse-data.test'], message('dan@refuse-data.test', 'bad'));
    const [row] = await bed.settled(spoolId, 'failed');
    assert.match(row!.error ?? '', /^554 5\.6\.0/);
    const [dsn] = await waitFor('the DSN', async () => {
      const box = await bed.mailbox(from);
      return box.some((m) => m.includes('dan@refuse-data.test')) ? box : undefined;
    });
    assert.match(dsn!, /Action: failed\r\nStatus: 5\.6\.0\r\n/);
  });

  test('STARTTLS offered but the handshake fails, no TLS policy: delivered in plaintext on a new connection', async () => {
    const server = await mxServer('broken-tls.test', '127.0.0.50', {
      extensions: ['PIPELINING', 'STARTTLS'],
      brokenStartTls: true,
    });
    const spoolId = await bed.submit(from, ['eva@broken-tls.test'], message('eva@broken-tls.test', 'plain'));
    const [row] = await bed.settled(spoolId, 'delivered', 30_000);
    assert.match(row!.destination?.outcome?.tls ?? '', /^none/);
    assert.equal(server.transactions.length, 1);
    assert.ok(
      server.commands.filter((c) => /^STARTTLS/i.test(c)).length >= 1,
      'STARTTLS was not tried first',
    );
  });

  test('STARTTLS handshake fails where the domain requires TLS: deferred, nothing sent in clear', async () => {
    const server = await mxServer('broken-tls-req.test', '127.0.0.51', {
      extensions: ['PIPELINING', 'STARTTLS'],
      brokenStartTls: true,
    });
    await bed.hermod.addDomain('broken-tls-req.test', {
      exchanger: 'remote',
      tls: { requireOutbound: true, mtaSts: 'none' },
    });
    const spoolId = await bed.submit(
      from,
      ['fay@broken-tls-req.test'],
      message('fay@broken-tls-req.test', 'x'),
    );
    const [queued] = await waitFor('the first attempt deferred', async () => {
      const rows = await bed.queue(spoolId);
      return rows[0] && rows[0].attempts >= 1 ? rows : undefined;
    });
    assert.equal(queued!.state, 'deferred');
    assert.match(queued!.last_reply ?? '', /TLS required/);
    assert.deepEqual(server.transactions, []);
    assert.deepEqual(
      server.commands.filter((c) => /^(MAIL|RCPT|DATA)/i.test(c)),
      [],
    );
  });
});
