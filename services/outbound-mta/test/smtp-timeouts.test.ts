// RFC 5321 4.5.3.2: the client's waits for the server are at least 5 minutes for the 220 greeting
// and 10 minutes for the reply to the final dot of DATA, longer than for a command (5 minutes).
// Scaled down here, against a real SMTP server on loopback (smtp-server) that holds the greeting and
// the reply to the final dot until the test lets them go. No timer decides the outcome: the held
// answer is let go only once a control session, waiting with the short timeout, has given up on the
// same wait, so the session under test has by then waited past its command timeout.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { SMTPServer } from 'smtp-server';
import { SmtpSession } from '../src/delivery/smtp-session.js';

/** Answers the server holds back, and a way to hear when the next one is held. */
class Held {
  private readonly callbacks: Array<() => void> = [];
  private waiters: Array<{ count: number; resolve: () => void }> = [];
  holding = false;

  /** Takes the answer if holding (and tells the waiters), else gives it at once. */
  take(callback: () => void): void {
    if (!this.holding) {
      callback();
      return;
    }
    this.callbacks.push(callback);
    const ready = this.waiters.filter((w) => w.count <= this.callbacks.length);
    this.waiters = this.waiters.filter((w) => w.count > this.callbacks.length);
    for (const waiter of ready) waiter.resolve();
  }

  /** Resolves once `count` answers are held. */
  until(count: number): Promise<void> {
    if (this.callbacks.length >= count) return Promise.resolve();
    return new Promise<void>((resolve) => this.waiters.push({ count, resolve }));
  }

  release(): void {
    this.holding = false;
    for (const callback of this.callbacks.splice(0)) callback();
  }
}

const greetings = new Held();
const dataReplies = new Held();
let server: SMTPServer;
let port = 0;

before(async () => {
  server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    // The greeting goes out once this calls back.
    onConnect(_session, callback) {
      greetings.take(() => callback());
    },
    onData(stream, _session, callback) {
      stream.resume();
      stream.on('end', () => dataReplies.take(() => callback()));
    },
  });
  // A held answer let go after its client gave up writes to a closed socket.
  server.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.server.address() as { port: number }).port;
});

after(() => new Promise<void>((resolve) => server.close(() => resolve())));

function open(timeouts: { commandTimeoutMs: number; greetingTimeoutMs: number; finalDotTimeoutMs: number }) {
  return SmtpSession.open({
    host: 'slow.test',
    address: '127.0.0.1',
    port,
    heloName: 'client.test',
    requireTls: false,
    verifyTls: false,
    connectTimeoutMs: 5_000,
    ...timeouts,
  });
}

const message = (subject: string) => Buffer.from(`Subject: ${subject}\r\n\r\nbody\r\n`);

test('a late 220 and a late reply to the final dot are waited for, each by its own timeout', async () => {
  // The greeting: held for both; the control (greeting timeout = command timeout) gives up first.
  greetings.holding = true;
  const opening = open({ commandTimeoutMs: 500, greetingTimeoutMs: 30_000, finalDotTimeoutMs: 30_000 });
  await greetings.until(1);
  await assert.rejects(open({ commandTimeoutMs: 500, greetingTimeoutMs: 500, finalDotTimeoutMs: 500 }));
  greetings.release();
  const session = await opening;
  try {
    // The final dot: the same, with a control that waits for it only as long as for a command.
    dataReplies.holding = true;
    const sending = session.send('sender@client.test', ['rcpt@slow.test'], message('slow'), {
      eightBit: false,
    });
    await dataReplies.until(1);
    const control = await open({
      commandTimeoutMs: 30_000,
      greetingTimeoutMs: 30_000,
      finalDotTimeoutMs: 500,
    });
    try {
      await assert.rejects(
        control.send('sender@client.test', ['rcpt@slow.test'], message('control'), { eightBit: false }),
        (error: Error) => error.name === 'NetworkError',
      );
    } finally {
      control.close();
    }
    dataReplies.release();
    const result = await sending;
    assert.deepEqual(result.accepted, ['rcpt@slow.test']);
    assert.match(result.reply, /^250 /);
    // After the message the command timeout applies again: the next transaction still works.
    const second = await session.send('sender@client.test', ['rcpt@slow.test'], message('2'), {
      eightBit: false,
    });
    assert.match(second.reply, /^250 /);
  } finally {
    session.close();
  }
});

test('the reply to the final dot is not waited for past its own timeout', async () => {
  const session = await open({ commandTimeoutMs: 10_000, greetingTimeoutMs: 10_000, finalDotTimeoutMs: 300 });
  dataReplies.holding = true;
  try {
    await assert.rejects(
      session.send('sender@client.test', ['rcpt@slow.test'], message('x'), { eightBit: false }),
      (error: Error) => error.name === 'NetworkError',
    );
  } finally {
    session.close();
    dataReplies.release();
  }
});
