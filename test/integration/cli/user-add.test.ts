// `hermod user add` as a child process against real PostgreSQL and nats-server: an account is
// created only on a domain the platform serves for local delivery, unless --force says the domain
// is about to be added.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type HermodPlatform, run, startHermod } from '@hermod/test/harness';

let hermod: HermodPlatform;

async function hermodCli(args: string[], input: string) {
  return run(process.execPath, ['--import', 'tsx', 'services/cli/src/main.ts', ...args], {
    env: { ...process.env, NATS_URL: hermod.nats.url, DATABASE_URL: hermod.db.url },
    input,
    timeoutMs: 30_000,
  });
}

async function accountExists(address: string): Promise<boolean> {
  const { rowCount } = await hermod.db.pool.query('SELECT 1 FROM accounts WHERE address = $1', [address]);
  return (rowCount ?? 0) > 0;
}

before(async () => {
  hermod = await startHermod({ services: [] });
  await hermod.addDomain('example.test');
  await hermod.addDomain('elsewhere.test', { exchanger: 'remote' });
});

after(async () => {
  await hermod?.stop();
});

test('user add refuses a domain the platform does not serve, and --force overrides', async () => {
  const refused = await hermodCli(['user', 'add', 'ann@unserved.test'], 'a-long-password\n');
  assert.notEqual(refused.code, 0, refused.stdout);
  assert.match(refused.stderr, /unserved\.test is not a domain this platform serves/);
  assert.equal(await accountExists('ann@unserved.test'), false);

  const remote = await hermodCli(['user', 'add', 'ann@elsewhere.test'], 'a-long-password\n');
  assert.notEqual(remote.code, 0, remote.stdout);
  assert.match(remote.stderr, /elsewhere\.test is served in remote mode/);
  assert.equal(await accountExists('ann@elsewhere.test'), false);

  const served = await hermodCli(['user', 'add', 'ann@EXAMPLE.test'], 'a-long-password\n');
  assert.equal(served.code, 0, served.stderr);
  assert.equal(await accountExists('ann@example.test'), true);

  const forced = await hermodCli(['user', 'add', 'ann@unserved.test', '--force'], 'a-long-password\n');
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal(await accountExists('ann@unserved.test'), true);
});
