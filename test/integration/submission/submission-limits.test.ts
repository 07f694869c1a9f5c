// Per-account submission limits against real msa (two replicas sharing PostgreSQL), routing and
// mda over raw sockets: messages and recipients per hour (counted across replicas) with 451 and
// 452, and concurrent sessions with 454 at AUTH, freed when a session ends.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AccountStore } from '@hermod/accounts';
import { freePort } from '@hermod/local-infra';
import { eventually, type HermodPlatform, startHermod } from '@hermod/test/harness';
import { expectCode, type SmtpWire, submissionSession } from '../mx/smtp-wire.js';

let hermod: HermodPlatform;
let secondPort = 0;

before(async () => {
  hermod = await startHermod({
    services: ['routing', 'mda', 'msa'],
    env: {
      msa: {
        MSA_ACCOUNT_MESSAGES_PER_HOUR: '2',
        MSA_ACCOUNT_RECIPIENTS_PER_HOUR: '3',
        MSA_ACCOUNT_MAX_SESSIONS: '1',
      },
    },
  });
  secondPort = await freePort();
  await hermod.startReplica('msa', {
    MSA_SUBMISSION_PORT: String(secondPort),
    MSA_SUBMISSIONS_PORT: String(await freePort()),
  });
  await hermod.addDomain('example.test');
  const accounts = new AccountStore(hermod.db.pool);
  for (const user of ['sam', 'rita', 'tom', 'uma', 'vic'])
    await accounts.create({ address: `${user}@example.test`, password: `${user}-password-1` });
});

after(async () => {
  await hermod?.stop();
});

const session = (port: number, user: string) =>
  submissionSession(port, `${user}@example.test`, `${user}-password-1`);

async function send(wire: SmtpWire, from: string, to: string[]): Promise<string[]> {
  const replies = [await wire.command(`MAIL FROM:<${from}>`)];
  if (!replies[0]!.startsWith('250')) return replies;
  for (const r of to) replies.push(await wire.command(`RCPT TO:<${r}>`));
  if (replies.slice(1).some((r) => r.startsWith('250'))) {
    expectCode(await wire.command('DATA'), 354);
    wire.write(`From: ${from}\r\nSubject: limits\r\n\r\nHi.\r\n.\r\n`);
    replies.push(await wire.reply());
  } else replies.push(await wire.command('RSET'));
  return replies;
}

test('hourly messages and recipients per account, counted across replicas', async () => {
  const a = await session(hermod.ports.submission, 'sam');
  expectCode(a.auth, 235);
  const first = await send(a.wire, 'sam@example.test', ['rita@example.test', 'tom@example.test']);
  assert.deepEqual(
    first.map((r) => r.slice(0, 3)),
    ['250', '250', '250', '250'],
  );
  a.wire.close();
  // The other replica: one more recipient is allowed, the fourth is not.
  const b = await session(secondPort, 'sam');
  expectCode(b.auth, 235);
  const second = await send(b.wire, 'sam@example.test', ['uma@example.test', 'vic@example.test']);
  assert.equal(second[1]!.slice(0, 3), '250');
  assert.match(second[2]!, /^452 4\.5\.3 Hourly recipient limit reached for this account/);
  assert.equal(second[3]!.slice(0, 3), '250', 'the message goes to the recipient that was accepted');
  // Two messages this hour: the third MAIL FROM is refused.
  assert.match(
    await b.wire.command('MAIL FROM:<sam@example.test>'),
    /^451 4\.7\.1 Hourly message limit reached/,
  );
  b.wire.close();
  // Another account is not affected.
  const c = await session(hermod.ports.submission, 'rita');
  expectCode(c.auth, 235);
  assert.equal((await c.wire.command('MAIL FROM:<rita@example.test>')).slice(0, 3), '250');
  c.wire.close();
});

test('concurrent sessions per account: 454 at AUTH, free again once the session ends', async () => {
  const a = await session(hermod.ports.submission, 'tom');
  expectCode(a.auth, 235);
  const b = await session(hermod.ports.submission, 'tom');
  assert.match(b.auth, /^454 4\.7\.0 Too many concurrent sessions for this account/);
  b.wire.close();
  await a.wire.command('QUIT');
  a.wire.close();
  await eventually('the session to be released', async () => {
    const c = await session(hermod.ports.submission, 'tom');
    c.wire.close();
    return c.auth.startsWith('235') ? true : undefined;
  });
});
