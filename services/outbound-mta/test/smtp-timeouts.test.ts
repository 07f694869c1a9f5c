// RFC 5321 4.5.3.2: the client's waits for the server are at least 5 minutes for the 220 greeting
// and 10 minutes for the reply to the final dot of DATA, longer than for a command (5 minutes).
// Scaled down here, against a real SMTP server on loopback (smtp-server) that answers the greeting
// and the end of DATA late: longer than the command timeout, shorter than the phase's own.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { SMTPServer } from 'smtp-server';
import { SmtpSession } from '../src/delivery/smtp-session.js';

const LATE_MS = 1_500;
let server: SMTPServer;
let port = 0;

before(async () => {
  server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    // The greeting goes out once this calls back: a slow server's late 220.
    onConnect(_session, callback) {
      setTimeout(callback, LATE_MS);
    },
    onData(stream, _session, callback) {
      stream.resume();
      stream.on('end', () => setTimeout(callback, LATE_MS));
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.server.address() as { port: number }).port;
});

after(() => new Promise<void>((resolve) => server.close(() => resolve())));

test('a late 220 and a late reply to the final dot are waited for, each by its own timeout', async () => {
  const session = await SmtpSession.open({
    host: 'slow.test',
    address: '127.0.0.1',
    port,
    heloName: 'client.test',
    requireTls: false,
    verifyTls: false,
    connectTimeoutMs: 500,
    commandTimeoutMs: 500,
    greetingTimeoutMs: 10_000,
    finalDotTimeoutMs: 10_000,
  });
  try {
    const result = await session.send(
      'sender@client.test',
      ['rcpt@slow.test'],
      Buffer.from('Subject: slow\r\n\r\nbody\r\n'),
      { eightBit: false },
    );
    assert.deepEqual(result.accepted, ['rcpt@slow.test']);
    assert.match(result.reply, /^250 /);
    // After the message the command timeout applies again: the next transaction still works.
    const second = await session.send(
      'sender@client.test',
      ['rcpt@slow.test'],
      Buffer.from('Subject: 2\r\n\r\nx\r\n'),
      {
        eightBit: false,
      },
    );
    assert.match(second.reply, /^250 /);
  } finally {
    session.close();
  }
});

test('the reply to the final dot is not waited for past its own timeout', async () => {
  const session = await SmtpSession.open({
    host: 'slow.test',
    address: '127.0.0.1',
    port,
    heloName: 'client.test',
    requireTls: false,
    verifyTls: false,
    connectTimeoutMs: 500,
    commandTimeoutMs: 10_000,
    greetingTimeoutMs: 10_000,
    finalDotTimeoutMs: 300,
  });
  try {
    await assert.rejects(
      session.send('sender@client.test', ['rcpt@slow.test'], Buffer.from('Subject: x\r\n\r\nx\r\n'), {
        eightBit: false,
      }),
      (error: Error) => error.name === 'NetworkError',
    );
  } finally {
    session.close();
  }
});
