// SMTP details that RFCs fix, over raw sockets against real mx and msa (with routing and mda):
// UTF-8 envelope senders (RFC 6531) in the stored trace fields, 8-bit addresses without SMTPUTF8,
// RCPT TO:<Postmaster> (RFC 5321 4.5.1), the Received `with` keyword (RFC 3848, RFC 6531), enhanced
// status codes on every reply (RFC 2034, RFC 3463), and refusals counted by reason.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AccountStore } from '@hermod/accounts';
import { DnsTestServer, eventually, type HermodPlatform, startHermod } from '@hermod/test/harness';
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
      mx: {
        MX_DNS_SERVERS: dns.address,
        MX_MAX_MESSAGE_BYTES: '100000',
        MX_POSTMASTER_ADDRESS: 'postmaster@example.test',
      },
      msa: { MSA_MAX_MESSAGE_BYTES: '100000', MSA_POSTMASTER_ADDRESS: 'postmaster@example.test' },
    },
  });
  await hermod.addDomain('example.test');
  const accounts = new AccountStore(hermod.db.pool);
  for (const user of ['alice', 'bob', 'postmaster', 'ulla'])
    await accounts.create({ address: `${user}@example.test`, password: `${user}-password-1` });
});

after(async () => {
  await hermod?.stop();
  await dns?.stop();
});

/** Every stored message of address, as raw bytes. */
async function storedBytes(address: string, count: number): Promise<Buffer[]> {
  const messages = await waitForMessages(hermod.db.pool, address, count);
  return messages.map((m) => Buffer.from(m.text, 'latin1'));
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** An MX session up to EHLO. */
async function mxSession(): Promise<SmtpWire> {
  const wire = await SmtpWire.open(hermod.ports.mx);
  expectCode(await wire.reply(), 220);
  expectCode(await wire.command('EHLO client.remote.example'), 250);
  return wire;
}

/** A submission session over STARTTLS, logged in as user. */
async function msaSession(user: string): Promise<SmtpWire> {
  const { wire, auth } = await submissionSession(
    hermod.ports.submission,
    `${user}@example.test`,
    `${user}-password-1`,
  );
  expectCode(auth, 235);
  return wire;
}

async function metric(service: 'mx' | 'msa', pattern: RegExp): Promise<number> {
  const ops = hermod.services.get(service)!.options.opsPort;
  const text = await (await fetch(`http://127.0.0.1:${ops}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => pattern.test(l))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}

describe('mx: UTF-8 envelope', () => {
  test('a UTF-8 sender with SMTPUTF8 is stored as UTF-8 in Received-SPF and Authentication-Results', async () => {
    const wire = await mxSession();
    const sender = 'jos\u00e9.\u5f20@remote.example';
    wire.write(Buffer.from(`MAIL FROM:<${sender}> SMTPUTF8\r\n`, 'utf8'));
    expectCode(await wire.reply(), 250);
    expectCode(await wire.command('RCPT TO:<alice@example.test>'), 250);
    expectCode(await wire.command('DATA'), 354);
    wire.write('From: someone@remote.example\r\nSubject: utf8 sender\r\n\r\nHello.\r\n.\r\n');
    expectCode(await wire.reply(), 250);
    await wire.command('QUIT');
    wire.close();
    const [stored] = await storedBytes('alice@example.test', 1);
    const header = stored!.subarray(0, stored!.indexOf('\r\n\r\n'));
    const text = utf8.decode(header); // throws on invalid UTF-8
    assert.ok(text.includes(sender), text);
    assert.match(text, /^Received-SPF: /m);
    assert.ok(
      text.includes(` smtp.mailfrom="${sender}"`),
      'Authentication-Results names the sender in UTF-8',
    );
    assert.match(text, / with UTF8SMTP id /, 'RFC 6531 protocol keyword');
  });

  test('an 8-bit sender without SMTPUTF8 is refused with 553 5.6.7', async () => {
    const wire = await mxSession();
    wire.write(Buffer.from('MAIL FROM:<jos\u00e9@remote.example>\r\n', 'utf8'));
    assert.match(await wire.reply(), /^553 5\.6\.7 /);
    wire.write(Buffer.from('RCPT TO:<\u00fclla@example.test>\r\n', 'utf8'));
    assert.match(await wire.reply(), /^503 5\.5\.1 /);
    expectCode(await wire.command('MAIL FROM:<plain@remote.example>'), 250);
    wire.write(Buffer.from('RCPT TO:<\u00fclla@example.test>\r\n', 'utf8'));
    assert.match(await wire.reply(), /^553 5\.6\.7 /);
    wire.close();
  });

  test('bytes that are not UTF-8 in MAIL FROM are refused, even with SMTPUTF8', async () => {
    const wire = await mxSession();
    wire.write(
      Buffer.concat([
        Buffer.from('MAIL FROM:<jos'),
        Buffer.from([0xe9]),
        Buffer.from('@remote.example> SMTPUTF8\r\n'),
      ]),
    );
    assert.match(await wire.reply(), /^553 5\.6\.7 /);
    wire.close();
  });
});

describe('RCPT TO:<Postmaster>', () => {
  test('mx accepts it without a domain and delivers to the configured postmaster', async () => {
    const wire = await mxSession();
    expectCode(await wire.command('MAIL FROM:<someone@remote.example>'), 250);
    assert.match(await wire.command('RCPT TO:<Postmaster>'), /^250 /);
    expectCode(await wire.command('DATA'), 354);
    wire.write('From: someone@remote.example\r\nSubject: to the postmaster\r\n\r\nHi.\r\n.\r\n');
    expectCode(await wire.reply(), 250);
    wire.close();
    const [stored] = await storedBytes('postmaster@example.test', 1);
    assert.match(stored!.toString('latin1'), /Subject: to the postmaster/);
  });

  test('msa accepts it too', async () => {
    const wire = await msaSession('bob');
    expectCode(await wire.command('MAIL FROM:<bob@example.test>'), 250);
    assert.match(await wire.command('RCPT TO:<postmaster>'), /^250 /);
    expectCode(await wire.command('DATA'), 354);
    wire.write('From: bob@example.test\r\nSubject: bob to the postmaster\r\n\r\nHi.\r\n.\r\n');
    expectCode(await wire.reply(), 250);
    wire.close();
    const messages = await storedBytes('postmaster@example.test', 2);
    assert.ok(messages.some((m) => /Subject: bob to the postmaster/.test(m.toString('latin1'))));
  });
});

describe('Received protocol keyword', () => {
  test('msa: ESMTPSA, and UTF8SMTPSA for an SMTPUTF8 transaction', async () => {
    const wire = await msaSession('ulla');
    for (const [subject, parameter] of [
      ['plain submission', ''],
      ['utf8 submission', ' SMTPUTF8'],
    ] as const) {
      expectCode(await wire.command(`MAIL FROM:<ulla@example.test>${parameter}`), 250);
      expectCode(await wire.command('RCPT TO:<ulla@example.test>'), 250);
      expectCode(await wire.command('DATA'), 354);
      wire.write(`From: ulla@example.test\r\nSubject: ${subject}\r\n\r\nHi.\r\n.\r\n`);
      expectCode(await wire.reply(), 250);
    }
    wire.close();
    const texts = (await storedBytes('ulla@example.test', 2)).map((m) => m.toString('latin1'));
    const plain = texts.find((t) => t.includes('Subject: plain submission'))!;
    const utf8Text = texts.find((t) => t.includes('Subject: utf8 submission'))!;
    assert.match(plain, / with ESMTPSA id /);
    assert.match(utf8Text, / with UTF8SMTPSA id /);
  });
});

describe('enhanced status codes', () => {
  const everyReplyHasACode = (replies: string[]) => {
    for (const reply of replies)
      for (const line of reply.split('\r\n').filter(Boolean))
        assert.match(line, /^\d{3}[ -]\d\.\d{1,3}\.\d{1,3} /, `no enhanced code in ${JSON.stringify(line)}`);
  };

  test('mx advertises ENHANCEDSTATUSCODES and every reply after EHLO carries one', async () => {
    const wire = await SmtpWire.open(hermod.ports.mx);
    expectCode(await wire.reply(), 220);
    assert.match(await wire.command('EHLO client.remote.example'), /250[ -]ENHANCEDSTATUSCODES\r\n/);
    const replies = [
      await wire.command('RCPT TO:<alice@example.test>'), // 503
      await wire.command('MAIL FROM:bad'), // 501
      await wire.command('MAIL FROM:<a@remote.example> SIZE=200000'), // 552
      await wire.command('MAIL FROM:<a@remote.example>'),
      await wire.command('MAIL FROM:<a@remote.example>'), // 503 nested
      await wire.command('RCPT TO:<nobody@example.test>'), // 550
      await wire.command('RCPT TO:<someone@elsewhere.example>'), // relaying denied
      await wire.command('RCPT TO:<alice@example.test>'),
      await wire.command('NOOP'),
      await wire.command('RSET'),
      await wire.command('QUIT'),
    ];
    everyReplyHasACode(replies);
    assert.match(replies[2]!, /^552 5\.3\.4 Message size exceeds fixed limit of 100000 bytes\r\n$/);
    wire.close();
  });

  test('the 552 at DATA has the same wording as at MAIL', async () => {
    const wire = await mxSession();
    expectCode(await wire.command('MAIL FROM:<a@remote.example>'), 250);
    expectCode(await wire.command('RCPT TO:<bob@example.test>'), 250);
    expectCode(await wire.command('DATA'), 354);
    wire.write(`Subject: big\r\n\r\n${`${'x'.repeat(998)}\r\n`.repeat(150)}.\r\n`);
    assert.equal(await wire.reply(), '552 5.3.4 Message size exceeds fixed limit of 100000 bytes\r\n');
    wire.close();
  });

  test('msa: 538 before TLS, 530 without AUTH, 503 out of order all carry codes', async () => {
    const wire = await SmtpWire.open(hermod.ports.submission);
    expectCode(await wire.reply(), 220);
    assert.match(await wire.command('EHLO laptop.client.test'), /250[ -]ENHANCEDSTATUSCODES\r\n/);
    const replies = [
      await wire.command('AUTH PLAIN AGFsaWNlAHBhc3N3b3Jk'), // 538
      await wire.command('MAIL FROM:<alice@example.test>'), // 530
      await wire.command('DATA'), // 503
      await wire.command('QUIT'),
    ];
    everyReplyHasACode(replies);
    assert.match(replies[0]!, /^538 5\.7\.11 /);
    wire.close();
  });
});

const refusalCounts = async () => ({
  sender: await metric('mx', /^hermod_mx_rejections_total\{.*reason="sender-encoding"/),
  recipient: await metric('mx', /^hermod_mx_rejections_total\{.*reason="recipient"/),
  relay: await metric('mx', /^hermod_mx_rejections_total\{.*reason="relay"/),
  size: await metric('mx', /^hermod_mx_rejections_total\{.*reason="size"/),
  authRequired: await metric('msa', /^hermod_msa_rejections_total\{.*reason="auth-required"/),
  msaRecipient: await metric('msa', /^hermod_msa_rejections_total\{.*reason="recipient"/),
  msaRelay: await metric('msa', /^hermod_msa_rejections_total\{.*reason="relay"/),
  msaRecipientSyntax: await metric('msa', /^hermod_msa_rejections_total\{.*reason="recipient-syntax"/),
});

describe('refusals are counted by reason', () => {
  test('mx and msa count sender, recipient, size, relay, recipient syntax and auth refusals', async () => {
    const before = await refusalCounts();
    const wire = await mxSession();
    wire.write(Buffer.from('MAIL FROM:<jos\u00e9@remote.example>\r\n', 'utf8'));
    await wire.reply();
    await wire.command('MAIL FROM:<a@remote.example> SIZE=200000');
    await wire.command('MAIL FROM:<a@remote.example>');
    await wire.command('RCPT TO:<nobody@example.test>');
    await wire.command('RCPT TO:<someone@elsewhere.example>');
    wire.close();
    const msa = await SmtpWire.open(hermod.ports.submission);
    await msa.reply();
    await msa.command('EHLO laptop.client.test');
    await msa.command('MAIL FROM:<alice@example.test>');
    msa.close();
    // Routing's refusals at RCPT count by the same reasons in msa as in mx.
    const submission = await msaSession('alice');
    expectCode(await submission.command('MAIL FROM:<alice@example.test>'), 250);
    expectCode(await submission.command('RCPT TO:<nobody@example.test>'), 550);
    assert.match(await submission.command('RCPT TO:<user%elsewhere.example@example.test>'), /^550 5\.7\.1 /);
    assert.match(await submission.command('RCPT TO:<no-such..dots@example.test>'), /^501 5\.1\.3 /);
    submission.close();
    await eventually('the refusal counters to move', async () => {
      const now = await refusalCounts();
      return Object.entries(now).every(([k, v]) => v === before[k as keyof typeof before] + 1)
        ? now
        : undefined;
    });
  });
});
