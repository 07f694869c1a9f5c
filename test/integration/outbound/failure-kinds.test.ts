// How outbound-mta tells failures apart (services/outbound-mta/src/delivery/errors.ts): a fault
// of our own (here: a sending domain's DKIM key that is not a key) holds the recipient at once, visibly (queue state 'held', the reason in last_reply,
// hermod_outbound_local_errors_total), instead of being retried for days as "connection lost";
// a connection the remote drops in the middle of DATA is a network failure and is deferred
// (4.4.2). The dispatcher keeps working after either: a later message to the same remote is
// delivered.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { openDkimKeyBucket, writeDkimKey } from '@hermod/domain-config';
import {
  addMx,
  crlf,
  LOCAL_DOMAIN,
  type OutboundTestbed,
  simpleMessage,
  startOutboundTestbed,
  waitFor,
} from './outbound-fixture.js';

let bed: OutboundTestbed;
const servers: Server[] = [];
const from = `alice@${LOCAL_DOMAIN}`;

/**
 * A minimal SMTP server: accepts everything; with `dropInData` it closes the connection as soon
 * as the message data starts arriving (before the final dot). Records the transactions it accepted.
 */
async function startServer(address: string, options: { dropInData?: boolean } = {}) {
  const accepted: string[][] = [];
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    socket.on('error', () => {});
    let buffer = '';
    let inData = false;
    let recipients: string[] = [];
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      for (;;) {
        if (inData) {
          if (options.dropInData) {
            socket.destroy();
            return;
          }
          const end = buffer.indexOf('\r\n.\r\n');
          if (end < 0) return;
          buffer = buffer.slice(end + 5);
          inData = false;
          accepted.push(recipients);
          socket.write('250 2.0.0 queued\r\n');
          continue;
        }
        const eol = buffer.indexOf('\r\n');
        if (eol < 0) return;
        const line = buffer.slice(0, eol);
        buffer = buffer.slice(eol + 2);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO') socket.write('250-plain.test\r\n250 8BITMIME\r\n');
        else if (verb === 'MAIL') {
          recipients = [];
          socket.write('250 2.1.0 ok\r\n');
        } else if (verb === 'RCPT') {
          recipients.push(line.slice(8));
          socket.write('250 2.1.5 ok\r\n');
        } else if (verb === 'DATA') {
          inData = true;
          socket.write('354 go ahead\r\n');
        } else if (verb === 'QUIT') {
          socket.end('221 2.0.0 bye\r\n');
          return;
        } else socket.write('250 2.0.0 ok\r\n');
      }
    });
    socket.write('220 plain.test ESMTP\r\n');
  });
  await new Promise<void>((resolve) => server.listen(bed.smtpPort, address, resolve));
  servers.push(server);
  return {
    accepted,
    get connections() {
      return connections;
    },
  };
}

const mx = (domain: string, address: string) => addMx(bed.dns, domain, address);
const message = (to: string, subject: string) => simpleMessage(from, to, subject);

async function metric(name: string): Promise<number> {
  const port = bed.outbound().options.opsPort;
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
}

before(async () => {
  // A retry schedule far longer than the test: a deferred recipient stays deferred.
  bed = await startOutboundTestbed({ outboundEnv: { OUTBOUND_RETRY_SCHEDULE: '1h' } });
});

after(async () => {
  for (const server of servers) server.close();
  await bed?.stop();
});

describe('failure kinds', () => {
  test('a local fault holds the recipient visibly at once; the next message still goes out', async () => {
    const server = await startServer('127.0.0.21');
    mx('odd.test', '127.0.0.21');
    // A sending domain whose DKIM key in the key bucket is not a key: signing fails here, before
    // any remote is involved. Neither the network nor the remote is at fault.
    await writeDkimKey(await openDkimKeyBucket(bed.hermod.nc.jetstream()), {
      domain: 'badkey.test',
      selector: 'sel1',
      algorithm: 'rsa-sha256',
      privateKeyPem: 'not a PEM key',
      publicKey: 'AAAA',
      createdAt: new Date().toISOString(),
    });
    await bed.hermod.addDomain('badkey.test', { dkim: { selector: 'sel1', keyRef: 'badkey.test.sel1' } });
    const before = await metric('hermod_outbound_local_errors_total');
    const sender = 'mallory@badkey.test';
    const spoolId = await bed.submit(
      sender,
      ['olaf@odd.test'],
      crlf(`From: ${sender}`, 'To: olaf@odd.test', 'Subject: broken key', '', 'never signed'),
    );
    const [row] = await waitFor(`the recipient of ${spoolId} held`, async () => {
      const rows = await bed.queue(spoolId);
      if (rows[0]?.state === 'deferred' && rows[0].attempts > 0)
        assert.fail(`deferred instead of held: ${rows[0].last_reply}`);
      return rows[0]?.state === 'held' ? rows : undefined;
    });
    assert.equal(row!.lease_owner, null);
    assert.match(row!.last_reply ?? '', /^local error \(LOCAL\): /);
    assert.match(row!.last_reply ?? '', /DKIM/);
    assert.equal(
      (await bed.recipients(spoolId))[0]!.state,
      'outbound',
      'held, neither bounced nor delivered',
    );
    assert.equal(await metric('hermod_outbound_local_errors_total'), before + 1);

    // The dispatcher is not stuck on it: the next message to the same remote is delivered.
    const next = await bed.submit(from, ['bob@odd.test'], message('bob@odd.test', 'after the fault'));
    await bed.settled(next, 'delivered');
    assert.deepEqual(server.accepted, [['<bob@odd.test>']]);
  });

  test('a connection dropped in the middle of DATA is a network failure: deferred with 4.4.2', async () => {
    const server = await startServer('127.0.0.22', { dropInData: true });
    mx('drop.test', '127.0.0.22');
    const spoolId = await bed.submit(from, ['carl@drop.test'], message('carl@drop.test', 'dropped'));
    const [row] = await waitFor(`the first attempt of ${spoolId} deferred`, async () => {
      const rows = await bed.queue(spoolId);
      return rows[0] && rows[0].attempts >= 1 ? rows : undefined;
    });
    assert.equal(row!.state, 'deferred');
    assert.match(row!.last_reply ?? '', /connection .*lost/);
    assert.match(row!.last_host ?? '', /^mx\.drop\.test\[127\.0\.0\.22\]:/);
    assert.ok(server.connections >= 1);
    assert.deepEqual(server.accepted, []);
  });
});
