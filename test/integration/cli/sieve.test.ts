// `hermod sieve` and `hermod vacation` against PostgreSQL: scripts stored compiled (a bad one is
// refused with line and column, exit 1), activated, read back; a domain's global script; and the
// vacation shortcut, which keeps the previously active script running (included) and restores it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AccountStore } from '@hermod/accounts';
import { listScripts } from '@hermod/sieve-store';
import { run, type TestDatabase, testDatabase } from '@hermod/test/harness';

let db: TestDatabase;
let ann: number;

before(async () => {
  db = await testDatabase();
  ann = (
    await new AccountStore(db.pool).create({ address: 'ann@cli.example', password: 'correct horse battery' })
  ).id;
});
after(() => db.close());

async function hermod(args: string[], input = '', expectCode = 0) {
  const result = await run(process.execPath, ['--import', 'tsx', 'services/cli/src/main.ts', ...args], {
    env: { ...process.env, DATABASE_URL: db.url },
    input,
    timeoutMs: 60_000,
  });
  assert.equal(result.code, expectCode, `hermod ${args.join(' ')}: ${result.stdout}${result.stderr}`);
  return result;
}

test('sieve put, check, activate, list, get, and a refused script', async () => {
  const source = 'require ["fileinto"];\nif header :contains "subject" "invoice" { fileinto "Invoices"; }\n';
  await hermod(['sieve', 'put', 'ann@cli.example', 'main', '--activate'], source);
  assert.equal((await hermod(['sieve', 'list', 'ann@cli.example'])).stdout, 'main\tactive\n');
  assert.equal((await hermod(['sieve', 'get', 'ann@cli.example', 'main'])).stdout, source);
  const bad = await hermod(['sieve', 'check', 'ann@cli.example'], 'keep;\nfileinto "x";\n', 1);
  assert.match(bad.stderr, /line 2, column \d+/);
  await hermod(['sieve', 'put', 'ann@cli.example', 'broken'], 'if {', 1);
  assert.deepEqual(
    (await listScripts(db.pool, ann)).map((s) => s.name),
    ['main'],
  );
  await hermod(['sieve', 'list', 'nobody@cli.example'], '', 2);
});

test('sieve global put and list for a domain', async () => {
  await hermod(
    ['sieve', 'global', 'put', 'cli.example', 'before', 'junk'],
    'require ["fileinto"];\nif header :is "x-spam-flag" "YES" { fileinto "Junk"; }\n',
  );
  assert.equal((await hermod(['sieve', 'global', 'list', 'cli.example'])).stdout, 'junk\tbefore\n');
});

test('vacation set includes the active script and off restores it', async () => {
  await hermod(
    [
      'vacation',
      'set',
      'ann@cli.example',
      '--from',
      '2026-12-20',
      '--until',
      '2027-01-04',
      '--subject',
      'Away',
    ],
    'Back on the 5th.\n',
  );
  const scripts = await listScripts(db.pool, ann);
  const vacation = scripts.find((s) => s.name === 'vacation')!;
  assert.equal(vacation.active, true);
  assert.match(vacation.source, /vacation :days 1 :subject "Away" "Back on the 5th\.";/);
  assert.match(vacation.source, /currentdate :value "ge" "date" "2026-12-20"/);
  assert.match(vacation.source, /include :personal "main";/);
  // Set again: still remembers "main".
  await hermod(
    [
      'vacation',
      'set',
      'ann@cli.example',
      '--from',
      '2026-12-21',
      '--until',
      '2027-01-04',
      '--subject',
      'Away',
    ],
    'x',
  );
  await hermod(
    [
      'vacation',
      'set',
      'ann@cli.example',
      '--from',
      '2027-01-04',
      '--until',
      '2026-12-21',
      '--subject',
      'Away',
    ],
    'x',
    2,
  );
  assert.match((await hermod(['vacation', 'off', 'ann@cli.example'])).stdout, /script main is active again/);
  assert.equal((await listScripts(db.pool, ann)).find((s) => s.active)?.name, 'main');
});
