import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type ImapFixture, RawImapClient, startImapFixture } from './imap-fixture.js';

const msg = (n: number) => `Subject: cs ${n}\r\n\r\nbody ${n}\r\n`;
const modseqOf = (lines: string[]) => Number(/HIGHESTMODSEQ (\d+)/.exec(lines.join('\n'))?.[1]);

describe('CONDSTORE and QRESYNC (RFC 7162)', () => {
  let fx: ImapFixture;
  let raw: RawImapClient;
  before(async () => {
    fx = await startImapFixture();
    const id = await fx.createUser('jack@example.com');
    for (let i = 1; i <= 5; i++) await fx.deliver(id, msg(i));
    raw = await RawImapClient.connect(fx.service.imapsPort, true);
    await raw.readLine();
    await raw.login('jack@example.com');
  });
  after(async () => {
    raw?.close();
    await fx?.close();
  });

  it('reports HIGHESTMODSEQ, MODSEQ, CHANGEDSINCE and UNCHANGEDSINCE/MODIFIED', async () => {
    const caps = await raw.command('CAPABILITY');
    assert.match(caps.untagged[0]!, / CONDSTORE /);
    const sel = await raw.command('SELECT INBOX (CONDSTORE)');
    const start = modseqOf(sel.untagged);
    assert.ok(start > 0, sel.untagged.join('|'));
    const stored = await raw.command('STORE 2 +FLAGS (\\Seen)');
    const m = /^\* 2 FETCH \(UID 2 FLAGS \(\\Seen \\Recent\) MODSEQ \((\d+)\)\)$/.exec(
      stored.untagged[0] ?? '',
    );
    assert.ok(m, stored.untagged.join('|'));
    const changed = Number(m[1]);
    assert.ok(changed > start);
    const since = await raw.command(`FETCH 1:* (FLAGS) (CHANGEDSINCE ${start})`);
    assert.deepEqual(since.untagged, [`* 2 FETCH (FLAGS (\\Seen \\Recent) MODSEQ (${changed}))`]);
    const refused = await raw.command(`STORE 1:2 (UNCHANGEDSINCE ${start}) +FLAGS (\\Flagged)`);
    assert.match(refused.tagged, /OK \[MODIFIED 2\]/);
    assert.equal(refused.untagged.length, 1);
    assert.match(refused.untagged[0]!, /^\* 1 FETCH \(UID 1 FLAGS \(\\Flagged \\Recent\) MODSEQ \(\d+\)\)$/);
    const search = await raw.command(`SEARCH MODSEQ ${changed}`);
    assert.match(search.untagged[0]!, /^\* SEARCH 1 2 \(MODSEQ \d+\)$/);
    const status = await raw.command('STATUS INBOX (HIGHESTMODSEQ MESSAGES SIZE)');
    assert.match(status.untagged[0]!, /^\* STATUS INBOX \(HIGHESTMODSEQ \d+ MESSAGES 5 SIZE \d+\)$/);
  });

  it('QRESYNC: SELECT reports VANISHED (EARLIER) and changed flags; EXPUNGE becomes VANISHED', async () => {
    const sel = await raw.command('SELECT INBOX');
    const validity = Number(/UIDVALIDITY (\d+)/.exec(sel.untagged.join('\n'))?.[1]);
    const before = modseqOf(sel.untagged);
    await raw.command('STORE 3,4 +FLAGS.SILENT (\\Deleted)');
    await raw.command('STORE 5 +FLAGS.SILENT ($Important)');
    await raw.command('EXPUNGE');
    await raw.command('UNSELECT');
    const enabled = await raw.command('ENABLE QRESYNC');
    assert.deepEqual(enabled.untagged, ['* ENABLED QRESYNC']);
    const resync = await raw.command(`SELECT INBOX (QRESYNC (${validity} ${before} 1:5))`);
    assert.ok(resync.untagged.includes('* VANISHED (EARLIER) 3:4'), resync.untagged.join('|'));
    assert.ok(
      resync.untagged.some((l) =>
        /^\* 3 FETCH \(UID 5 FLAGS \(\$Important( \\Recent)?\) MODSEQ \(\d+\)\)$/.test(l),
      ),
      resync.untagged.join('|'),
    );
    const vanished = await raw.command(`UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${before} VANISHED)`);
    assert.equal(vanished.untagged[0], '* VANISHED (EARLIER) 3:4');
    await raw.command('STORE 1 +FLAGS.SILENT (\\Deleted)');
    const expunge = await raw.command('EXPUNGE');
    assert.deepEqual(expunge.untagged, ['* VANISHED 1']);
    assert.match(expunge.tagged, /OK \[HIGHESTMODSEQ \d+\]/);
  });

  it('QRESYNC parameter grammar (RFC 7162 section 7): no "*" in the known sets, non-zero numbers', async () => {
    // QRESYNC is enabled by the test before.
    for (const bad of [
      'SELECT INBOX (QRESYNC (1 1 1:*))',
      'SELECT INBOX (QRESYNC (1 1 *))',
      'SELECT INBOX (QRESYNC (1 1 1:5 (1:* 1:5)))',
      'SELECT INBOX (QRESYNC (1 1 1:5 (1:5 4:*)))',
      'SELECT INBOX (QRESYNC (1 1 1:5 (1:5)))',
      'SELECT INBOX (QRESYNC (1 1 1:5 (foo bar)))',
      'SELECT INBOX (QRESYNC (1 1 (1:5 1:5) 2))',
      'SELECT INBOX (QRESYNC (0 1))',
      'SELECT INBOX (QRESYNC (1 0))',
      'SELECT INBOX (QRESYNC (4294967296 1))',
      // known-sequence-set and known-uid-set name the same messages, so they are the same size.
      'SELECT INBOX (QRESYNC (1 1 1:3 (1:2 1:3)))',
      'SELECT INBOX (QRESYNC (1 1 (1,3 5)))',
      'EXAMINE INBOX (QRESYNC (1 1 2,*))',
    ])
      assert.equal((await raw.command(bad)).status, 'BAD', bad);
    for (const good of [
      'SELECT INBOX (QRESYNC (1 1))',
      'SELECT INBOX (QRESYNC (1 1 1:5))',
      'SELECT INBOX (QRESYNC (1 1 1:5 (1:2 1,5)))',
      'SELECT INBOX (QRESYNC (1 1 (1:2 1,5)))',
    ])
      assert.equal((await raw.command(good)).status, 'OK', good);
  });

  it('VANISHED for expunges lists UIDs as ranges (2:4, as in VANISHED (EARLIER) and Dovecot)', async () => {
    assert.equal((await raw.command('SELECT INBOX')).status, 'OK');
    const uids: number[] = [];
    for (let i = 0; i < 3; i++) {
      const text = msg(10 + i);
      const r = await raw.command(`APPEND INBOX {${text.length}+}\r\n${text}`);
      uids.push(Number(/APPENDUID \d+ (\d+)/.exec(r.tagged)?.[1]));
    }
    await raw.command('NOOP');
    await raw.command(`UID STORE ${uids.join(',')} +FLAGS.SILENT (\\Deleted)`);
    const expunge = await raw.command(`UID EXPUNGE ${uids.join(',')}`);
    assert.deepEqual(expunge.untagged, [`* VANISHED ${uids[0]}:${uids[2]}`]);
  });

  it('SEARCH MODSEQ entry name and type follow RFC 7162 section 7 ("/flags/" flag, priv / shared / all)', async () => {
    assert.equal((await raw.command('SELECT INBOX')).status, 'OK');
    for (const good of [
      'SEARCH MODSEQ "/flags/\\\\Seen" all 1',
      'SEARCH MODSEQ "/flags/\\\\draft" priv 1',
      'SEARCH MODSEQ "/FLAGS/$Important" Shared 1',
      'SEARCH MODSEQ 1',
    ]) {
      const r = await raw.command(good);
      assert.equal(r.status, 'OK', `${good}: ${r.tagged}`);
      assert.match(r.untagged[0] ?? '', /^\* SEARCH \d/, good);
    }
    for (const bad of [
      'SEARCH MODSEQ "/flags/\\\\Seen" foo 1',
      'SEARCH MODSEQ "/other/\\\\Seen" all 1',
      'SEARCH MODSEQ "/flags/" all 1',
      'SEARCH MODSEQ "/flags/a b" all 1',
      'SEARCH MODSEQ "/flags/\\\\Seen" 1',
      'SEARCH MODSEQ "/flags/\\\\Recent" all 1',
      'SEARCH MODSEQ x',
    ])
      assert.equal((await raw.command(bad)).status, 'BAD', bad);
  });
});

// RFC 7162 3.1: once CONDSTORE is enabled, every untagged FETCH that reports a flag change carries
// UID and MODSEQ, whoever caused it; the first enabling command on a selected mailbox reports
// HIGHESTMODSEQ; ESEARCH MIN/MAX report the mod-sequence of the message returned (3.1.5).
describe('CONDSTORE: UID and MODSEQ on every flag-change FETCH', () => {
  let fx: ImapFixture;
  const clients: RawImapClient[] = [];
  const open = async () => {
    const c = await RawImapClient.connect(fx.service.imapsPort, true);
    clients.push(c);
    await c.readLine();
    await c.login('kate@example.com');
    return c;
  };
  const hasUidAndModseq = (line: string, uid: number) =>
    new RegExp(`^\\* \\d+ FETCH \\((?=.*\\bUID ${uid}\\b)(?=.*\\bMODSEQ \\(\\d+\\)).*\\)$`).test(line);
  before(async () => {
    fx = await startImapFixture();
    const id = await fx.createUser('kate@example.com');
    for (let i = 1; i <= 4; i++) await fx.deliver(id, msg(i));
  });
  after(async () => {
    for (const c of clients) c.close();
    await fx?.close();
  });

  it('STORE, STORE.SILENT, another session and the implicit \\Seen of FETCH BODY[] carry UID and MODSEQ', async () => {
    const a = await open();
    const b = await open();
    for (const c of [a, b]) {
      await c.command('ENABLE CONDSTORE');
      await c.command('SELECT INBOX');
    }
    const stored = await a.command('STORE 1 +FLAGS (\\Flagged)');
    assert.equal(stored.untagged.length, 1);
    assert.ok(hasUidAndModseq(stored.untagged[0]!, 1), stored.untagged[0]);
    const silent = await a.command('STORE 2 +FLAGS.SILENT (\\Answered)');
    assert.equal(silent.untagged.length, 1);
    assert.ok(hasUidAndModseq(silent.untagged[0]!, 2), silent.untagged[0]);
    assert.doesNotMatch(silent.untagged[0]!, /FLAGS/);
    const seen = await a.command('FETCH 3 BODY[]');
    assert.equal(seen.untagged.length, 1);
    assert.match(
      seen.untagged[0]!,
      /^\* 3 FETCH \(UID 3 BODY\[\] \{\d+\}\r\n[\s\S]* FLAGS \([^)]*\) MODSEQ \(\d+\)\)$/,
    );
    assert.match(seen.untagged[0]!, /FLAGS \([^)]*\\Seen/);
    const other = await b.command('NOOP');
    const fetches = other.untagged.filter((l) => / FETCH /.test(l));
    assert.equal(fetches.length, 3, other.untagged.join('|'));
    for (const [i, uid] of [1, 2, 3].entries()) assert.ok(hasUidAndModseq(fetches[i]!, uid), fetches[i]);
  });

  it('the first CONDSTORE-enabling command on a selected mailbox reports HIGHESTMODSEQ', async () => {
    for (const enabling of [
      'FETCH 1 (MODSEQ)',
      'SEARCH MODSEQ 1',
      'UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1)',
    ]) {
      const c = await open();
      const sel = await c.command('SELECT INBOX');
      const highest = modseqOf(sel.untagged);
      const r = await c.command(enabling);
      assert.ok(
        r.untagged.includes(`* OK [HIGHESTMODSEQ ${highest}] Highest`),
        `${enabling}: ${r.untagged.join('|')}`,
      );
      const again = await c.command(enabling);
      assert.ok(!again.untagged.some((l) => /HIGHESTMODSEQ/.test(l)), again.untagged.join('|'));
    }
  });

  it('SEARCH RETURN (MIN) / (MAX) with MODSEQ reports the returned message’s mod-sequence', async () => {
    const c = await open();
    await c.command('SELECT INBOX (CONDSTORE)');
    const all = await c.command('FETCH 1:* (MODSEQ)');
    const modseqs = all.untagged.map((l) => Number(/MODSEQ \((\d+)\)/.exec(l)![1]));
    assert.equal(modseqs.length, 4);
    const min = await c.command('SEARCH RETURN (MIN) MODSEQ 1');
    assert.match(min.untagged[0]!, new RegExp(`^\\* ESEARCH \\(TAG "t\\d+"\\) MIN 1 MODSEQ ${modseqs[0]}$`));
    const max = await c.command('SEARCH RETURN (MAX) MODSEQ 1');
    assert.match(max.untagged[0]!, new RegExp(`^\\* ESEARCH \\(TAG "t\\d+"\\) MAX 4 MODSEQ ${modseqs[3]}$`));
    const both = await c.command('SEARCH RETURN (MIN MAX) MODSEQ 1');
    const highest = Math.max(modseqs[0]!, modseqs[3]!);
    assert.match(both.untagged[0]!, new RegExp(`MIN 1 MAX 4 MODSEQ ${highest}$`));
  });
});
