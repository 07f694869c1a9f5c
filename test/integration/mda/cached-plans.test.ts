// mda's sessions plan each named statement once and keep the plan (mdaSessionSettings). The plans
// are made here while the tables are small and freshly vacuumed, when a scan of the whole table is
// the cheapest plan: every plan the batch's session cached must still look rows up by index, since
// it is kept while the spool grows.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AccountStore } from '@hermod/accounts';
import { createPool, type Pool } from '@hermod/db';
import { createLogger } from '@hermod/logging';
import { type DeliveryDeps, deliverBatch, mdaSessionSettings } from '@hermod/mda';
import { acceptMessage } from '@hermod/spool';
import { type TestDatabase, testDatabase } from '@hermod/test/harness';

let db: TestDatabase;
let mdaPool: Pool;
let accountId: number;

const deps = (sieve: boolean): DeliveryDeps => ({
  pool: mdaPool,
  logger: createLogger('mda-plans-test', 'silent'),
  quotaRetryMs: 60_000,
  announce: () => {},
  ...(sieve
    ? {
        sieve: {
          timeBudgetMs: 200,
          maxActions: 32,
          maxRedirects: 4,
          hostname: 'mail.plans.example',
          autoRepliesPerHour: 10,
          subaddressSeparator: () => '+',
          rewriteSender: (sender: string) => sender,
        },
        publishRouting: async () => {},
      }
    : {}),
});

async function routed(): Promise<string> {
  const { spoolId } = await acceptMessage(db.pool, {
    mailFrom: 'sender@remote.example',
    recipients: [{ address: 'plans@example.test' }],
    source: 'mx',
    body: [Buffer.from('Subject: plans\r\n\r\nHello.\r\n')],
  });
  await db.pool.query(`UPDATE spool_recipients SET state = 'local' WHERE spool_id = $1`, [spoolId]);
  return spoolId;
}

before(async () => {
  db = await testDatabase();
  accountId = (
    await new AccountStore(db.pool).create({ address: 'plans@example.test', password: 'plans-pw' })
  ).id;
  // One session, so every batch below prepares its statements where the checks look for them.
  mdaPool = createPool({ connectionString: db.url, max: 1, settings: mdaSessionSettings });
});

after(async () => {
  await mdaPool?.end();
  await db?.close();
});

test('every plan an mda session cached for its batches uses indexes, planned on small tables', async () => {
  for (let i = 0; i < 3; i++) await routed();
  // Small tables with statistics: the planner now knows a whole-table scan is cheapest.
  await db.pool.query('VACUUM ANALYZE');
  for (const sieve of [false, true]) {
    const spoolIds = [await routed(), await routed()];
    const outcomes = await deliverBatch(
      deps(sieve),
      spoolIds.map((spoolId) => ({ spoolId, recipients: [{ rcptIndex: 0, accountId, mailbox: 'INBOX' }] })),
    );
    assert.deepEqual(
      outcomes.map((o) => o.kind),
      ['ack', 'ack'],
    );
  }
  const client = await mdaPool.connect();
  try {
    assert.equal((await client.query('SHOW plan_cache_mode')).rows[0].plan_cache_mode, 'force_generic_plan');
    const { rows: prepared } = await client.query<{ name: string; n: number }>(
      `SELECT name, cardinality(parameter_types) AS n FROM pg_prepared_statements WHERE NOT from_sql ORDER BY name`,
    );
    const names = prepared.map((p) => p.name);
    for (const name of ['mda-batch-facts', 'mda-batch-facts-sieve', 'mda-write-deliveries'])
      assert.ok(names.includes(name), `${name} was prepared (${names.join(', ')})`);
    for (const p of prepared) {
      const args = Array.from({ length: p.n }, () => 'NULL').join(', ');
      const { rows } = await client.query<{ 'QUERY PLAN': string }>(
        `EXPLAIN (COSTS OFF) EXECUTE "${p.name}"${p.n > 0 ? `(${args})` : ''}`,
      );
      const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
      assert.doesNotMatch(plan, /Seq Scan/, `${p.name}:\n${plan}`);
    }
  } finally {
    client.release();
  }
});
