// Login over raw TLS sockets against real msa (two replicas), imap and pop3 sharing one PostgreSQL:
// AUTH PLAIN may not name another account as its authorization identity, and the throttle holds as
// an attacker tries to sidestep it: every spelling of an account counts against that account, each
// client IP has its own count, a success clears only its own account's count, and the counts hold
// across replicas and protocols.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AccountStore } from '@hermod/accounts';
import { freePort } from '@hermod/local-infra';
import { type HermodPlatform, startHermod } from '@hermod/test/harness';
import { login, type LoginOutcome as Outcome, type LoginProtocol as Protocol } from './login-wire.js';

let hermod: HermodPlatform;
let secondSubmissions = 0;

const THRESHOLD = 3;

/** Spellings that login resolves to victim@example.test (quoted local part, Unicode look-alike domains). */
const spellings = (local: string) => [
  `"${local}"@example.test`,
  `${local}@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0e\uff54\uff45\uff53\uff54`, // fullwidth letters and dot
  `${local}@\u{1d41e}\u{1d431}\u{1d41a}\u{1d426}\u{1d429}\u{1d425}\u{1d41e}.test`, // mathematical bold
  `${local.toUpperCase()}@\uff25\uff38\uff21\uff2d\uff30\uff2c\uff25.TEST`, // fullwidth upper case
];

/** A fresh client address for each attempt, so that only the account's count can lock it. */
let lastHost = 10;
const freshIp = () => `127.0.${Math.floor(++lastHost / 250)}.${(lastHost % 250) + 2}`;

const throttleEnv = {
  AUTH_LOCKOUT_THRESHOLD: String(THRESHOLD),
  AUTH_LOCKOUT_MS: '600000',
  AUTH_FAILURE_BASE_DELAY_MS: '0',
};

before(async () => {
  hermod = await startHermod({
    services: ['routing', 'imap', 'msa'],
    env: {
      msa: throttleEnv,
      imap: {
        AUTH_LOCKOUT_THRESHOLD: String(THRESHOLD),
        AUTH_FAILURE_BASE_DELAY_MS: '0',
        IMAP_MAX_AUTH_FAILURES: '100',
      },
    },
  });
  // A second msa replica over the same database, as a scaled-out deployment runs it.
  secondSubmissions = await freePort();
  await hermod.startReplica('msa', {
    MSA_SUBMISSION_PORT: String(await freePort()),
    MSA_SUBMISSIONS_PORT: String(secondSubmissions),
  });
  await hermod.addDomain('example.test');
  const accounts = new AccountStore(hermod.db.pool);
  await accounts.create({ address: 'carol@example.test', password: 'carol-password-1' });
  await accounts.addAlias('carol@example.test', 'sales@example.test');
  for (const name of ['victim', 'imapvictim', 'popvictim', 'sprayed', 'mallory', 'replicavictim'])
    await accounts.create({ address: `${name}@example.test`, password: `${name}-password-1` });
});

after(async () => {
  await hermod?.stop();
});

async function spellingsLockTheAccount(protocol: Protocol, port: number, local: string) {
  const outcomes: Outcome[] = [];
  for (const spelling of spellings(local).slice(0, THRESHOLD))
    outcomes.push(await login(protocol, port, freshIp(), spelling, 'wrong-password'));
  assert.deepEqual(outcomes, Array(THRESHOLD).fill('failed'));
  // Now locked: even the right password, from yet another address and another spelling, is refused.
  assert.equal(
    await login(protocol, port, freshIp(), spellings(local)[THRESHOLD]!, `${local}-password-1`),
    'locked',
  );
  assert.equal(
    await login(protocol, port, freshIp(), `${local}@example.test`, `${local}-password-1`),
    'locked',
  );
}

describe('login throttle', () => {
  test('msa: every spelling of an account counts against that account', async () => {
    await spellingsLockTheAccount('smtp', hermod.ports.submissions, 'victim');
  });

  test('imap: every spelling of an account counts against that account', async () => {
    await spellingsLockTheAccount('imap', hermod.ports.imaps, 'imapvictim');
  });

  test('pop3: every spelling of an account counts against that account', async () => {
    await spellingsLockTheAccount('pop3', hermod.ports.pop3s, 'popvictim');
  });

  test('msa: a success clears only its own account, not the IP that is guessing others', async () => {
    const ip = '127.200.0.1';
    const port = hermod.ports.submissions;
    assert.equal(await login('smtp', port, ip, 'nobody1@example.test', 'guess-1'), 'failed');
    assert.equal(await login('smtp', port, ip, 'nobody2@example.test', 'guess-2'), 'failed');
    assert.equal(await login('smtp', port, ip, 'mallory@example.test', 'mallory-password-1'), 'ok');
    assert.equal(await login('smtp', port, ip, 'nobody3@example.test', 'guess-3'), 'failed');
    // Three failures from this IP: it is locked, whichever account it tries next.
    assert.equal(await login('smtp', port, ip, 'nobody4@example.test', 'guess-4'), 'locked');
    assert.equal(await login('smtp', port, ip, 'mallory@example.test', 'mallory-password-1'), 'locked');
  });

  test('unknown accounts are throttled exactly like known ones', async () => {
    const port = hermod.ports.submissions;
    const outcomes: Outcome[] = [];
    for (const spelling of spellings('ghost').concat('ghost@example.test'))
      outcomes.push(await login('smtp', port, freshIp(), spelling, 'wrong-password'));
    assert.deepEqual(outcomes, ['failed', 'failed', 'failed', 'locked', 'locked']);
  });

  test('attack script: spellings x IPs x replicas x protocols get no more than the threshold of guesses', async () => {
    const targets: Array<[Protocol, number]> = [
      ['smtp', hermod.ports.submissions],
      ['smtp', secondSubmissions],
      ['imap', hermod.ports.imaps],
      ['pop3', hermod.ports.pop3s],
    ];
    const ips = ['127.1.0.1', '127.1.0.2', '127.1.0.3'];
    const guessed: string[] = [];
    let attempt = 0;
    for (const spelling of spellings('replicavictim'))
      for (const ip of ips)
        for (const [protocol, port] of targets) {
          const outcome = await login(protocol, port, ip, spelling, `guess-${attempt++}`);
          if (outcome === 'failed') guessed.push(`${protocol}:${port} ${ip} ${spelling}`);
        }
    assert.ok(attempt >= 40, 'the script made many attempts');
    assert.equal(
      guessed.length,
      THRESHOLD,
      `password checked ${guessed.length} times:\n${guessed.join('\n')}`,
    );
    for (const [protocol, port] of targets)
      assert.equal(
        await login(protocol, port, freshIp(), 'replicavictim@example.test', 'replicavictim-password-1'),
        'locked',
      );
  });

  test('msa: AUTH PLAIN with an authorization identity of another account is refused', async () => {
    const port = hermod.ports.submissions;
    const carol = ['carol@example.test', 'carol-password-1'] as const;
    assert.equal(await login('smtp', port, freshIp(), ...carol, 'mallory@example.test'), 'refused');
    assert.equal(await login('smtp', port, freshIp(), ...carol, 'nobody@example.test'), 'refused');
    // The account itself, however spelled, and its own aliases are fine.
    assert.equal(await login('smtp', port, freshIp(), ...carol, 'carol@example.test'), 'ok');
    assert.equal(await login('smtp', port, freshIp(), ...carol, '"Carol"@EXAMPLE.test'), 'ok');
    assert.equal(await login('smtp', port, freshIp(), ...carol, 'sales@example.test'), 'ok');
  });
});
