// RFC 5321 command rules, checked over raw sockets against real mx and msa (with routing and mda):
// MAIL and RCPT parameters of extensions the server does not advertise get 555 (RFC 5321 section
// 4.1.1.11; DSN is not offered, so RET, ENVID, NOTIFY and ORCPT are among them), commands without
// arguments refuse them with 501, AUTH during a mail transaction gets 503 (RFC 4954 section 4), and
// plaintext pipelined after STARTTLS on submission is discarded (RFC 3207 section 4.2).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AccountStore } from '@hermod/accounts';
import { DnsTestServer, type HermodPlatform, startHermod } from '@hermod/test/harness';
import { waitForMessages } from './mx-fixture.js';
import { expectCode, SmtpWire, submissionSession } from './smtp-wire.js';

let hermod: HermodPlatform;
let dns: DnsTestServer;

before(async () => {
  dns = new DnsTestServer();
  await dns.start();
  hermod = await startHermod({
    services: ['routing', 'mda', 'msa', 'mx'],
    env: {
      mx: { MX_DNS_SERVERS: dns.address, MX_MAX_MESSAGE_BYTES: '100000' },
      // The test's own address may submit without AUTH: the only way into a transaction before AUTH.
      msa: {
        MSA_MAX_MESSAGE_BYTES: '100000',
        MSA_TRUSTED_NETWORKS: '127.0.0.1/32',
        MSA_MAX_LINE_LENGTH: '13000',
      },
    },
  });
  await hermod.addDomain('example.test');
  const accounts = new AccountStore(hermod.db.pool);
  for (const user of ['alice', 'bob', 'carol'])
    await accounts.create({ address: `${user}@example.test`, password: `${user}-password-1` });
});

after(async () => {
  await hermod?.stop();
  await dns?.stop();
});

async function mxSession(): Promise<SmtpWire> {
  const wire = await SmtpWire.open(hermod.ports.mx);
  // RFC 5321 4.3.1: the greeting names the server first; the library adds "ESMTP" once.
  assert.equal(await wire.reply(), '220 mx.hermod.test ESMTP Hermod\r\n');
  expectCode(await wire.command('EHLO client.remote.example'), 250);
  return wire;
}

const unsupported = /^555 5\.5\.4 /;

describe('MAIL and RCPT parameters', () => {
  test('mx: parameters of extensions it does not advertise get 555 5.5.4', async () => {
    const wire = await mxSession();
    const ehlo = await wire.command('EHLO client.remote.example');
    assert.doesNotMatch(ehlo, /[- ](DSN|AUTH)\b/, 'neither DSN nor AUTH is offered on the MX');
    for (const parameters of ['FOO=BAR', 'RET=FULL', 'ENVID=abc', 'AUTH=<>', 'XYZ'])
      assert.match(await wire.command(`MAIL FROM:<a@remote.example> ${parameters}`), unsupported, parameters);
    expectCode(await wire.command('MAIL FROM:<a@remote.example> SIZE=100 BODY=8BITMIME SMTPUTF8'), 250);
    for (const parameters of ['NOTIFY=SUCCESS', 'ORCPT=rfc822;alice@example.test', 'XYZ=1'])
      assert.match(await wire.command(`RCPT TO:<alice@example.test> ${parameters}`), unsupported, parameters);
    // The refused RCPTs left no recipient behind.
    assert.match(await wire.command('DATA'), /^503 5\.5\.1 /);
    expectCode(await wire.command('RCPT TO:<alice@example.test>'), 250);
    expectCode(await wire.command('DATA'), 354);
    wire.write('Subject: parameters\r\n\r\nAccepted with advertised parameters only.\r\n.\r\n');
    expectCode(await wire.reply(), 250);
    await wire.command('QUIT');
    wire.close();
    await waitForMessages(hermod.db.pool, 'alice@example.test', 1);
  });

  test('msa: AUTH= and REQUIRETLS are advertised after TLS and accepted; others get 555 5.5.4', async () => {
    const { wire, auth } = await submissionSession(
      hermod.ports.submission,
      'alice@example.test',
      'alice-password-1',
    );
    expectCode(auth, 235);
    expectCode(await wire.command('MAIL FROM:<alice@example.test> AUTH=<> REQUIRETLS SIZE=10'), 250);
    for (const parameters of ['NOTIFY=NEVER', 'ORCPT=rfc822;bob@example.test', 'FOO'])
      assert.match(await wire.command(`RCPT TO:<bob@example.test> ${parameters}`), unsupported, parameters);
    expectCode(await wire.command('RSET'), 250);
    for (const parameters of ['RET=HDRS', 'ENVID=x', 'FOO=1'])
      assert.match(
        await wire.command(`MAIL FROM:<alice@example.test> ${parameters}`),
        unsupported,
        parameters,
      );
    await wire.command('QUIT');
    wire.close();
  });
});

describe('commands that take no arguments', () => {
  test('DATA and RSET with an argument get 501 5.5.4; the transaction is still there', async () => {
    const wire = await mxSession();
    expectCode(await wire.command('MAIL FROM:<a@remote.example>'), 250);
    expectCode(await wire.command('RCPT TO:<bob@example.test>'), 250);
    assert.match(await wire.command('DATA now'), /^501 5\.5\.4 /);
    assert.match(await wire.command('RSET everything'), /^501 5\.5\.4 /);
    expectCode(await wire.command('DATA'), 354);
    wire.write('Subject: after 501\r\n\r\nThe transaction survived.\r\n.\r\n');
    expectCode(await wire.reply(), 250);
    await wire.command('QUIT');
    wire.close();
    await waitForMessages(hermod.db.pool, 'bob@example.test', 1);
  });
});

describe('AUTH (RFC 4954)', () => {
  test('msa: AUTH during a mail transaction gets 503 5.5.1 and changes nothing', async () => {
    const wire = await SmtpWire.open(hermod.ports.submission);
    expectCode(await wire.reply(), 220);
    expectCode(await wire.command('EHLO relay.internal.test'), 250);
    expectCode(await wire.command('STARTTLS'), 220);
    await wire.startTls();
    expectCode(await wire.command('EHLO relay.internal.test'), 250);
    // A trusted network: MAIL without AUTH.
    expectCode(await wire.command('MAIL FROM:<alice@example.test>'), 250);
    const plain = Buffer.from('\0alice@example.test\0alice-password-1').toString('base64');
    assert.match(await wire.command(`AUTH PLAIN ${plain}`), /^503 5\.5\.1 /);
    assert.match(await wire.command('AUTH LOGIN'), /^503 5\.5\.1 /);
    expectCode(await wire.command('RCPT TO:<bob@example.test>'), 250);
    // After the transaction AUTH works.
    expectCode(await wire.command('RSET'), 250);
    expectCode(await wire.command(`AUTH PLAIN ${plain}`), 235);
    await wire.command('QUIT');
    wire.close();
  });
});

describe('STARTTLS injection (RFC 3207)', () => {
  test('msa: commands pipelined after STARTTLS in the same segment are discarded', async () => {
    const wire = await SmtpWire.open(hermod.ports.submission);
    expectCode(await wire.reply(), 220);
    expectCode(await wire.command('EHLO laptop.client.test'), 250);
    wire.write('STARTTLS\r\nEHLO injected.test\r\nMAIL FROM:<alice@example.test>\r\n');
    expectCode(await wire.reply(), 220);
    await wire.startTls();
    // Neither injected command ran: no EHLO yet in the TLS session, and the next reply is NOOP's.
    expectCode(await wire.command('NOOP'), 250);
    assert.match(await wire.command('MAIL FROM:<alice@example.test>'), /^503 5\.5\.1 /);
    const ehlo = expectCode(await wire.command('EHLO laptop.client.test'), 250);
    assert.match(ehlo, /AUTH PLAIN/);
    await wire.command('QUIT');
    wire.close();
  });
});

describe('command line length', () => {
  test('msa: the limit is MSA_MAX_LINE_LENGTH; an AUTH line of 12,288 octets is read, a longer line ends the session', async () => {
    const { wire, auth } = await submissionSession(hermod.ports.submission, 'bob@example.test', 'wrong');
    assert.match(auth, /^535 5\.7\.8 /);
    // RFC 4954 section 4: an AUTH command line with its initial response may be 12,288 octets.
    const token = 'A'.repeat(12_288 - 'AUTH XOAUTH2 '.length - 2);
    assert.match(await wire.command(`AUTH XOAUTH2 ${token}`), /^50[14] /);
    expectCode(await wire.command('NOOP'), 250);
    wire.write(`NOOP ${'x'.repeat(13_500)}\r\n`);
    assert.match(await wire.reply(), /^421 /);
    await wire.whenClosed();
  });
});

describe('PIPELINING (RFC 2920) and the recipient minimum (RFC 5321 4.5.3.1.8)', () => {
  test('mx: a batch in one segment gets its replies in order, and the next batch follows the message', async () => {
    const wire = await mxSession();
    wire.write(
      'MAIL FROM:<a@remote.example>\r\nRCPT TO:<alice@example.test>\r\nRCPT TO:<nobody@example.test>\r\n' +
        'RCPT TO:<bob@example.test>\r\nDATA\r\n',
    );
    const replies = [];
    // The code and the enhanced code of each reply (354 has none).
    for (let i = 0; i < 5; i++) replies.push(/^\d{3}(?: \d\.\d+\.\d+)?/.exec(await wire.reply())?.[0]);
    assert.deepEqual(replies, ['250 2.1.0', '250 2.1.5', '550 5.1.1', '250 2.1.5', '354']);
    wire.write(
      'Subject: batch one\r\n\r\nOne.\r\n.\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n',
    );
    for (const code of [250, 250, 250, 354]) expectCode(await wire.reply(), code);
    wire.write('Subject: batch two\r\n\r\nTwo.\r\n.\r\nQUIT\r\n');
    expectCode(await wire.reply(), 250);
    expectCode(await wire.reply(), 221);
    wire.close();
  });

  test('msa: 100 recipients are accepted, the 101st gets 452 4.5.3', async () => {
    const { wire, auth } = await submissionSession(
      hermod.ports.submission,
      'alice@example.test',
      'alice-password-1',
    );
    expectCode(auth, 235);
    expectCode(await wire.command('MAIL FROM:<alice@example.test>'), 250);
    // Pipelined, as a client with many recipients sends them.
    wire.write(Array.from({ length: 101 }, (_, i) => `RCPT TO:<r${i}@remote.example>\r\n`).join(''));
    for (let i = 0; i < 100; i++) expectCode(await wire.reply(), 250);
    assert.match(await wire.reply(), /^452 4\.5\.3 /);
    expectCode(await wire.command('RSET'), 250);
    await wire.command('QUIT');
    wire.close();
  });
});

describe('errors per session', () => {
  test('mx: the 20th refusal in a session (a directory harvest) is followed by 421 4.7.0 and the end', async () => {
    const wire = await mxSession();
    expectCode(await wire.command('MAIL FROM:<a@remote.example>'), 250);
    // 19 refusals leave the session usable.
    wire.write(Array.from({ length: 19 }, (_, i) => `RCPT TO:<u${i}@example.test>\r\n`).join(''));
    for (let i = 0; i < 19; i++) assert.match(await wire.reply(), /^550 5\.1\.1 /);
    expectCode(await wire.command('RCPT TO:<alice@example.test>'), 250);
    wire.write('RCPT TO:<u19@example.test>\r\nRCPT TO:<u20@example.test>\r\nRCPT TO:<u21@example.test>\r\n');
    assert.match(await wire.reply(), /^550 5\.1\.1 /);
    assert.match(await wire.reply(), /^421 4\.7\.0 /);
    await wire.whenClosed();
  });
});

describe('SMTP smuggling on submission', () => {
  test('msa: a bare-LF end of data with a smuggled transaction is content, stored with CRLF only', async () => {
    const { wire, auth } = await submissionSession(
      hermod.ports.submission,
      'alice@example.test',
      'alice-password-1',
    );
    expectCode(auth, 235);
    const send = async (body: string) => {
      expectCode(await wire.command('MAIL FROM:<alice@example.test>'), 250);
      expectCode(await wire.command('RCPT TO:<carol@example.test>'), 250);
      expectCode(await wire.command('DATA'), 354);
      wire.write(body);
      return wire.reply();
    };
    const smuggled =
      'From: alice@example.test\r\nSubject: carrier\r\n\r\nbefore\n.\nMAIL FROM:<alice@example.test>\n' +
      'RCPT TO:<carol@example.test>\nDATA\nSubject: smuggled\n\nx\r\n.\r\n';
    expectCode(await send(smuggled), 250);
    // The next reply answers the next command: nothing smuggled was answered in between.
    expectCode(await send('From: alice@example.test\r\nSubject: marker\r\n\r\nlast\r\n.\r\n'), 250);
    await wire.command('QUIT');
    wire.close();
    const stored = await waitForMessages(hermod.db.pool, 'carol@example.test', 2);
    assert.equal(stored.length, 2);
    const carrier = stored.find((m) => /^Subject: carrier\r$/m.test(m.text));
    assert.ok(carrier, 'the carrier message is stored');
    assert.ok(
      carrier.text.endsWith(
        '\r\n\r\nbefore\r\n.\r\nMAIL FROM:<alice@example.test>\r\nRCPT TO:<carol@example.test>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n',
      ),
      carrier.text,
    );
    assert.doesNotMatch(carrier.text, /[^\r]\n|\r[^\n]/, 'no bare LF or CR is stored');
  });
});
