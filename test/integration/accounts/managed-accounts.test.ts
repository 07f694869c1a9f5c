// Accounts and groups owned by Kubernetes resources (MailUser, MailGroup) in real PostgreSQL:
// applied level-based (a second apply writes nothing), a plaintext hashed with the CLI's rule only
// when its source changes, conflicts refused unless adopted, deletion policies, and the CLI
// refusing to change a managed account with an error naming its resource.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type AccountError, AccountStore, hashPassword, type ManagedAccountInput } from '@hermod/accounts';
import { type HermodPlatform, run, startHermod } from '@hermod/test/harness';

let hermod: HermodPlatform;
let store: AccountStore;

const owner = 'MailUser team/ann';
const input = (over: Partial<ManagedAccountInput> = {}): ManagedAccountInput => ({
  address: 'ann@managed.test',
  displayName: 'Ann',
  password: { source: 'ann-pw/password@1', secret: 'a-long-password' },
  quotaBytes: 1024 ** 3,
  aliases: ['a.nn@managed.test'],
  sendAs: ['sales@managed.test'],
  forwardTo: [],
  forwardKeepCopy: true,
  suspended: false,
  ...over,
});

async function hermodCli(args: string[], stdin = '') {
  return run(process.execPath, ['--import', 'tsx', 'services/cli/src/main.ts', ...args], {
    env: { ...process.env, NATS_URL: hermod.nats.url, DATABASE_URL: hermod.db.url },
    input: stdin,
    timeoutMs: 30_000,
  });
}

const storedHash = async (address: string) =>
  (
    await hermod.db.pool.query<{ h: string }>('SELECT password_hash AS h FROM accounts WHERE address = $1', [
      address,
    ])
  ).rows[0]?.h;

before(async () => {
  hermod = await startHermod({ services: [] });
  await hermod.addDomain('managed.test');
  store = new AccountStore(hermod.db.pool);
});

after(async () => {
  await hermod?.stop();
});

describe('managed accounts', () => {
  test('apply creates, a second apply writes nothing, a change is written', async () => {
    const first = await store.applyManaged(owner, input(), { adopt: false });
    assert.deepEqual([first.created, first.changed], [true, true]);
    const hash = await storedHash('ann@managed.test');
    const again = await store.applyManaged(owner, input(), { adopt: false });
    assert.deepEqual([again.created, again.changed], [false, false]);
    assert.equal(await storedHash('ann@managed.test'), hash, 'the same source is not hashed again');
    assert.ok(await store.authenticate('a.nn@managed.test', 'a-long-password', 'imap'), 'logs in by alias');
    assert.ok(await store.maySendAs(first.accountId, 'sales@managed.test'), 'send-as');
    assert.equal(await store.maySendAs(first.accountId, 'boss@managed.test'), false);

    const changed = await store.applyManaged(
      owner,
      input({ password: { source: 'ann-pw/password@2', secret: 'another-long-password' }, suspended: true }),
      { adopt: false },
    );
    assert.equal(changed.changed, true);
    assert.equal(
      await store.authenticate('ann@managed.test', 'another-long-password', 'imap'),
      undefined,
      'suspended',
    );
    await store.applyManaged(
      owner,
      input({ password: { source: 'ann-pw/password@2', secret: 'another-long-password' } }),
      {
        adopt: false,
      },
    );
    assert.ok(await store.authenticate('ann@managed.test', 'another-long-password', 'imap'));
  });

  test('a Secret holding an argon2 hash is stored as it is', async () => {
    const hash = await hashPassword('hashed-elsewhere');
    await store.applyManaged(
      'MailUser team/bo',
      input({
        address: 'bo@managed.test',
        aliases: [],
        sendAs: [],
        password: { source: 's/k@1', secret: hash },
      }),
      {
        adopt: false,
      },
    );
    assert.equal(await storedHash('bo@managed.test'), hash);
    assert.ok(await store.authenticate('bo@managed.test', 'hashed-elsewhere', 'imap'));
  });

  test('an account of the CLI or of another resource is refused unless adopted', async () => {
    await store.create({ address: 'cli@managed.test', password: 'cli-password-1' });
    const cli = input({ address: 'cli@managed.test', aliases: [], sendAs: [] });
    await assert.rejects(
      store.applyManaged('MailUser team/cli', cli, { adopt: false }),
      (e: AccountError) => {
        assert.equal(e.code, 'managed');
        assert.match(e.message, /mail\.hermod\.dev\/adopt=true/);
        return true;
      },
    );
    const adopted = await store.applyManaged('MailUser team/cli', cli, { adopt: true });
    assert.equal(adopted.adopted, true);
    await assert.rejects(
      store.applyManaged('MailUser other/cli', cli, { adopt: true }),
      /managed by MailUser team\/cli/,
    );
    await assert.rejects(
      store.applyManaged(
        'MailUser team/x',
        input({ address: 'x@managed.test', aliases: ['ann@managed.test'], sendAs: [] }),
        {
          adopt: false,
        },
      ),
      /ann@managed\.test is already the account ann@managed\.test/,
    );
  });

  test('the CLI refuses to change a managed account and names the resource', async () => {
    for (const args of [
      ['user', 'passwd', 'ann@managed.test'],
      ['user', 'remove', 'ann@managed.test'],
      ['user', 'alias', 'ann@managed.test', 'other@managed.test'],
    ]) {
      const result = await hermodCli(args, 'a-new-long-password\n');
      assert.equal(result.code, 1, `${args.join(' ')}: ${result.stdout}`);
      assert.match(
        result.stderr,
        /ann@managed\.test is managed by MailUser team\/ann; change that resource instead \(kubectl edit mailuser -n team ann\)/,
      );
    }
    assert.ok(await store.findByAddress('ann@managed.test'), 'still there');
  });

  test('deletion policies: retain keeps the account disabled and unowned, delete removes it', async () => {
    assert.equal(await store.releaseManaged('MailUser someone/else', 'ann@managed.test', 'delete'), false);
    assert.equal(await store.releaseManaged(owner, 'ann@managed.test', 'retain'), true);
    const kept = await store.findByAddress('ann@managed.test');
    assert.deepEqual([kept?.disabled, kept?.managedBy], [true, null]);
    const removed = await hermodCli(['user', 'remove', 'ann@managed.test']);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(await store.releaseManaged('MailUser team/bo', 'bo@managed.test', 'delete'), true);
    assert.equal(await store.findByAddress('bo@managed.test'), undefined);
  });
});

describe('managed groups', () => {
  test('a group is applied once, clashes with accounts are refused both ways, and it is removed by its owner', async () => {
    const group = {
      address: 'crew@managed.test',
      members: ['cli@managed.test', 'friend@far.test'],
      senderPolicy: 'members' as const,
      allowedSenders: [],
    };
    assert.equal((await store.applyGroup('MailGroup team/crew', group, { adopt: false })).changed, true);
    assert.equal((await store.applyGroup('MailGroup team/crew', group, { adopt: false })).changed, false);
    const found = (await store.findGroups(['Crew@managed.test'])).get('Crew@managed.test');
    assert.deepEqual(found?.members, ['cli@managed.test', 'friend@far.test']);
    await assert.rejects(
      store.create({ address: 'crew@managed.test', password: 'long-password-1' }),
      /is already a group/,
    );
    await assert.rejects(
      store.applyGroup('MailGroup team/cli', { ...group, address: 'cli@managed.test' }, { adopt: false }),
      /already the account/,
    );
    await assert.rejects(
      store.applyGroup('MailGroup other/crew', group, { adopt: true }),
      /managed by MailGroup team\/crew/,
    );
    assert.equal(await store.removeGroup('MailGroup other/crew', 'crew@managed.test'), false);
    assert.equal(await store.removeGroup('MailGroup team/crew', 'crew@managed.test'), true);
    assert.equal((await store.findGroups(['crew@managed.test'])).size, 0);
  });
});
