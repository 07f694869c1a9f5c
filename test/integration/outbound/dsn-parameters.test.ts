// RFC 3461 DSN parameters on outbound delivery, against a raw SMTP server whose EHLO keywords the
// test chooses: to a remote that advertises DSN, RET and ENVID go on MAIL FROM and each
// recipient's NOTIFY and ORCPT on its RCPT (section 5.2.1: the remote takes over the notices);
// to a remote without DSN the notices are ours (section 5.2.2): NOTIFY=SUCCESS gets an
// "Action: relayed" notice, NOTIFY=NEVER none, and a failure notice under RET=FULL returns the
// whole message as message/rfc822 (RFC 3462/6522), under RET=HDRS its headers only.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  crlf,
  LOCAL_DOMAIN,
  type OutboundTestbed,
  startOutboundTestbed,
  waitFor,
} from './outbound-fixture.js';
import { type RawSmtpServer, startRawMx, type startRawSmtp } from './raw-smtp.js';

let bed: OutboundTestbed;
const servers: RawSmtpServer[] = [];

/** A raw server answering as the MX of `domain` on its own loopback address. */
async function mxServer(domain: string, address: string, options: Parameters<typeof startRawSmtp>[2]) {
  const server = await startRawMx(bed, domain, address, options);
  servers.push(server);
  return server;
}

/** The notices in a local sender's INBOX once there are `count`. */
async function noticesIn(address: string, count: number): Promise<string[]> {
  return waitFor(`${count} notice(s) in ${address}'s INBOX`, async () => {
    const box = await bed.mailbox(address);
    return box.length >= count ? box : undefined;
  });
}

const message = (from: string, to: string, subject: string) =>
  crlf(
    `From: ${from}`,
    `To: ${to}`,
    `Subject: ${subject}`,
    'X-Marker: original-header',
    '',
    `body of ${subject}`,
  );

before(async () => {
  bed = await startOutboundTestbed();
  for (const user of ['dsn-a', 'dsn-b', 'dsn-c', 'dsn-d', 'dsn-e'])
    await bed.addAccount(`${user}@${LOCAL_DOMAIN}`);
});

after(async () => {
  for (const server of servers) await server.close();
  await bed?.stop();
});

describe('RFC 3461 DSN parameters', () => {
  test('a remote that advertises DSN gets RET and ENVID on MAIL FROM, NOTIFY and ORCPT on each RCPT', async () => {
    const server = await mxServer('dsn-peer.test', '127.0.0.41', { extensions: ['PIPELINING', 'DSN'] });
    const from = `dsn-a@${LOCAL_DOMAIN}`;
    const spoolId = await bed.submit(
      from,
      [
        {
          address: 'one@dsn-peer.test',
          parameters: { NOTIFY: 'SUCCESS,FAILURE', ORCPT: 'rfc822;first@x.test' },
        },
        { address: 'two@dsn-peer.test', parameters: { NOTIFY: 'NEVER' } },
      ],
      message(from, 'one@dsn-peer.test', 'dsn passed on'),
      { mailFromArgs: { RET: 'HDRS', ENVID: 'env-42' } },
    );
    await bed.settled(spoolId, 'delivered');
    const mails = server.commands.filter((c) => /^MAIL /i.test(c));
    assert.ok(mails.length >= 1);
    for (const mail of mails) {
      assert.match(mail, / RET=HDRS\b/);
      assert.match(mail, / ENVID=env-42\b/);
    }
    const rcpts = server.commands.filter((c) => /^RCPT /i.test(c));
    const one = rcpts.find((c) => c.includes('<one@dsn-peer.test>'));
    const two = rcpts.find((c) => c.includes('<two@dsn-peer.test>'));
    assert.match(one ?? '', / NOTIFY=SUCCESS,FAILURE\b/);
    assert.match(one ?? '', / ORCPT=rfc822;first@x\.test\b/);
    assert.match(two ?? '', / NOTIFY=NEVER\b/);
    assert.doesNotMatch(two ?? '', /ORCPT/);
  });

  test('NOTIFY=SUCCESS to a remote without DSN: an "Action: relayed" notice from us', async () => {
    await mxServer('plain-peer.test', '127.0.0.42', { extensions: ['PIPELINING'] });
    const from = `dsn-b@${LOCAL_DOMAIN}`;
    const spoolId = await bed.submit(
      from,
      [
        {
          address: 'glad@plain-peer.test',
          parameters: { NOTIFY: 'SUCCESS', ORCPT: 'rfc822;glad@plain-peer.test' },
        },
      ],
      message(from, 'glad@plain-peer.test', 'tell me it went'),
      { mailFromArgs: { ENVID: 'env-relayed' } },
    );
    await bed.settled(spoolId, 'delivered');
    const [notice] = await noticesIn(from, 1);
    assert.match(notice!, /Content-Type: multipart\/report; report-type=delivery-status/i);
    assert.match(notice!, /Original-Envelope-Id: env-relayed/);
    assert.match(notice!, /Original-Recipient: rfc822;glad@plain-peer\.test/);
    assert.match(notice!, /Final-Recipient: rfc822; ?glad@plain-peer\.test/);
    assert.match(notice!, /Action: relayed/);
    assert.match(notice!, /Status: 2\.\d+\.\d+/);
    assert.match(
      notice!,
      /Remote-MTA: dns; ?mx\.plain-peer\.test\r\n/,
      'Remote-MTA is a host name (RFC 3464 2.3.5)',
    );
    assert.match(notice!, /Content-Type: text\/rfc822-headers/);
  });

  test('refused recipients: NOTIFY=NEVER gets no notice, RET=FULL returns the whole message as message/rfc822', async () => {
    await mxServer('refusing.test', '127.0.0.43', {
      extensions: ['PIPELINING'],
      rcptReply: (line) => (/refused/.test(line) ? '550 5.1.1 no such user' : '250 2.1.5 ok'),
    });
    const from = `dsn-c@${LOCAL_DOMAIN}`;
    const spoolId = await bed.submit(
      from,
      [
        { address: 'refused-quiet@refusing.test', parameters: { NOTIFY: 'NEVER' } },
        { address: 'refused-loud@refusing.test', parameters: { NOTIFY: 'FAILURE' } },
      ],
      message(from, 'refused-loud@refusing.test', 'return it whole'),
      { mailFromArgs: { RET: 'FULL' } },
    );
    await bed.settled(spoolId, 'failed');
    const [notice] = await noticesIn(from, 1);
    assert.match(notice!, /Final-Recipient: rfc822; ?refused-loud@refusing\.test/);
    assert.doesNotMatch(notice!, /refused-quiet/, 'NOTIFY=NEVER recipient named in a notice');
    assert.match(notice!, /Action: failed/);
    assert.match(notice!, /Status: 5\.1\.1/);
    assert.match(
      notice!,
      /Remote-MTA: dns; ?mx\.refusing\.test\r\n/,
      'Remote-MTA is a host name (RFC 3464 2.3.5)',
    );
    assert.match(notice!, /Content-Type: message\/rfc822/);
    assert.match(notice!, /X-Marker: original-header\r\n\r\nbody of return it whole/);
    // The one notice is the only one: the sender's INBOX holds nothing for the quiet recipient.
    assert.equal((await bed.mailbox(from)).length, 1);
  });

  test('RET=HDRS (or no RET): the failure notice carries the headers only, as text/rfc822-headers', async () => {
    await mxServer('refusing2.test', '127.0.0.44', {
      extensions: ['PIPELINING'],
      rcptReply: () => '550 5.1.1 no such user',
    });
    const from = `dsn-d@${LOCAL_DOMAIN}`;
    const spoolId = await bed.submit(
      from,
      ['nobody@refusing2.test'],
      message(from, 'nobody@refusing2.test', 'headers only'),
      { mailFromArgs: { RET: 'HDRS' } },
    );
    await bed.settled(spoolId, 'failed');
    const [notice] = await noticesIn(from, 1);
    assert.match(notice!, /Content-Type: text\/rfc822-headers/);
    assert.match(notice!, /X-Marker: original-header/);
    assert.doesNotMatch(notice!, /body of headers only/);
  });
});
