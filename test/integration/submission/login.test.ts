// Login over raw TLS sockets against real msa (two replicas), imap (two replicas: IMAP, POP3 and
// ManageSieve) sharing one PostgreSQL:
// AUTH PLAIN may not name another account as its authorization identity, and the throttle holds as
// an attacker tries to sidestep it: every spelling of an account counts against that account, each
// client IP has its own count, a success clears only its own account's count, and the counts hold
// across replicas and protocols. Every refused login of imap, pop3 and managesieve is counted by
// reason in hermod_imap_rejections_total, as msa counts its own.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { AccountStore } from '@hermod/accounts';
import { freePort } from '@hermod/local-infra';
import { type HermodPlatform, startHermod } from '@hermod/test/harness';
import { login, type LoginOutcome as Outcome, type LoginProtocol as Protocol } from './login-wire.js';

let hermod: HermodPlatform;
let secondSubmissions = 0;
/** The second imap replica's implicit-TLS IMAP and POP3 ports and its ManageSieve port. */
const secondImap = { imaps: 0, pop3s: 0, managesieve: 0 };

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
        // The refusal log lines are at info.
        LOG_LEVEL: 'info',
      },
    },
  });
  // A second msa replica over the same database, as a scaled-out deployment runs it.
  secondSubmissions = await freePort();
  await hermod.startReplica('msa', {
    MSA_SUBMISSION_PORT: String(await freePort()),
    MSA_SUBMISSIONS_PORT: String(secondSubmissions),
  });
  // And a second imap replica (IMAP, POP3, ManageSieve), sharing the throttle through PostgreSQL.
  secondImap.imaps = await freePort();
  secondImap.pop3s = await freePort();
  secondImap.managesieve = await freePort();
  await hermod.startReplica('imap', {
    IMAP_PORT: String(await freePort()),
    IMAPS_PORT: String(secondImap.imaps),
    POP3_PORT: String(await freePort()),
    POP3S_PORT: String(secondImap.pop3s),
    MANAGESIEVE_PORT: String(secondImap.managesieve),
  });
  await hermod.addDomain('example.test');
  const accounts = new AccountStore(hermod.db.pool);
  await accounts.create({ address: 'carol@example.test', password: 'carol-password-1' });
  await accounts.addAlias('carol@example.test', 'sales@example.test');
  for (const name of [
    'victim',
    'imapvictim',
    'popvictim',
    'sievevictim',
    'sprayed',
    'mallory',
    'replicavictim',
    'counted',
  ])
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

  test('managesieve: every spelling of an account counts against that account', async () => {
    await spellingsLockTheAccount('sieve', hermod.ports.managesieve, 'sievevictim');
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
      ['imap', secondImap.imaps],
      ['pop3', hermod.ports.pop3s],
      ['pop3', secondImap.pop3s],
      ['sieve', hermod.ports.managesieve],
      ['sieve', secondImap.managesieve],
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
    assert.ok(attempt >= 90, 'the script made many attempts');
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

describe('refused logins are counted by reason', () => {
  async function refusals(): Promise<Map<string, number>> {
    const ops = hermod.services.get('imap')!.options.opsPort;
    const text = await (await fetch(`http://127.0.0.1:${ops}/metrics`)).text();
    const counts = new Map<string, number>();
    for (const line of text.split('\n')) {
      const m = /^hermod_imap_rejections_total\{(.*)\} (\S+)$/.exec(line);
      if (!m) continue;
      const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
      counts.set(`${labels.protocol} ${labels.reason} ${labels.code}`, Number(m[2]));
    }
    return counts;
  }

  test('imap, pop3 and managesieve: failed, locked and cleartext logins, by protocol, reason and code', async () => {
    const before = await refusals();
    const targets: Array<[Protocol, number]> = [
      ['imap', hermod.ports.imaps],
      ['pop3', hermod.ports.pop3s],
      ['sieve', hermod.ports.managesieve],
    ];
    // Three failures lock the account; the fourth attempt, on each protocol, is refused as locked.
    for (const [protocol, port] of targets)
      assert.equal(
        await login(protocol, port, freshIp(), 'counted@example.test', 'wrong-password'),
        'failed',
      );
    for (const [protocol, port] of targets)
      assert.equal(
        await login(protocol, port, freshIp(), 'counted@example.test', 'counted-password-1'),
        'locked',
      );
    // A login in the clear on ManageSieve (before STARTTLS).
    const plain = await new Promise<string>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: hermod.ports.managesieve });
      let data = '';
      let sent = false;
      socket.on('error', reject);
      socket.on('data', (d: Buffer) => {
        data += d.toString('utf8');
        if (!sent && /(^|\n)OK[^\r\n]*\r\n/.test(data)) {
          sent = true;
          data = '';
          const plain = Buffer.from('\0counted@example.test\0x').toString('base64');
          socket.write(`AUTHENTICATE "PLAIN" "${plain}"\r\n`);
        } else if (sent && /\r\n$/.test(data)) {
          socket.end();
          resolve(data);
        }
      });
    });
    assert.match(plain, /NO \(ENCRYPT-NEEDED\)/);
    const after = await refusals();
    const delta = (key: string) => (after.get(key) ?? 0) - (before.get(key) ?? 0);
    assert.equal(delta('imap auth-failed AUTHENTICATIONFAILED'), 1);
    assert.equal(delta('imap auth-locked UNAVAILABLE'), 1);
    assert.equal(delta('pop3 auth-failed AUTH'), 1);
    assert.equal(delta('pop3 auth-locked SYS/TEMP'), 1);
    assert.equal(delta('managesieve auth-failed NO'), 1);
    assert.equal(delta('managesieve auth-locked TRYLATER'), 1);
    assert.equal(delta('managesieve encryption-required ENCRYPT-NEEDED'), 1);
    const logs = hermod.services.get('imap')!.logs();
    assert.match(logs, /"sessionId":"[^"]+"[^\n]*"reason":"auth-locked"[^\n]*"msg":"refused"/);
  });
});
