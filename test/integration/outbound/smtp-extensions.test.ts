// outbound-mta against a small raw SMTP server (node:net) whose EHLO keywords the test chooses:
// 8-bit content to a remote without 8BITMIME and a UTF-8 address to a remote without SMTPUTF8
// bounce with a DSN (never sent), a message larger than the remote's SIZE fails before MAIL/DATA,
// a domain without MX is delivered to its A record (implicit MX, real DNS server), and many
// messages to one destination use at most OUTBOUND_DESTINATION_CONCURRENCY simultaneous
// connections, several messages per connection; with PIPELINING the envelope and DATA go out in
// one write (the server withholds its replies until DATA, so a client that waited would hang),
// without it every command waits for its reply.
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

const DESTINATION_CONCURRENCY = 2;

let bed: OutboundTestbed;
const servers: RawSmtpServer[] = [];

/** A raw server answering as the MX of `domain` on its own loopback address. */
async function mxServer(domain: string, address: string, options: Parameters<typeof startRawSmtp>[2]) {
  const server = await startRawMx(bed, domain, address, options);
  servers.push(server);
  return server;
}

/** The one DSN in a local sender's INBOX. */
async function dsnIn(address: string): Promise<string> {
  const [dsn] = await waitFor(`the DSN in ${address}'s INBOX`, async () => {
    const box = await bed.mailbox(address);
    return box.length > 0 ? box : undefined;
  });
  assert.match(dsn!, /Content-Type: multipart\/report; report-type=delivery-status/i);
  return dsn!;
}

before(async () => {
  bed = await startOutboundTestbed({
    outboundEnv: { OUTBOUND_DESTINATION_CONCURRENCY: String(DESTINATION_CONCURRENCY) },
  });
  for (const user of ['alice', 'bob', 'carol', 'dave', 'erin'])
    await bed.addAccount(`${user}@${LOCAL_DOMAIN}`);
});

after(async () => {
  for (const server of servers) await server.close();
  await bed?.stop();
});

const eightBitBody = (from: string, to: string, subject: string) =>
  Buffer.from(
    crlf(
      `From: ${from}`,
      `To: ${to}`,
      `Subject: ${subject}`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      'Grüße aus dem Café, naïve façade.',
    ),
    'utf8',
  );

describe('SMTP extensions, implicit MX and destination concurrency', () => {
  test('8-bit content to a remote with 8BITMIME: sent with BODY=8BITMIME, bytes intact', async () => {
    const server = await mxServer('eight.test', '127.0.0.11', { extensions: ['PIPELINING', '8BITMIME'] });
    const from = `alice@${LOCAL_DOMAIN}`;
    const body = eightBitBody(from, 'fritz@eight.test', '8bit ok');
    const spoolId = await bed.submit(from, ['fritz@eight.test'], body);
    await bed.settled(spoolId, 'delivered');
    const [tx] = server.transactions;
    assert.match(tx!.mailFrom, /^MAIL FROM:<alice@hermod\.test> .*BODY=8BITMIME/);
    assert.ok(tx!.data.includes(Buffer.from('Grüße aus dem Café, naïve façade.\r\n', 'utf8')));
  });

  // Bounced, not downgraded: converting to 7 bit means re-encoding every 8-bit MIME part (and
  // 8-bit headers cannot be converted at all) and re-signing DKIM after it; RFC 6152 §3 allows
  // returning the message instead, and servers without 8BITMIME are practically extinct.
  test('8-bit content to a remote without 8BITMIME: bounced (5.6.3) with a DSN, never sent', async () => {
    const server = await mxServer('seven.test', '127.0.0.12', { extensions: ['PIPELINING'] });
    const from = `bob@${LOCAL_DOMAIN}`;
    const spoolId = await bed.submit(from, ['gus@seven.test'], eightBitBody(from, 'gus@seven.test', '8bit'));
    const [row] = await bed.settled(spoolId, 'failed');
    assert.match(row!.error ?? '', /8BITMIME/);
    const dsn = await dsnIn(from);
    assert.match(dsn, /Final-Recipient: rfc822; ?gus@seven\.test/);
    assert.match(dsn, /Action: failed/);
    assert.match(dsn, /Status: 5\.6\.3/);
    assert.ok(server.connections >= 1, 'the remote was contacted (its EHLO decides)');
    assert.deepEqual(
      server.commands.filter((c) => /^(MAIL|RCPT|DATA)/i.test(c)),
      [],
      'a transaction was started',
    );
  });

  test('a UTF-8 address to a remote without SMTPUTF8: bounced (5.6.7) with a DSN, never sent', async () => {
    const server = await mxServer('ascii.test', '127.0.0.13', { extensions: ['PIPELINING', '8BITMIME'] });
    const from = `carol@${LOCAL_DOMAIN}`;
    const to = 'jürgen@ascii.test';
    const spoolId = await bed.submit(
      from,
      [to],
      crlf(`From: ${from}`, 'To: someone@ascii.test', 'Subject: utf8 address', '', 'plain ascii body'),
    );
    const [row] = await bed.settled(spoolId, 'failed');
    assert.match(row!.error ?? '', /SMTPUTF8/);
    const dsn = await dsnIn(from);
    assert.match(dsn, /Action: failed/);
    assert.match(dsn, /Status: 5\.6\.7/);
    assert.ok(server.connections >= 1);
    assert.deepEqual(
      server.commands.filter((c) => /^(MAIL|RCPT|DATA)/i.test(c)),
      [],
    );
  });

  test('a message larger than the remote SIZE: permanent failure before MAIL FROM and DATA', async () => {
    const server = await mxServer('small.test', '127.0.0.14', { extensions: ['PIPELINING', 'SIZE 1000'] });
    const from = `dave@${LOCAL_DOMAIN}`;
    const spoolId = await bed.submit(
      from,
      ['hal@small.test'],
      crlf(`From: ${from}`, 'To: hal@small.test', 'Subject: too big', '', ...Array(100).fill('x'.repeat(70))),
    );
    const [row] = await bed.settled(spoolId, 'failed');
    assert.match(row!.error ?? '', /exceeds .*limit of 1000/);
    const dsn = await dsnIn(from);
    assert.match(dsn, /Status: 5\.3\.4/);
    assert.ok(server.connections >= 1);
    assert.deepEqual(
      server.commands.filter((c) => /^(MAIL|RCPT|DATA)/i.test(c)),
      [],
    );
    assert.deepEqual(server.transactions, []);
  });

  test('a domain without MX records: delivered to its A record (implicit MX)', async () => {
    const address = '127.0.0.15';
    bed.dns.add({ type: 'A', name: 'implicit.test', address });
    const server = await startRawSmtp(address, bed.smtpPort, { extensions: ['PIPELINING'] });
    servers.push(server);
    const from = `erin@${LOCAL_DOMAIN}`;
    const spoolId = await bed.submit(
      from,
      ['ivy@implicit.test'],
      crlf(`From: ${from}`, 'To: ivy@implicit.test', 'Subject: implicit', '', 'to the A record'),
    );
    const [row] = await bed.settled(spoolId, 'delivered');
    assert.match(row!.destination?.outcome?.host ?? '', /^implicit\.test\[127\.0\.0\.15\]:/);
    assert.equal(server.transactions.length, 1);
    assert.deepEqual(server.transactions[0]!.recipients, ['RCPT TO:<ivy@implicit.test>']);
    assert.ok(
      bed.dns.queries.some((q) => q.name === 'implicit.test' && q.type === 'MX'),
      'MX was not looked up first',
    );
  });

  test(`many messages to one destination: at most ${DESTINATION_CONCURRENCY} connections at once, several messages per connection`, async () => {
    const count = 12;
    const server = await mxServer('busy.test', '127.0.0.16', {
      extensions: ['PIPELINING', '8BITMIME'],
      // Every delivery waits for its reply until the limit's connections are open at once.
      holdDotRepliesUntilOpen: DESTINATION_CONCURRENCY,
    });
    const from = `alice@${LOCAL_DOMAIN}`;
    const spoolIds = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        bed.submit(
          from,
          [`user${i}@busy.test`],
          crlf(`From: ${from}`, `To: user${i}@busy.test`, `Subject: busy ${i}`, '', `message ${i}`),
        ),
      ),
    );
    for (const spoolId of spoolIds) await bed.settled(spoolId, 'delivered', 40_000);
    assert.equal(server.transactions.length, count);
    // The limit is used (parallel connections) and never exceeded.
    assert.equal(
      server.maxOpen,
      DESTINATION_CONCURRENCY,
      `${server.maxOpen} simultaneous connections, limit ${DESTINATION_CONCURRENCY}`,
    );
    assert.ok(server.connections < count, `${server.connections} connections for ${count} messages`);
    assert.ok(
      Math.max(...server.perConnection) >= 2,
      `messages per connection: ${server.perConnection.join(',')}`,
    );
  });

  test('PIPELINING offered: MAIL, every RCPT and DATA go out in one write, replies read in order', async () => {
    const server = await mxServer('pipelined.test', '127.0.0.17', {
      extensions: ['PIPELINING', '8BITMIME'],
      holdEnvelopeReplies: true,
    });
    const from = `bob@${LOCAL_DOMAIN}`;
    const to = ['ann@pipelined.test', 'ben@pipelined.test', 'cat@pipelined.test'];
    const spoolId = await bed.submit(
      from,
      to,
      crlf(`From: ${from}`, `To: ${to.join(', ')}`, 'Subject: pipelined', '', 'one write'),
    );
    await bed.settled(spoolId, 'delivered', 20_000);
    const envelope = server.commands
      .map((line, i) => ({ line, read: server.commandReads[i] }))
      .filter((c) => /^(MAIL|RCPT|DATA)/i.test(c.line));
    assert.deepEqual(
      envelope.map((c) => c.line.split(':')[0]),
      ['MAIL FROM', 'RCPT TO', 'RCPT TO', 'RCPT TO', 'DATA'],
    );
    assert.equal(new Set(envelope.map((c) => c.read)).size, 1, 'the envelope was split over several writes');
    assert.deepEqual(server.transactions[0]?.recipients.map((r) => r.slice(9, -1)).sort(), to);
  });

  test('PIPELINING not offered: each envelope command waits for its reply', async () => {
    const server = await mxServer('lockstep.test', '127.0.0.18', { extensions: ['8BITMIME'] });
    const from = `carol@${LOCAL_DOMAIN}`;
    const to = ['dan@lockstep.test', 'eve@lockstep.test'];
    const spoolId = await bed.submit(
      from,
      to,
      crlf(`From: ${from}`, `To: ${to.join(', ')}`, 'Subject: lockstep', '', 'one at a time'),
    );
    await bed.settled(spoolId, 'delivered', 20_000);
    const reads = server.commands
      .map((line, i) => ({ line, read: server.commandReads[i] }))
      .filter((c) => /^(MAIL|RCPT|DATA)/i.test(c.line))
      .map((c) => c.read);
    assert.equal(reads.length, 4);
    assert.equal(new Set(reads).size, 4, 'commands were sent before the previous reply');
  });

  // RFC 6531 section 3.4: a message that needs SMTPUTF8 (a UTF-8 address, or UTF-8 header fields
  // received with SMTPUTF8) goes with the SMTPUTF8 parameter on MAIL FROM, never silently without.
  test('SMTPUTF8 to a remote that offers it: a UTF-8 address and a UTF-8 header both carry the parameter', async () => {
    const server = await mxServer('utf8.test', '127.0.0.54', {
      extensions: ['PIPELINING', '8BITMIME', 'SMTPUTF8'],
    });
    const from = `dave@${LOCAL_DOMAIN}`;
    const byAddress = await bed.submit(
      from,
      ['jörg@utf8.test'],
      Buffer.from(crlf(`From: ${from}`, 'To: jörg@utf8.test', 'Subject: adresse', '', 'body'), 'utf8'),
      { mailFromArgs: { SMTPUTF8: 'true' } },
    );
    await bed.settled(byAddress, 'delivered');
    const byHeader = await bed.submit(
      from,
      ['kim@utf8.test'],
      Buffer.from(crlf(`From: ${from}`, 'To: kim@utf8.test', 'Subject: Grüße', '', 'body'), 'utf8'),
      { mailFromArgs: { SMTPUTF8: 'true' } },
    );
    await bed.settled(byHeader, 'delivered');
    const mails = server.commands.filter((c) => /^MAIL /i.test(c));
    assert.equal(mails.length, 2);
    for (const mail of mails) assert.match(mail, / SMTPUTF8\b/, `${mail} lacks SMTPUTF8`);
    assert.ok(server.transactions[1]?.data.includes(Buffer.from('Subject: Grüße\r\n', 'utf8')));
  });
});
