// `hermod acl` against PostgreSQL: an owner's mailbox shared with an account of the same domain
// and with 'anyone', listed, changed with +/-, removed; another domain's account and bad rights
// refused.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AccountStore } from '@hermod/accounts';
import { createDefaultMailboxes, findMailbox, mailboxRights } from '@hermod/mail-store';
import { run, type TestDatabase, testDatabase } from '@hermod/test/harness';

let db: TestDatabase;
let kim: number;

before(async () => {
  db = await testDatabase();
  const accounts = new AccountStore(db.pool);
  const owner = await accounts.create({
    address: 'owner@acl-cli.example',
    password: 'correct horse battery',
  });
  kim = (await accounts.create({ address: 'kim@acl-cli.example', password: 'correct horse battery' })).id;
  await accounts.create({ address: 'lee@elsewhere.example', password: 'correct horse battery' });
  const client = await db.pool.connect();
  try {
    await createDefaultMailboxes(client, owner.id);
  } finally {
    client.release();
  }
});
after(() => db.close());

async function hermod(args: string[], expectCode = 0) {
  const result = await run(process.execPath, ['--import', 'tsx', 'services/cli/src/main.ts', ...args], {
    env: { ...process.env, DATABASE_URL: db.url },
    timeoutMs: 60_000,
  });
  assert.equal(result.code, expectCode, `hermod ${args.join(' ')}: ${result.stdout}${result.stderr}`);
  return result;
}

test('acl set, list, change and delete; other domains and bad rights refused', async () => {
  const owner = 'owner@acl-cli.example';
  await hermod(['acl', 'set', owner, 'INBOX', 'kim@acl-cli.example', 'lr']);
  await hermod(['acl', 'set', owner, 'inbox', 'anyone', 'l']);
  assert.equal(
    (await hermod(['acl', 'list', owner, 'INBOX'])).stdout,
    'owner@acl-cli.example\tlrswipkxtea\nanyone\tl\nkim@acl-cli.example\tlr\n',
  );
  assert.equal(
    (await hermod(['acl', 'set', owner, 'INBOX', 'kim@acl-cli.example', '+sw'])).stdout,
    'kim@acl-cli.example\tlrsw\n',
  );
  const inbox = (await findMailbox(
    db.pool,
    (await new AccountStore(db.pool).findByAddress(owner))!.id,
    'INBOX',
  ))!;
  assert.equal(await mailboxRights(db.pool, kim, inbox.id), 'lrsw');
  await hermod(['acl', 'set', owner, 'INBOX', 'kim@acl-cli.example', '-w']);
  assert.equal(await mailboxRights(db.pool, kim, inbox.id), 'lrs');
  const other = await hermod(['acl', 'set', owner, 'INBOX', 'lee@elsewhere.example', 'lr'], 1);
  assert.match(other.stderr, /Only accounts of the same domain/);
  await hermod(['acl', 'set', owner, 'INBOX', 'kim@acl-cli.example', 'lrz'], 2);
  await hermod(['acl', 'set', owner, 'Nowhere', 'kim@acl-cli.example', 'lr'], 2);
  await hermod(['acl', 'delete', owner, 'INBOX', 'kim@acl-cli.example']);
  await hermod(['acl', 'delete', owner, 'INBOX', 'anyone']);
  assert.equal(await mailboxRights(db.pool, kim, inbox.id), '');
  assert.equal(
    (await hermod(['acl', 'list', owner, 'INBOX'])).stdout,
    'owner@acl-cli.example\tlrswipkxtea\n',
  );
});
