// The Sieve tables through @hermod/sieve-store against PostgreSQL: at most one active script per
// account (switching is one statement), delete refuses the active script, rename refuses an existing
// name, the per-account script limit, delivery's one-query load of active and global scripts, and
// vacation tracking (one response per sender and handle within the period, again after it).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import { AccountStore } from '@hermod/accounts';
import {
  activateScript,
  claimVacationResponse,
  compileDomainScripts,
  defaultAfterScript,
  deleteScript,
  globalScriptsOwner,
  listScripts,
  loadDeliveryScripts,
  recordDuplicates,
  recordDuplicatesOf,
  renameScript,
  replaceOwnedGlobalScripts,
  SieveScriptError,
  saveGlobalScript,
  saveScript,
  seenDuplicates,
} from '@hermod/sieve-store';
import { type TestDatabase, testDatabase } from '@hermod/test/harness';

let db: TestDatabase;
let alice: number;
let bob: number;

before(async () => {
  db = await testDatabase();
  const accounts = new AccountStore(db.pool);
  alice = (await accounts.create({ address: 'alice@store.example', password: 'correct horse battery' })).id;
  bob = (await accounts.create({ address: 'bob@store.example', password: 'correct horse battery' })).id;
});
after(() => db.close());

const code = (c: string) => (error: unknown) => error instanceof SieveScriptError && error.code === c;

test('one active script per account; switching, deactivating and a missing name', async () => {
  await saveScript(db.pool, alice, 'a', 'keep;', 'A', 10);
  await saveScript(db.pool, alice, 'b', 'keep;', 'B', 10);
  await activateScript(db.pool, alice, 'a');
  await activateScript(db.pool, alice, 'b');
  assert.deepEqual(
    (await listScripts(db.pool, alice)).map((s) => [s.name, s.active]),
    [
      ['a', false],
      ['b', true],
    ],
  );
  await assert.rejects(activateScript(db.pool, alice, 'missing'), code('nonexistent'));
  // The refused activation changed nothing.
  assert.equal((await listScripts(db.pool, alice)).find((s) => s.active)?.name, 'b');
  await activateScript(db.pool, alice, '');
  assert.equal((await listScripts(db.pool, alice)).filter((s) => s.active).length, 0);
});

test('replacing keeps the active flag; delete refuses the active script; rename refuses a taken name', async () => {
  await activateScript(db.pool, alice, 'a');
  await saveScript(db.pool, alice, 'a', 'discard;', 'A2', 10);
  const a = (await listScripts(db.pool, alice)).find((s) => s.name === 'a')!;
  assert.deepEqual([a.active, a.source, a.compiled], [true, 'discard;', 'A2']);
  await assert.rejects(deleteScript(db.pool, alice, 'a'), code('active'));
  await assert.rejects(deleteScript(db.pool, alice, 'nope'), code('nonexistent'));
  await assert.rejects(renameScript(db.pool, alice, 'b', 'a'), code('already-exists'));
  await assert.rejects(renameScript(db.pool, alice, 'nope', 'c'), code('nonexistent'));
  await renameScript(db.pool, alice, 'b', 'c');
  await deleteScript(db.pool, alice, 'c');
  assert.deepEqual(
    (await listScripts(db.pool, alice)).map((s) => s.name),
    ['a'],
  );
});

test('the script limit counts new names only', async () => {
  await saveScript(db.pool, bob, 'one', 'keep;', 'x', 2);
  await saveScript(db.pool, bob, 'two', 'keep;', 'x', 2);
  await assert.rejects(saveScript(db.pool, bob, 'three', 'keep;', 'x', 2), code('quota-max-scripts'));
  await saveScript(db.pool, bob, 'two', 'discard;', 'y', 2); // a replacement is not a new script
  assert.equal((await listScripts(db.pool, bob)).length, 2);
});

test('delivery loads the active script and the domain global scripts, by digest', async () => {
  await saveGlobalScript(db.pool, {
    domain: 'store.example',
    name: 'spam',
    phase: 'before',
    source: 'keep;',
    compiled: 'G1',
  });
  const md5 = (text: string) => createHash('md5').update(text).digest('hex');
  const version = (text: string) => ({ digest: md5(text), compiled: text });
  const loaded = await loadDeliveryScripts(db.pool, [alice, bob]);
  assert.deepEqual(loaded.get(alice), {
    accountId: alice,
    address: 'alice@store.example',
    aliases: [],
    domain: 'store.example',
    before: version('G1'),
    personal: version('A2'),
    // The domain has no after script: the default one (spam to Junk) runs.
    after: version(defaultAfterScript()),
  });
  // Bob has no active script but the domain's before script still runs for him.
  assert.deepEqual(loaded.get(bob)?.before, version('G1'));
  assert.equal(loaded.get(bob)?.personal, undefined);
  // What the caller's cache holds for a digest comes back instead of the compiled form.
  const cache = new Map([[md5('G1'), 'parsed G1']]);
  const cached = await loadDeliveryScripts(db.pool, [alice], (d) => cache.get(d));
  assert.deepEqual(cached.get(alice)?.before, { digest: md5('G1'), cached: 'parsed G1' });
  assert.deepEqual(cached.get(alice)?.personal, version('A2'));
  // A second 'before' script of the domain replaces the first: a new digest, read again.
  await saveGlobalScript(db.pool, {
    domain: 'store.example',
    name: 'spam2',
    phase: 'before',
    source: 'keep;',
    compiled: 'G2',
  });
  assert.deepEqual(
    (await loadDeliveryScripts(db.pool, [alice], (d) => cache.get(d))).get(alice)?.before,
    version('G2'),
  );
  // Any write of the compiled form changes the digest (a generated column).
  await db.pool.query(`UPDATE sieve_scripts SET compiled = 'A3' WHERE account_id = $1 AND active`, [alice]);
  assert.deepEqual((await loadDeliveryScripts(db.pool, [alice])).get(alice)?.personal, version('A3'));
  // The domain's own after script replaces the default.
  await saveGlobalScript(db.pool, {
    domain: 'store.example',
    name: 'a',
    phase: 'after',
    source: '',
    compiled: 'G3',
  });
  assert.deepEqual((await loadDeliveryScripts(db.pool, [bob])).get(bob)?.after, version('G3'));
});

test('one vacation response per sender and handle within the period', async () => {
  const t0 = new Date('2026-12-01T00:00:00Z');
  const later = new Date(t0.getTime() + 86_400_000 + 1000);
  assert.equal(await claimVacationResponse(db.pool, alice, 'h', 'Sender@Remote.example', 86_400, t0), true);
  assert.equal(await claimVacationResponse(db.pool, alice, 'h', 'sender@remote.example', 86_400, t0), false);
  // Another handle or another sender is a separate response.
  assert.equal(
    await claimVacationResponse(db.pool, alice, 'other', 'sender@remote.example', 86_400, t0),
    true,
  );
  assert.equal(await claimVacationResponse(db.pool, alice, 'h', 'second@remote.example', 86_400, t0), true);
  assert.equal(await claimVacationResponse(db.pool, bob, 'h', 'sender@remote.example', 86_400, t0), true);
  // After the period, one more.
  assert.equal(
    await claimVacationResponse(db.pool, alice, 'h', 'sender@remote.example', 86_400, later),
    true,
  );
  assert.equal(
    await claimVacationResponse(db.pool, alice, 'h', 'sender@remote.example', 86_400, later),
    false,
  );
});

test('duplicate ids are remembered for their lifetime', async () => {
  const t0 = new Date('2026-12-01T00:00:00Z');
  await recordDuplicates(db.pool, alice, [{ id: 'm1', seconds: 60 }], t0);
  assert.deepEqual([...(await seenDuplicates(db.pool, alice, ['m1', 'm2'], t0))], ['m1']);
  assert.deepEqual([...(await seenDuplicates(db.pool, bob, ['m1'], t0))], []);
  assert.deepEqual([...(await seenDuplicates(db.pool, alice, ['m1'], new Date(t0.getTime() + 61_000)))], []);
});

test("a batch's duplicate ids in one statement: several accounts, an id given twice kept once with the last lifetime", async () => {
  const t0 = new Date('2026-12-02T00:00:00Z');
  await recordDuplicatesOf(
    db.pool,
    [
      { accountId: alice, id: 'b1', seconds: 60 },
      { accountId: bob, id: 'b1', seconds: 60 },
      { accountId: alice, id: 'b1', seconds: 600 },
    ],
    t0,
  );
  const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);
  assert.deepEqual([...(await seenDuplicates(db.pool, alice, ['b1'], at(120)))], ['b1']);
  assert.deepEqual([...(await seenDuplicates(db.pool, bob, ['b1'], at(30)))], ['b1']);
  assert.deepEqual([...(await seenDuplicates(db.pool, bob, ['b1'], at(120)))], []);
});

test("a MailDomain's scripts replace the domain's global scripts; the CLI may not change them until it lets go", async () => {
  const domain = 'owned.example';
  await saveGlobalScript(db.pool, { domain, name: 'cli', phase: 'before', source: 'keep;', compiled: 'C' });
  const scripts = compileDomainScripts(domain, {
    after: 'require "include";\ninclude :global "common";\n',
    library: [{ name: 'common', source: 'keep;\n' }],
  });
  assert.deepEqual(
    scripts.map((s) => [s.name, s.phase]),
    [
      ['common', 'library'],
      ['maildomain-after', 'after'],
    ],
  );
  assert.equal(await replaceOwnedGlobalScripts(db.pool, domain, { owner: 'operator:ns/o', scripts }), true);
  assert.equal(await replaceOwnedGlobalScripts(db.pool, domain, { owner: 'operator:ns/o', scripts }), false);
  assert.equal(await globalScriptsOwner(db.pool, domain), 'operator:ns/o');
  await assert.rejects(
    saveGlobalScript(db.pool, { domain, name: 'cli', phase: 'before', source: 'keep;', compiled: 'C' }),
    code('managed'),
  );
  const rows = await db.pool.query('SELECT name FROM sieve_global_scripts WHERE domain = $1 ORDER BY name', [
    domain,
  ]);
  assert.deepEqual(
    rows.rows.map((r) => r.name),
    ['common', 'maildomain-after'],
  );
  assert.throws(() => compileDomainScripts(domain, { before: 'if {', library: [] }), code('invalid'));
  // Let go: its scripts are gone and the CLI manages the domain again.
  assert.equal(await replaceOwnedGlobalScripts(db.pool, domain, undefined), true);
  assert.equal(await replaceOwnedGlobalScripts(db.pool, domain, undefined), false);
  await saveGlobalScript(db.pool, { domain, name: 'cli', phase: 'before', source: 'keep;', compiled: 'C' });
});
