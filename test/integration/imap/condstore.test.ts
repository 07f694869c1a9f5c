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
    const m = /^\* 2 FETCH \(FLAGS \(\\Seen \\Recent\) MODSEQ \((\d+)\)\)$/.exec(stored.untagged[0] ?? '');
    assert.ok(m, stored.untagged.join('|'));
    const changed = Number(m[1]);
    assert.ok(changed > start);
    const since = await raw.command(`FETCH 1:* (FLAGS) (CHANGEDSINCE ${start})`);
    assert.deepEqual(since.untagged, [`* 2 FETCH (FLAGS (\\Seen \\Recent) MODSEQ (${changed}))`]);
    const refused = await raw.command(`STORE 1:2 (UNCHANGEDSINCE ${start}) +FLAGS (\\Flagged)`);
    assert.match(refused.tagged, /OK \[MODIFIED 2\]/);
    assert.equal(refused.untagged.length, 1);
    assert.match(refused.untagged[0]!, /^\* 1 FETCH \(FLAGS \(\\Flagged \\Recent\) MODSEQ \(\d+\)\)$/);
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
});
