// MX selection through aliases (RFC 5321 section 5.1), with the harness DNS server answering as a
// recursive resolver does (the CNAME and its target's records): an MX whose host name is a CNAME
// is delivered to the alias's target, and a recipient domain that is itself an alias is processed
// as its target (its MX used). An MX whose data is an IP address is not a host name (section 5.1):
// not connected to, and with no other MX the message fails at once (5.4.4).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { crlf, LOCAL_DOMAIN, type OutboundTestbed, startOutboundTestbed } from './outbound-fixture.js';
import { type RawSmtpServer, startRawSmtp } from './raw-smtp.js';

let bed: OutboundTestbed;
const servers: RawSmtpServer[] = [];
const from = `mxsel@${LOCAL_DOMAIN}`;

const message = (to: string, subject: string) =>
  crlf(`From: ${from}`, `To: ${to}`, `Subject: ${subject}`, '', `body of ${subject}`);

async function rawServer(address: string): Promise<RawSmtpServer> {
  const server = await startRawSmtp(address, bed.smtpPort, { extensions: ['PIPELINING'] });
  servers.push(server);
  return server;
}

before(async () => {
  bed = await startOutboundTestbed();
});

after(async () => {
  for (const server of servers) await server.close();
  await bed?.stop();
});

describe('MX selection through aliases', () => {
  test('an MX host that is a CNAME: delivered to the address of its target', async () => {
    const server = await rawServer('127.0.0.52');
    bed.dns.add(
      { type: 'MX', name: 'cname-mx.test', exchange: 'mail.cname-mx.test', preference: 10 },
      { type: 'CNAME', name: 'mail.cname-mx.test', target: 'real-mx.hosting.test' },
      { type: 'A', name: 'real-mx.hosting.test', address: '127.0.0.52' },
    );
    const spoolId = await bed.submit(from, ['gil@cname-mx.test'], message('gil@cname-mx.test', 'via alias'));
    const [row] = await bed.settled(spoolId, 'delivered');
    assert.match(row!.destination?.outcome?.host ?? '', /^mail\.cname-mx\.test\[127\.0\.0\.52\]/);
    assert.equal(server.transactions.length, 1);
  });

  test('a recipient domain that is an alias: its target domain MX is used', async () => {
    const server = await rawServer('127.0.0.53');
    bed.dns.add(
      { type: 'CNAME', name: 'alias-domain.test', target: 'target-domain.test' },
      { type: 'MX', name: 'target-domain.test', exchange: 'mx.target-domain.test', preference: 10 },
      { type: 'A', name: 'mx.target-domain.test', address: '127.0.0.53' },
    );
    const spoolId = await bed.submit(
      from,
      ['hal@alias-domain.test'],
      message('hal@alias-domain.test', 'domain alias'),
    );
    const [row] = await bed.settled(spoolId, 'delivered');
    assert.match(row!.destination?.outcome?.host ?? '', /^mx\.target-domain\.test\[127\.0\.0\.53\]/);
    assert.deepEqual(server.transactions[0]?.recipients, ['RCPT TO:<hal@alias-domain.test>']);
  });

  test('an MX whose exchange is an IP address: never connected, failed with 5.4.4', async () => {
    const server = await rawServer('127.0.0.55');
    bed.dns.add({ type: 'MX', name: 'numeric-mx.test', exchange: '127.0.0.55', preference: 10 });
    const spoolId = await bed.submit(
      from,
      ['ida@numeric-mx.test'],
      message('ida@numeric-mx.test', 'numeric'),
    );
    const [row] = await bed.settled(spoolId, 'failed');
    assert.match(row!.error ?? '', /no usable MX/);
    assert.equal(server.connections, 0);
  });
});
