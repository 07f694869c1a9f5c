// Compromised-account containment and limit overrides against real msa (two replicas sharing
// PostgreSQL), routing and mda over raw sockets, with the hermod CLI as an operator runs it:
// an account whose submissions the hourly recipient limit cuts short repeatedly (across replicas)
// is suspended from sending (550 5.7.1), its owner finds a notice in its INBOX, the suspension is
// counted and logged, and `hermod user unsuspend` lifts it; per-account and per-domain overrides
// of the messages, recipients and sessions limits apply over the global settings.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AccountStore } from '@hermod/accounts';
import { freePort, type NodeServiceProcess } from '@hermod/local-infra';
import { eventually, type HermodPlatform, hermodCli, inboxMessages, startHermod } from '@hermod/test/harness';
import { expectCode, type SmtpWire, submissionSession } from '../mx/smtp-wire.js';

let hermod: HermodPlatform;
let secondPort = 0;
let replica: NodeServiceProcess;

const SUSPENDED = /^550 5\.7\.1 Sending from this account is suspended; contact your mail administrator/;
const RECIPIENT_LIMIT = /^452 4\.5\.3 Hourly recipient limit reached for this account/;

before(async () => {
  hermod = await startHermod({
    services: ['routing', 'mda', 'msa'],
    env: {
      msa: {
        MSA_ACCOUNT_RECIPIENTS_PER_HOUR: '2',
        MSA_SUSPEND_AFTER_LIMIT_HITS: '3',
        MSA_SUSPEND_WINDOW_MS: '3600000',
      },
      routing: { SPOOL_SWEEP_INTERVAL_MS: '200' },
    },
  });
  secondPort = await freePort();
  replica = await hermod.startReplica('msa', {
    MSA_SUBMISSION_PORT: String(secondPort),
    MSA_SUBMISSIONS_PORT: String(await freePort()),
  });
  await hermod.addDomain('example.test');
  await hermod.addDomain('other.test');
  const accounts = new AccountStore(hermod.db.pool);
  for (const user of ['spammer', 'bystander', 'exempt', 'rcpt', 'plain'])
    await accounts.create({ address: `${user}@example.test`, password: `${user}-password-1` });
  for (const user of ['dom', 'own'])
    await accounts.create({ address: `${user}@other.test`, password: `${user}-password-1` });
});

after(async () => {
  await hermod?.stop();
});

const cli = async (args: string[]) => {
  const result = await hermodCli(hermod, args);
  assert.equal(result.code, 0, `hermod ${args.join(' ')}: ${result.stdout}${result.stderr}`);
  return result.stdout;
};

async function session(port: number, address: string, password = `${address.split('@')[0]}-password-1`) {
  const s = await submissionSession(port, address, password);
  expectCode(s.auth, 235);
  return s.wire;
}

/** One transaction: MAIL FROM, then each RCPT TO; returns the replies and resets. */
async function transaction(wire: SmtpWire, from: string, to: string[]): Promise<string[]> {
  const replies = [await wire.command(`MAIL FROM:<${from}>`)];
  if (replies[0]!.startsWith('250')) for (const r of to) replies.push(await wire.command(`RCPT TO:<${r}>`));
  await wire.command('RSET');
  return replies;
}

async function metric(pattern: RegExp): Promise<number> {
  let sum = 0;
  for (const service of [hermod.services.get('msa')!, replica])
    sum += (await (await fetch(`http://127.0.0.1:${service.options.opsPort}/metrics`)).text())
      .split('\n')
      .filter((l) => pattern.test(l))
      .reduce((s, l) => s + Number(l.split(' ').at(-1)), 0);
  return sum;
}

const inboxSubjects = async (address: string) =>
  (await inboxMessages(hermod.db.pool, address)).map((m) => /^Subject: (.*)$/m.exec(m)?.[1]?.trim() ?? '');

describe('compromised-account containment', () => {
  test('repeated hits of the recipient limit suspend sending; the owner is notified; unsuspend lifts it', async () => {
    const suspensionsBefore = await metric(
      /^hermod_msa_sending_suspensions_total\{[^}]*cause="recipient-limit"/,
    );
    const recipients = ['bystander@example.test', 'rcpt@example.test', 'plain@example.test'];
    // Hit 1 on the first replica: two recipients pass, the third meets the limit.
    const a = await session(hermod.ports.submission, 'spammer@example.test');
    const first = await transaction(a, 'spammer@example.test', recipients);
    assert.deepEqual(
      first.slice(0, 3).map((r) => r.slice(0, 3)),
      ['250', '250', '250'],
    );
    assert.match(first[3]!, RECIPIENT_LIMIT);
    // Hit 2 on the other replica: a transaction refused at its first recipient counts once, however many it tries.
    const b = await session(secondPort, 'spammer@example.test');
    const second = await transaction(b, 'spammer@example.test', recipients);
    assert.match(second[1]!, RECIPIENT_LIMIT);
    assert.match(second[2]!, RECIPIENT_LIMIT);
    assert.match(second[3]!, RECIPIENT_LIMIT);
    // Hit 3: suspended, and the reply says so.
    const third = await transaction(b, 'spammer@example.test', recipients);
    assert.match(third[1]!, SUSPENDED);
    assert.match(third[2]!, SUSPENDED);
    // Every later transaction, on either replica, is refused at MAIL FROM; the reply names no other account.
    const refused = await a.command('MAIL FROM:<spammer@example.test>');
    assert.match(refused, SUSPENDED);
    assert.doesNotMatch(refused, /bystander|rcpt|plain/);
    assert.match(await b.command('MAIL FROM:<spammer@example.test>'), SUSPENDED);

    // Another account of the same domain sends as before.
    const other = await session(hermod.ports.submission, 'bystander@example.test');
    assert.equal(
      (await transaction(other, 'bystander@example.test', ['rcpt@example.test']))[1]!.slice(0, 3),
      '250',
    );
    other.close();

    // The owner finds the notice in its own INBOX; counted once, logged as an event.
    await eventually('the suspension notice in the INBOX', async () =>
      (await inboxSubjects('spammer@example.test')).includes('Sending from your account has been suspended')
        ? true
        : undefined,
    );
    assert.equal(
      (await metric(/^hermod_msa_sending_suspensions_total\{[^}]*cause="recipient-limit"/)) -
        suspensionsBefore,
      1,
    );
    const logs = [hermod.services.get('msa')!, replica].map((s) => s.logs()).join('\n');
    assert.match(logs, /"event":"account\.sending-suspended"[^\n]*"cause":"recipient-limit"/);
    assert.match(await cli(['user', 'limits', 'spammer@example.test']), /sending +suspended since/);

    // The operator lifts it: the account sends again (within its limit), and its hits start from nothing.
    assert.match(
      await cli(['user', 'unsuspend', 'spammer@example.test', '--sending-only']),
      /sending allowed/,
    );
    assert.equal((await a.command('MAIL FROM:<spammer@example.test>')).slice(0, 3), '250');
    assert.match(await a.command('RCPT TO:<bystander@example.test>'), RECIPIENT_LIMIT);
    await a.command('RSET');
    a.close();
    b.close();
  });

  test('an operator suspends sending, or the whole account, with the CLI', async () => {
    await cli(['user', 'suspend', 'plain@example.test', '--sending-only', '--reason', 'sent malware']);
    const wire = await session(hermod.ports.submission, 'plain@example.test');
    assert.match(await wire.command('MAIL FROM:<plain@example.test>'), SUSPENDED);
    await cli(['user', 'unsuspend', 'plain@example.test']);
    assert.equal((await wire.command('MAIL FROM:<plain@example.test>')).slice(0, 3), '250');
    wire.close();
    await eventually('the notice with the reason', async () =>
      (await inboxSubjects('plain@example.test')).includes('Sending from your account has been suspended')
        ? true
        : undefined,
    );
    // Without --sending-only the account cannot log in at all, until unsuspended.
    await cli(['user', 'suspend', 'plain@example.test']);
    const refused = await submissionSession(
      hermod.ports.submission,
      'plain@example.test',
      'plain-password-1',
    );
    assert.match(refused.auth, /^535 /);
    refused.wire.close();
    await cli(['user', 'unsuspend', 'plain@example.test']);
    (await session(hermod.ports.submission, 'plain@example.test')).close();
  });

  test('an account exempted with --auto-suspend off is limited but never suspended', async () => {
    await cli(['user', 'limits', 'exempt@example.test', '--auto-suspend', 'off']);
    const wire = await session(hermod.ports.submission, 'exempt@example.test');
    const replies: string[] = [];
    for (let i = 0; i < 5; i++)
      replies.push(
        ...(
          await transaction(wire, 'exempt@example.test', [
            'a@example.test',
            'b@example.test',
            'c@example.test',
          ])
        ).slice(1),
      );
    // Every transaction after the limit is refused with 452, not 550, and MAIL FROM still passes.
    assert.equal(replies.filter((r) => RECIPIENT_LIMIT.test(r)).length, 13);
    assert.equal(replies.filter((r) => SUSPENDED.test(r)).length, 0);
    assert.equal((await wire.command('MAIL FROM:<exempt@example.test>')).slice(0, 3), '250');
    wire.close();
  });
});

describe('per-account and per-domain limit overrides', () => {
  test('account override, else domain override, else the global setting', async () => {
    await cli(['domain', 'limits', 'other.test', '--recipients-per-hour', '4', '--messages-per-hour', '3']);
    await cli(['user', 'limits', 'own@other.test', '--recipients-per-hour', '1']);
    const count = async (address: string) => {
      const wire = await session(hermod.ports.submission, address);
      const replies = await transaction(
        wire,
        address,
        ['a', 'b', 'c', 'd', 'e', 'f'].map((l) => `${l}@example.test`),
      );
      wire.close();
      return replies.slice(1).filter((r) => !RECIPIENT_LIMIT.test(r)).length;
    };
    assert.equal(await count('dom@other.test'), 4, 'the domain override');
    assert.equal(await count('own@other.test'), 1, "the account's own override");
    assert.equal(await count('rcpt@example.test'), 2, 'the global setting');

    // Messages per hour from the domain: the fourth MAIL FROM of dom@other.test is refused.
    const wire = await session(hermod.ports.submission, 'dom@other.test');
    const mails = [];
    for (let i = 0; i < 3; i++) {
      mails.push(await wire.command('MAIL FROM:<dom@other.test>'));
      await wire.command('RSET');
    }
    assert.deepEqual(
      mails.map((r) => r.slice(0, 3)),
      ['250', '250', '451'],
    );
    wire.close();

    // 'inherit' clears an override: own@other.test now has the domain's four.
    assert.match(
      await cli(['user', 'limits', 'own@other.test', '--recipients-per-hour', 'inherit']),
      /recipients-per-hour +inherit/,
    );
  });

  test('concurrent sessions: an account override of 1 gives 454 at AUTH for the second session', async () => {
    await cli(['user', 'limits', 'bystander@example.test', '--max-sessions', '1']);
    const first = await session(hermod.ports.submission, 'bystander@example.test');
    const second = await submissionSession(
      hermod.ports.submission,
      'bystander@example.test',
      'bystander-password-1',
    );
    assert.match(second.auth, /^454 4\.7\.0 Too many concurrent sessions for this account/);
    second.wire.close();
    // Another account of the same domain (no override, global 0) opens two at once.
    const x = await session(hermod.ports.submission, 'rcpt@example.test');
    const y = await session(hermod.ports.submission, 'rcpt@example.test');
    x.close();
    y.close();
    first.close();
  });
});
