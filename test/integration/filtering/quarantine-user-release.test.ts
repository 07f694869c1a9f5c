// A recipient's own quarantine release and delete from an IMAP client, end to end against real
// routing, mda, imap, mx, clamd, nats-server and PostgreSQL: swaks sends a message a policy rule
// holds for two recipients; each finds the notice over IMAP; alice flags it $QuarantineRelease and
// the message arrives in her INBOX once (read over IMAP), audited with her as the actor, while bob's
// copy stays held; a second release action by alice does nothing more (bob's later release by
// moving his notice into Quarantine/Release and a marker mail show it was taken up); a malware
// entry's notice says only an admin releases it, alice's release is refused and audited, and her
// $QuarantineDelete takes her off the entry; a domain that lets its recipients release malware
// (MailDomain quarantine.userReleaseKinds) has carol release an EICAR message herself.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AccountStore } from '@hermod/accounts';
import { auditOf, listQuarantine } from '@hermod/quarantine';
import {
  ClamdPeer,
  eventually,
  type HermodPlatform,
  requireTool,
  run,
  startHermod,
  testWorkdir,
} from '@hermod/test/harness';
import { clean, plainEicar } from './malware-samples.js';
import {
  flagMessage,
  type ImapLogin,
  messagesIn,
  HOLD_PURCHASE_ORDERS as RULES,
  swaksTo,
  withImap,
} from './quarantine-helpers.js';

let hermod: HermodPlatform;
let clamd: ClamdPeer;
let workdir: string;

const passwords: Record<string, string> = {
  'alice@example.test': 'alice-password-1',
  'bob@example.test': 'bob-password-1',
  'carol@lab.example.test': 'carol-password-1',
};

const login = (user: string): ImapLogin => ({ port: hermod.ports.imap, user, pass: passwords[user] ?? '' });

/** Waits for the notice of quarantine entry id in the user's INBOX, over IMAP. */
const noticeOf = (user: string, id: string) =>
  eventually(`the notice of ${id} for ${user}`, () =>
    withImap(login(user), async (imap) =>
      (await messagesIn(imap)).find((m) => m.source.includes(`X-Hermod-Quarantine-Id: ${id}`)),
    ),
  );

const flag = (user: string, uid: number, keyword: string, remove = false) =>
  flagMessage(login(user), uid, keyword, remove);

const swaks = (to: string[], subject: string, body: string) => swaksTo(hermod.ports.mx, to, subject, body);

async function sendRaw(message: string, to = 'alice@example.test'): Promise<string> {
  const file = join(workdir, `m-${Date.now()}-${Math.random().toString(36).slice(2)}.eml`);
  await writeFile(file, message);
  const result = await run('swaks', [
    ...['--server', '127.0.0.1', '--port', String(hermod.ports.mx)],
    ...['--from', 'sender@remote.example', '--to', to, '--data', `@${file}`],
  ]);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  const id = /<- {2}250 .*queued as ([0-9a-f-]{36})/.exec(result.stdout)?.[1];
  assert.ok(id, result.stdout);
  return id;
}

async function hermodCli(args: string[]): Promise<string> {
  const result = await run(process.execPath, ['--import', 'tsx', 'services/cli/src/main.ts', ...args], {
    env: { ...process.env, NATS_URL: hermod.nats.url, DATABASE_URL: hermod.db.url },
    timeoutMs: 60_000,
  });
  assert.equal(result.code, 0, `hermod ${args.join(' ')}: ${result.stdout}${result.stderr}`);
  return result.stdout;
}

const audited = async (id: string) =>
  (await auditOf(hermod.db.pool, id)).map((a) => `${a.action}:${a.actor}`);

before(async () => {
  await requireTool('swaks', 'apt-get install swaks');
  clamd = new ClamdPeer();
  await clamd.start();
  workdir = await testWorkdir('quarantine-user-release');
  await writeFile(join(workdir, 'rules.yaml'), RULES);
  hermod = await startHermod({
    services: ['routing', 'mda', 'imap', 'mx'],
    env: {
      mx: {
        MX_AUTH_CHECKS: 'false',
        POLICY_RULES_FILE: join(workdir, 'rules.yaml'),
        CLAMD_ADDRESS: clamd.address,
        CLAMD_TIMEOUT_MS: '5000',
        MX_MALWARE_ACTION: 'quarantine',
        QUARANTINE_ACTION_POLL_MS: '200',
      },
    },
  });
  await hermod.addDomain('example.test');
  // A domain whose recipients may release malware themselves (the MailDomain's quarantine setting).
  await hermod.addDomain('lab.example.test', { quarantine: { userReleaseKinds: ['malware', 'policy'] } });
  const accounts = new AccountStore(hermod.db.pool);
  for (const [address, password] of Object.entries(passwords)) await accounts.create({ address, password });
});

after(async () => {
  await hermod?.stop();
  await clamd?.stop();
});

describe("a recipient's own quarantine release over IMAP", () => {
  test('release by keyword, exactly once, for the releasing recipient only; bob by folder', async () => {
    const id = await swaks(['alice@example.test', 'bob@example.test'], 'Purchase order 7', 'Please confirm.');
    const notice = await noticeOf('alice@example.test', id);
    assert.match(notice.subject, /^Quarantined: Purchase order 7$/);
    assert.match(
      notice.source,
      /keyword\r\n\$QuarantineRelease or move \(or copy\) it into the folder Quarantine\/Release/,
    );

    await flag('alice@example.test', notice.uid, '$QuarantineRelease');
    const released = await eventually('the released message in alice INBOX over IMAP', () =>
      withImap(login('alice@example.test'), async (imap) =>
        (await messagesIn(imap)).find((m) => m.subject === 'Purchase order 7'),
      ),
    );
    assert.match(released.source, /^X-Hermod-Policy: hold-purchase-orders\r$/m);
    assert.deepEqual(await audited(id), ['quarantine:mx', 'release:alice@example.test (imap)']);
    // Released for alice only: bob's copy is still held, alice's listing no longer shows it (CLI).
    const forBob = JSON.parse(
      await hermodCli(['quarantine', 'list', '--recipient', 'bob@example.test', '--json']),
    );
    assert.ok(
      (forBob as Array<{ id: string; releasedTo: string[] }>).some(
        (e) => e.id === id && e.releasedTo.join() === 'alice@example.test',
      ),
    );
    const forAlice = JSON.parse(
      await hermodCli(['quarantine', 'list', '--recipient', 'alice@example.test', '--json']),
    ) as Array<{ id: string }>;
    assert.ok(!forAlice.some((e) => e.id === id));

    // A second release action by alice (the keyword taken off and set again).
    await flag('alice@example.test', notice.uid, '$QuarantineRelease', true);
    await flag('alice@example.test', notice.uid, '$QuarantineRelease');
    // Bob releases by moving his notice into the release folder (any IMAP client can do that).
    const bobNotice = await noticeOf('bob@example.test', id);
    await withImap(login('bob@example.test'), async (imap) => {
      await imap.mailboxCreate('Quarantine/Release');
      const lock = await imap.getMailboxLock('INBOX');
      try {
        assert.ok(await imap.messageMove(String(bobNotice.uid), 'Quarantine/Release', { uid: true }));
      } finally {
        lock.release();
      }
    });
    await eventually('the released message in bob INBOX over IMAP', () =>
      withImap(login('bob@example.test'), async (imap) =>
        (await messagesIn(imap)).find((m) => m.subject === 'Purchase order 7'),
      ),
    );
    // Actions are taken in order: bob's release came after alice's second one, and a marker after both.
    await sendRaw(clean('marker after the releases'));
    const inbox = await eventually('the marker in alice INBOX', () =>
      withImap(login('alice@example.test'), async (imap) => {
        const all = await messagesIn(imap);
        return all.some((m) => m.subject === 'marker after the releases') ? all : undefined;
      }),
    );
    assert.equal(inbox.filter((m) => m.subject === 'Purchase order 7').length, 1);
    assert.deepEqual(await audited(id), [
      'quarantine:mx',
      'release:alice@example.test (imap)',
      'release:bob@example.test (imap)',
    ]);
    const entry = (await listQuarantine(hermod.db.pool, { includeReleased: true })).find((e) => e.id === id);
    assert.equal(entry?.releasedBy, 'bob@example.test (imap)');
  });

  test("malware: the notice says only an admin releases it, the user's release is refused, delete works", async () => {
    const id = await sendRaw(plainEicar('eicar for alice'));
    const notice = await noticeOf('alice@example.test', id);
    assert.match(notice.source, /It carries malware: only your mail administrator can release it/);
    assert.doesNotMatch(notice.source, /move \(or copy\) it into the folder/);

    await flag('alice@example.test', notice.uid, '$QuarantineRelease');
    await eventually('the refusal in the audit log', async () =>
      (await audited(id)).includes('release-refused:alice@example.test (imap)') ? true : undefined,
    );
    const held = await listQuarantine(hermod.db.pool, { recipient: 'alice@example.test', kind: 'malware' });
    assert.ok(held.some((e) => e.id === id && e.releasedAt === null && e.releasedTo.length === 0));

    await flag('alice@example.test', notice.uid, '$QuarantineDelete');
    await eventually('the entry deleted', async () =>
      (await listQuarantine(hermod.db.pool, { includeReleased: true })).some((e) => e.id === id)
        ? undefined
        : true,
    );
    assert.deepEqual(await audited(id), [
      'quarantine:mx',
      'release-refused:alice@example.test (imap)',
      'delete:alice@example.test (imap)',
    ]);
    const inbox = await withImap(login('alice@example.test'), (imap) => messagesIn(imap));
    assert.ok(!inbox.some((m) => m.subject === 'eicar for alice'));
  });

  test("a domain's setting lets its recipients release malware themselves", async () => {
    const id = await sendRaw(plainEicar('eicar for the lab'), 'carol@lab.example.test');
    const notice = await noticeOf('carol@lab.example.test', id);
    assert.match(
      notice.source,
      /\$QuarantineRelease or move \(or copy\) it into the folder Quarantine\/Release/,
    );
    await flag('carol@lab.example.test', notice.uid, '$QuarantineRelease');
    const released = await eventually('the released sample in carol INBOX over IMAP', () =>
      withImap(login('carol@lab.example.test'), async (imap) =>
        (await messagesIn(imap)).find((m) => m.subject === 'eicar for the lab'),
      ),
    );
    assert.match(released.source, /EICAR-STANDARD-ANTIVIRUS-TEST-FILE/);
    assert.deepEqual(await audited(id), ['quarantine:mx', 'release:carol@lab.example.test (imap)']);
  });
});
