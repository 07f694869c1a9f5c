// App passwords over raw TLS sockets against real msa and imap (IMAP and POP3), managed with the
// CLI as a child process: each works only for its scopes and until it expires or is revoked, and
// the main password can be restricted to some scopes.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AccountStore } from '@hermod/accounts';
import { type HermodPlatform, run, startHermod } from '@hermod/test/harness';
import { login } from './login-wire.js';

let hermod: HermodPlatform;

async function hermodCli(args: string[]) {
  const result = await run(process.execPath, ['--import', 'tsx', 'services/cli/src/main.ts', ...args], {
    env: { ...process.env, NATS_URL: hermod.nats.url, DATABASE_URL: hermod.db.url },
    timeoutMs: 30_000,
  });
  assert.equal(result.code, 0, `hermod ${args.join(' ')}: ${result.stdout}${result.stderr}`);
  return result.stdout;
}

before(async () => {
  hermod = await startHermod({
    services: ['routing', 'imap', 'msa'],
    env: { msa: { AUTH_FAILURE_BASE_DELAY_MS: '0' }, imap: { AUTH_FAILURE_BASE_DELAY_MS: '0' } },
  });
  await hermod.addDomain('example.test');
  await new AccountStore(hermod.db.pool).create({ address: 'pat@example.test', password: 'pat-password-1' });
});

after(async () => {
  await hermod?.stop();
});

const ip = '127.0.0.1';
const user = 'pat@example.test';

test('an app password works for its scopes only, until revoked or expired', async () => {
  const phone = (await hermodCli(['app-password', 'add', user, 'phone', '--scopes', 'imap,pop3'])).trim();
  assert.match(phone, /^[a-z2-9]{6}(-[a-z2-9]{6}){3}$/);
  const laptop = (await hermodCli(['app-password', 'add', user, 'laptop', '--scopes', 'submission'])).trim();

  assert.equal(await login('imap', hermod.ports.imaps, ip, user, phone), 'ok');
  assert.equal(await login('pop3', hermod.ports.pop3s, ip, user, phone), 'ok');
  assert.equal(await login('smtp', hermod.ports.submissions, ip, user, phone), 'failed');
  assert.equal(await login('smtp', hermod.ports.submissions, ip, user, laptop), 'ok');
  assert.equal(await login('imap', hermod.ports.imaps, ip, user, laptop), 'failed');
  // The main password still works everywhere.
  assert.equal(await login('imap', hermod.ports.imaps, ip, user, 'pat-password-1'), 'ok');

  const listed = JSON.parse(await hermodCli(['app-password', 'list', user, '--json'])) as Array<{
    name: string;
    scopes: string[];
    lastUsedAt: string | null;
  }>;
  assert.deepEqual(
    listed.map((p) => [p.name, p.scopes.join(',')]),
    [
      ['laptop', 'submission'],
      ['phone', 'imap,pop3'],
    ],
  );
  assert.ok(
    listed.every((p) => p.lastUsedAt),
    'each was used',
  );

  await hermodCli(['app-password', 'revoke', user, 'phone']);
  assert.equal(await login('imap', hermod.ports.imaps, ip, user, phone), 'failed');

  const old = (await hermodCli(['app-password', 'add', user, 'old', '--scopes', 'imap'])).trim();
  await hermod.db.pool.query(
    "UPDATE app_passwords SET expires_at = now() - interval '1 second' WHERE name = 'old'",
  );
  assert.equal(await login('imap', hermod.ports.imaps, ip, user, old), 'failed');
});

test('the main password can be restricted to some scopes', async () => {
  await hermodCli(['app-password', 'main-scopes', user, 'submission']);
  assert.equal(await login('smtp', hermod.ports.submissions, ip, user, 'pat-password-1'), 'ok');
  assert.equal(await login('imap', hermod.ports.imaps, ip, user, 'pat-password-1'), 'failed');
  assert.equal(await login('pop3', hermod.ports.pop3s, ip, user, 'pat-password-1'), 'failed');
  await hermodCli(['app-password', 'main-scopes', user, 'all']);
  assert.equal(await login('imap', hermod.ports.imaps, ip, user, 'pat-password-1'), 'ok');
});
