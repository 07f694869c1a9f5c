// The quarantine digest end to end against real routing, mda, imap, two mx replicas, nats-server and
// PostgreSQL: a domain asks for digests (MailDomain quarantine.digest) with periods of two seconds;
// swaks sends messages a policy rule holds for alice; she gets no notice per message but a digest
// in her INBOX (read over IMAP) listing them; flagging the digest $QuarantineRelease delivers what
// it lists, once (a second action changes nothing); both mx replicas run the digest pass, and every
// entry is listed in one digest only, one digest a period (shown after a later entry's digest came).
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AccountStore } from '@hermod/accounts';
import { freePort } from '@hermod/local-infra';
import { auditOf } from '@hermod/quarantine';
import { eventually, type HermodPlatform, requireTool, startHermod, testWorkdir } from '@hermod/test/harness';
import {
  flagMessage,
  type ImapLogin,
  messagesIn,
  HOLD_PURCHASE_ORDERS as RULES,
  type Seen,
  swaksTo,
  withImap,
} from './quarantine-helpers.js';

let hermod: HermodPlatform;

const ALICE = 'alice@example.test';
const PASSWORD = 'alice-password-1';

const alice: () => ImapLogin = () => ({ port: hermod.ports.imap, user: ALICE, pass: PASSWORD });
const inbox = () => withImap(alice(), (imap) => messagesIn(imap));

interface Digest extends Seen {
  period: string;
  ids: string[];
}

const digestsIn = (messages: Seen[]): Digest[] =>
  messages.flatMap((m) => {
    const period = /^X-Hermod-Quarantine-Digest: (\S+)\r$/m.exec(m.source)?.[1];
    if (!period) return [];
    const ids = [...m.source.matchAll(/^X-Hermod-Quarantine-Id: (\S+)\r$/gm)].map((x) => x[1] ?? '');
    return [{ ...m, period, ids }];
  });

/** Waits until the digests in alice's INBOX list every one of ids; returns the INBOX. */
const digestedOver = (ids: string[]) =>
  eventually(
    `digests listing ${ids.join(', ')} in alice INBOX over IMAP`,
    async () => {
      const all = await inbox();
      const listed = digestsIn(all).flatMap((d) => d.ids);
      return ids.every((id) => listed.includes(id)) ? all : undefined;
    },
    30_000,
  );

const flag = (uid: number, keyword: string, remove = false) => flagMessage(alice(), uid, keyword, remove);
const swaks = (subject: string) => swaksTo(hermod.ports.mx, [ALICE], subject, 'Please confirm.');

/** The recipients' actions taken so far have all been applied (the trigger's rows are gone). */
const actionsApplied = () =>
  eventually('the pending quarantine actions applied', async () => {
    const { rows } = await hermod.db.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM quarantine_user_actions',
    );
    return rows[0]?.n === 0 ? true : undefined;
  });

before(async () => {
  await requireTool('swaks', 'apt-get install swaks');
  const workdir = await testWorkdir('quarantine-digest-imap');
  await writeFile(join(workdir, 'rules.yaml'), RULES);
  const digestEnv = {
    QUARANTINE_DIGEST_INTERVAL_MS: '2000',
    QUARANTINE_DIGEST_POLL_MS: '100',
    QUARANTINE_ACTION_POLL_MS: '200',
  };
  hermod = await startHermod({
    services: ['routing', 'mda', 'imap', 'mx'],
    env: { mx: { MX_AUTH_CHECKS: 'false', POLICY_RULES_FILE: join(workdir, 'rules.yaml'), ...digestEnv } },
  });
  // A second mx replica runs the same digest pass over the same database.
  await hermod.startReplica('mx', { MX_SMTP_PORT: String(await freePort()) });
  await hermod.addDomain('example.test', { quarantine: { digest: true } });
  await new AccountStore(hermod.db.pool).create({ address: ALICE, password: PASSWORD });
});

after(async () => {
  await hermod?.stop();
});

describe('the quarantine digest over IMAP', () => {
  test('a digest instead of notices; release from it exactly once; one digest a period across replicas', async () => {
    const first = await swaks('Purchase order 1');
    const second = await swaks('Purchase order 2');
    const messages = await digestedOver([first, second]);
    // Told by the digest only: no notice per message.
    assert.ok(!messages.some((m) => m.subject.startsWith('Quarantined:')), JSON.stringify(messages));
    const digest = digestsIn(messages).find((d) => d.ids.includes(first));
    assert.ok(digest);
    assert.match(digest.subject, /^Quarantine digest: \d messages? held for you$/);
    assert.match(digest.source, /Purchase order 1/);
    assert.match(
      digest.source,
      /\$QuarantineRelease or move \(or copy\) it into the folder Quarantine\/Release/,
    );

    // Releasing from the digest delivers every entry it lists (the two may have fallen in two periods).
    await flag(digest.uid, '$QuarantineRelease');
    const subjects = digest.ids.map((id) => (id === first ? 'Purchase order 1' : 'Purchase order 2'));
    await eventually('the released messages in alice INBOX over IMAP', async () => {
      const now = await inbox();
      return subjects.every((s) => now.some((m) => m.subject === s)) ? true : undefined;
    });
    for (const id of digest.ids)
      assert.deepEqual(
        (await auditOf(hermod.db.pool, id)).map((a) => `${a.action}:${a.actor}`),
        ['quarantine:mx', `release:${ALICE} (imap)`],
      );

    // A second release action on the digest: taken up, and nothing more is delivered or audited.
    await flag(digest.uid, '$QuarantineRelease', true);
    await flag(digest.uid, '$QuarantineRelease');
    await actionsApplied();
    const after = await inbox();
    for (const s of subjects) assert.equal(after.filter((m) => m.subject === s).length, 1, s);
    for (const id of digest.ids) assert.equal((await auditOf(hermod.db.pool, id)).length, 2);

    // A later entry's digest comes; by then both replicas have run the pass for every period since.
    const third = await swaks('Purchase order 3');
    const final = digestsIn(await digestedOver([third]));
    const listed = final.flatMap((d) => d.ids);
    for (const id of [first, second, third])
      assert.equal(listed.filter((x) => x === id).length, 1, `${id} in one digest only`);
    assert.equal(new Set(final.map((d) => d.period)).size, final.length, 'one digest a period');
    const { rows } = await hermod.db.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM quarantine_digests WHERE spool_id IS NOT NULL',
    );
    assert.equal(rows[0]?.n, final.length);
  });
});
