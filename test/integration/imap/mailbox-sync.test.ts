import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import { eventually } from '../../harness/index.js';
import {
  type ImapFixture,
  type ImapService,
  PASSWORD,
  RawImapClient,
  startImapFixture,
} from './imap-fixture.js';

const note = (n: number, extra = '') =>
  `From: sender${n}@example.com\r\nTo: carol@example.com\r\nSubject: note ${n}${extra}\r\nDate: Mon, 2${n % 10} Nov 2026 10:00:00 +0000\r\n\r\nbody of note ${n}\r\n`;

/** The numbers of a sequence set such as 3,5:7. */
function expandSet(set: string): number[] {
  return set.split(',').flatMap((part) => {
    const [a, b = a] = part.split(':').map(Number) as [number, number?];
    const out: number[] = [];
    for (let n = Math.min(a, b!); n <= Math.max(a, b!); n++) out.push(n);
    return out;
  });
}

async function rawLogin(port: number, user = 'carol@example.com'): Promise<RawImapClient> {
  const raw = await RawImapClient.connect(port, true);
  await raw.readLine();
  await raw.login(user);
  return raw;
}

/** Reads untagged lines until one matches, failing after timeoutMs. */
async function waitFor(raw: RawImapClient, pattern: RegExp, timeoutMs = 3_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = await raw.readLine(Math.max(1, deadline - Date.now()));
    if (pattern.test(line)) return line;
  }
}

describe('imap mailbox state across sessions and replicas', () => {
  let fx: ImapFixture;
  let second: ImapService;
  let accountId: number;
  before(async () => {
    fx = await startImapFixture();
    second = await fx.startReplica();
    accountId = await fx.createUser('carol@example.com');
    for (let i = 1; i <= 3; i++) await fx.deliver(accountId, note(i));
  });
  after(async () => {
    await fx?.close();
  });

  it('an IDLE session on one replica sees APPEND, flag changes and EXPUNGE made through another within a second', async () => {
    const idler = await rawLogin(fx.service.imapsPort);
    await idler.command('SELECT INBOX');
    idler.send('i1 IDLE\r\n');
    assert.match(await idler.readLine(), /^\+ /);

    const other = await rawLogin(second.imapsPort);
    const started = Date.now();
    const body = note(99);
    const appended = await other.command(
      `APPEND INBOX (\\Flagged) "01-Nov-2026 08:00:00 +0100" {${body.length}+}\r\n${body}`,
    );
    assert.match(appended.tagged, /OK \[APPENDUID \d+ 4\]/);
    assert.equal(await waitFor(idler, /EXISTS$/), '* 4 EXISTS');
    assert.ok(Date.now() - started < 1_000, `took ${Date.now() - started} ms`);

    await other.command('SELECT INBOX');
    await other.command('STORE 2 +FLAGS (\\Deleted)');
    assert.equal(await waitFor(idler, /FETCH/), '* 2 FETCH (UID 2 FLAGS (\\Deleted \\Recent))');
    await other.command('EXPUNGE');
    assert.equal(await waitFor(idler, /EXPUNGE$/), '* 2 EXPUNGE');

    // A delivery by the MDA (event published on NATS) reaches the IDLE session as well.
    await fx.deliver(accountId, note(5));
    assert.equal(await waitFor(idler, /EXISTS$/), '* 4 EXISTS');
    idler.send('DONE\r\n');
    assert.match(await waitFor(idler, /^i1 /), /^i1 OK/);
    const view = await idler.command('FETCH 1:* (UID FLAGS INTERNALDATE)');
    assert.deepEqual(
      view.untagged.map((l) => /UID (\d+)/.exec(l)?.[1]),
      ['1', '3', '4', '5'],
    );
    // The internal date keeps the zone APPEND gave it.
    assert.ok(view.untagged[2]?.includes('INTERNALDATE "01-Nov-2026 08:00:00 +0100"'), view.untagged[2]);
    assert.ok(view.untagged[2]?.includes('\\Flagged'));
    idler.close();
    other.close();
  });

  it('a session whose selected mailbox another replica deletes is closed with BYE, in IDLE and at its next command (RFC 2180 3.3)', async () => {
    const other = await rawLogin(second.imapsPort);
    assert.equal((await other.command('CREATE Doomed')).status, 'OK');
    const idler = await rawLogin(fx.service.imapsPort);
    const busy = await rawLogin(fx.service.imapsPort);
    const notified = await rawLogin(fx.service.imapsPort);
    assert.equal((await idler.command('SELECT Doomed')).status, 'OK');
    assert.equal((await busy.command('SELECT Doomed')).status, 'OK');
    assert.equal((await notified.command('SELECT Doomed')).status, 'OK');
    assert.equal((await notified.command('NOTIFY SET (selected (MessageNew MessageExpunge))')).status, 'OK');
    for (const session of [idler, notified]) {
      session.send('i1 IDLE\r\n');
      assert.match(await session.readLine(), /^\+ /);
    }
    assert.equal((await other.command('DELETE Doomed')).status, 'OK');
    // Its view cannot be told of the deletion in any other way: BYE, then the connection closes
    // (also under NOTIFY, whose IDLE otherwise reports only what NOTIFY asks for).
    for (const session of [idler, notified]) {
      assert.equal(
        await waitFor(session, /^\* BYE /),
        '* BYE Selected mailbox was deleted, have to disconnect',
      );
      await assert.rejects(session.readLine(), /connection closed/);
    }
    // The busy session (same replica, so it has had the same event) is told at its next command.
    busy.send('n1 NOOP\r\n');
    assert.equal(await busy.readLine(), '* BYE Selected mailbox was deleted, have to disconnect');
    await assert.rejects(busy.readLine(), /connection closed/);
    // A session with another mailbox selected is not affected.
    other.send('n2 NOOP\r\n');
    assert.equal(await other.readLine(), 'n2 OK NOOP completed');
  });

  it('a session may DELETE its own selected mailbox: the tagged OK, then BYE and the close (as Dovecot)', async () => {
    const owner = await rawLogin(fx.service.imapsPort);
    assert.equal((await owner.command('CREATE OwnDoomed')).status, 'OK');
    assert.equal((await owner.command('SELECT OwnDoomed')).status, 'OK');
    const deleted = await owner.command('DELETE OwnDoomed');
    assert.equal(deleted.status, 'OK', deleted.tagged);
    assert.equal(await owner.readLine(), '* BYE Selected mailbox was deleted, have to disconnect');
    await assert.rejects(owner.readLine(), /connection closed/);
    const check = await rawLogin(fx.service.imapsPort);
    const list = await check.command('LIST "" OwnDoomed');
    assert.deepEqual(
      list.untagged.filter((l) => l.startsWith('* LIST')),
      [],
      list.untagged.join('\n'),
    );
    check.close();
  });

  it('does not send EXPUNGE during FETCH, and sends it at the next NOOP', async () => {
    const a = await rawLogin(fx.service.imapsPort);
    const b = await rawLogin(second.imapsPort);
    // A session idling on a's replica: when it is told of the expunge, a's replica knows of it too.
    const watcher = await rawLogin(fx.service.imapsPort);
    await a.command('SELECT INBOX');
    await watcher.command('SELECT INBOX');
    watcher.send('w IDLE\r\n');
    assert.match(await watcher.readLine(), /^\+ /);
    await b.command('SELECT INBOX');
    await b.command('UID STORE 5 +FLAGS.SILENT (\\Deleted)');
    await b.command('UID EXPUNGE 5');
    await waitFor(watcher, /^\* 4 EXPUNGE/, 10_000);
    watcher.close();
    const fetch = await a.command('FETCH 1 UID');
    assert.ok(!fetch.untagged.some((l) => l.includes('EXPUNGE')), fetch.untagged.join('|'));
    const noop = await a.command('NOOP');
    assert.ok(noop.untagged.includes('* 4 EXPUNGE'), noop.untagged.join('|'));
    a.close();
    b.close();
  });

  it('COPY and MOVE answer COPYUID; MOVE expunges the source; UIDPLUS UID EXPUNGE only removes the named', async () => {
    const raw = await rawLogin(fx.service.imapsPort);
    const sel = await raw.command('SELECT INBOX');
    assert.ok(sel.untagged.includes('* 3 EXISTS'), sel.untagged.join('|'));
    const archive = await raw.command('STATUS Archive (UIDVALIDITY UIDNEXT MESSAGES)');
    const validity = /UIDVALIDITY (\d+)/.exec(archive.untagged[0]!)?.[1];
    const copy = await raw.command('UID COPY 1,3 Archive');
    assert.equal(copy.tagged.replace(/^t\d+ /, ''), `OK [COPYUID ${validity} 1,3 1:2] UID COPY completed`);
    const move = await raw.command('MOVE 1 Trash');
    assert.ok(
      move.untagged.some((l) => /^\* OK \[COPYUID \d+ 1 1\]/.test(l)),
      move.untagged.join('|'),
    );
    assert.ok(move.untagged.includes('* 1 EXPUNGE'));
    const trycreate = await raw.command('COPY 1 Nowhere');
    assert.match(trycreate.tagged, /NO \[TRYCREATE\]/);
    await raw.command('STORE 1:2 +FLAGS.SILENT (\\Deleted)');
    const uidExpunge = await raw.command('UID EXPUNGE 3');
    assert.deepEqual(uidExpunge.untagged, ['* 1 EXPUNGE']);
    const status = await raw.command('STATUS INBOX (MESSAGES UNSEEN)');
    assert.equal(status.untagged[0], '* STATUS INBOX (MESSAGES 1 UNSEEN 1)');
    raw.close();
  });

  it('SEARCH evaluates flags, headers, body, dates, sizes, sets, NOT/OR; ESEARCH and SEARCHRES', async () => {
    await fx.createUser('dan@example.com');
    const dan = (await fx.accounts.findByAddress('dan@example.com'))!.id;
    await fx.deliver(dan, note(1, ' alpha'), { date: new Date('2026-01-05T12:00:00Z') });
    await fx.deliver(dan, note(2, ' beta'), { flags: ['\\Seen'], date: new Date('2026-02-05T12:00:00Z') });
    await fx.deliver(dan, `${note(3)}${'x'.repeat(2000)}\r\n`, {
      flags: ['\\Seen', '\\Flagged'],
      date: new Date('2026-03-05T12:00:00Z'),
    });
    const raw = await rawLogin(fx.service.imapsPort, 'dan@example.com');
    await raw.command('SELECT INBOX');
    const search = async (q: string) => (await raw.command(q)).untagged.find((l) => /^\* E?SEARCH/.test(l));
    assert.equal(await search('SEARCH UNSEEN'), '* SEARCH 1');
    assert.equal(await search('SEARCH SEEN NOT FLAGGED'), '* SEARCH 2');
    assert.equal(await search('SEARCH OR SUBJECT alpha SUBJECT BETA'), '* SEARCH 1 2');
    assert.equal(await search('SEARCH FROM sender3'), '* SEARCH 3');
    assert.equal(await search('SEARCH BODY "body of note 2"'), '* SEARCH 2');
    assert.equal(await search('SEARCH TEXT "note 1 alpha"'), '* SEARCH 1');
    assert.equal(await search('SEARCH LARGER 1000'), '* SEARCH 3');
    assert.equal(await search('SEARCH SINCE 1-Feb-2026 BEFORE 1-Mar-2026'), '* SEARCH 2');
    assert.equal(await search('SEARCH HEADER Subject "note"'), '* SEARCH 1 2 3');
    assert.equal(await search('UID SEARCH 2:*'), '* SEARCH 2 3');
    assert.equal(await search('SEARCH CHARSET UTF-8 (OR 1 3) SEEN'), '* SEARCH 3');
    assert.match((await raw.command('SEARCH CHARSET KOI8-R ALL')).tagged, /NO \[BADCHARSET/);
    const es = await raw.command('UID SEARCH RETURN (MIN MAX COUNT ALL) SEEN');
    assert.match(es.untagged[0]!, /^\* ESEARCH \(TAG "t\d+"\) UID MIN 2 MAX 3 ALL 2:3 COUNT 2$/);
    const saved = await raw.command('SEARCH RETURN (SAVE) FLAGGED');
    assert.deepEqual(saved.untagged, []);
    const fetched = await raw.command('FETCH $ (UID)');
    assert.deepEqual(fetched.untagged, ['* 3 FETCH (UID 3)']);
    raw.close();
  });

  it('converges: random STORE/EXPUNGE/APPEND/MOVE from sessions on two replicas leave every view equal to the database', async () => {
    const eve = await fx.createUser('eve@example.com');
    for (let i = 0; i < 20; i++) await fx.deliver(eve, note(i));
    const sessions = await Promise.all(
      [fx.service, second, fx.service, second].map((s) => rawLogin(s.imapsPort, 'eve@example.com')),
    );
    for (const s of sessions) await s.command('SELECT INBOX');
    let seed = 42;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let round = 0; round < 60; round++) {
      const s = sessions[random(sessions.length)]!;
      const op = random(5);
      const uid = 1 + random(30);
      if (op === 0) await s.command(`UID STORE ${uid} +FLAGS (\\Seen $Label${random(3)})`);
      else if (op === 1) await s.command(`UID STORE ${uid} -FLAGS (\\Seen)`);
      else if (op === 2) {
        await s.command(`UID STORE ${uid} +FLAGS.SILENT (\\Deleted)`);
        await s.command('EXPUNGE');
      } else if (op === 3) {
        const body = note(100 + round);
        await s.command(`APPEND INBOX {${body.length}+}\r\n${body}`);
      } else await s.command(`UID MOVE ${uid} Archive`);
    }
    const { rows } = await fx.db.pool.query<{ uid: number; flags: string[] }>(
      `SELECT uid, flags FROM mailbox_messages mm JOIN mailboxes m ON m.id = mm.mailbox_id
       WHERE m.account_id = $1 AND m.name = 'INBOX' ORDER BY uid`,
      [eve],
    );
    const expected = rows.map((r) => `${r.uid}:${[...r.flags].sort().join(',')}`);
    for (const s of sessions) {
      await s.command('NOOP');
      const view = await s.command('FETCH 1:* (UID FLAGS)');
      const seen = view.untagged
        .filter((l) => l.includes('FETCH'))
        .map((l) => {
          const m = /UID (\d+) FLAGS \(([^)]*)\)/.exec(l)!;
          return `${m[1]}:${m[2]!
            .split(' ')
            .filter((f) => f && f !== '\\Recent')
            .sort()
            .join(',')}`;
        });
      assert.deepEqual(seen, expected);
      s.close();
    }
  });

  it('converges under concurrency: 6 sessions and 2 IDLE sessions on two replicas, views built only from untagged responses', async () => {
    const zoe = await fx.createUser('zoe@example.com');
    for (let i = 0; i < 30; i++) await fx.deliver(zoe, note(i), { flags: i % 4 === 0 ? ['\\Seen'] : [] });
    const replicas = [fx.service, second];
    // Each session keeps the mailbox as the server has told it: seq -> {uid, flags}, updated from
    // EXISTS, EXPUNGE and FETCH responses only (as a client would), and checked against the database.
    type Entry = { uid?: number; flags?: string };
    class View {
      entries: Entry[] = [];
      vanished = 0;
      apply(line: string): void {
        let m = /^\* (\d+) EXISTS$/.exec(line);
        if (m) {
          const n = Number(m[1]);
          assert.ok(n >= this.entries.length, `EXISTS ${n} shrinks a view of ${this.entries.length}`);
          while (this.entries.length < n) this.entries.push({});
          return;
        }
        m = /^\* (\d+) EXPUNGE$/.exec(line);
        if (m) {
          const n = Number(m[1]);
          assert.ok(n >= 1 && n <= this.entries.length, `EXPUNGE ${n} outside 1..${this.entries.length}`);
          this.entries.splice(n - 1, 1);
          return;
        }
        m = /^\* VANISHED ([\d:,]+)$/.exec(line);
        if (m) {
          // QRESYNC: expunges by UID; every UID of the view is known by then (learnUids).
          for (const uid of expandSet(m[1]!)) {
            const at = this.entries.findIndex((e) => e.uid === uid);
            assert.ok(at >= 0, `VANISHED ${uid} not in the view: ${line}`);
            this.entries.splice(at, 1);
            this.vanished++;
          }
          return;
        }
        m = /^\* (\d+) FETCH \((.*)\)$/.exec(line);
        if (m) {
          const n = Number(m[1]);
          assert.ok(
            n >= 1 && n <= this.entries.length,
            `FETCH ${n} outside 1..${this.entries.length}: ${line}`,
          );
          const entry = this.entries[n - 1]!;
          const uid = /UID (\d+)/.exec(m[2]!)?.[1];
          if (uid) {
            if (entry.uid !== undefined)
              assert.equal(entry.uid, Number(uid), `seq ${n} changed UID: ${line}`);
            entry.uid = Number(uid);
          }
          const flags = /FLAGS \(([^)]*)\)/.exec(m[2]!)?.[1];
          if (flags !== undefined)
            entry.flags = flags
              .split(' ')
              .filter((f) => f && f !== '\\Recent')
              .sort()
              .join(',');
        }
      }
    }
    // Sessions run with CONDSTORE or QRESYNC on or neither: the response checker of the fixture
    // holds every flag change they are told of (also other sessions' and during IDLE) to UID +
    // MODSEQ, and expunges to VANISHED exactly under QRESYNC.
    type Mode = 'plain' | 'CONDSTORE' | 'QRESYNC';
    const open = async (port: number, mode: Mode) => {
      const raw = await rawLogin(port, 'zoe@example.com');
      if (mode !== 'plain')
        assert.deepEqual((await raw.command(`ENABLE ${mode}`)).untagged, [`* ENABLED ${mode}`]);
      const view = new View();
      for (const l of (await raw.command('SELECT INBOX')).untagged) view.apply(l);
      for (const l of (await raw.command('FETCH 1:* (UID FLAGS)')).untagged) view.apply(l);
      return { raw, view };
    };
    const modes: Mode[] = ['plain', 'CONDSTORE', 'QRESYNC'];
    const workers = await Promise.all(
      [0, 1, 0, 1, 0, 1].map((r, i) => open(replicas[r]!.imapsPort, modes[i % 3]!)),
    );
    const idlers = await Promise.all(
      [0, 1].map((r) => open(replicas[r]!.imapsPort, r === 0 ? 'CONDSTORE' : 'plain')),
    );
    // A QRESYNC session is told of expunges by UID, so it learns the UID of every message an EXISTS
    // announced before its next command (a FETCH by number reports no expunges meanwhile, but its
    // end may announce more messages: again until none is unknown).
    const learnUids = async ({ raw, view }: { raw: RawImapClient; view: View }) => {
      for (;;) {
        const first = view.entries.findIndex((e) => e.uid === undefined);
        if (first < 0) return;
        const known = view.entries.filter((e) => e.uid !== undefined).length;
        for (const l of (await raw.command(`FETCH ${first + 1}:* (UID)`)).untagged) view.apply(l);
        // A message expunged by another session but not yet reported to this one gets no FETCH
        // line, and FETCH may not report the expunge (RFC 3501 7.4.1): NOOP lets it arrive.
        if (view.entries.filter((e) => e.uid !== undefined).length === known)
          for (const l of (await raw.command('NOOP')).untagged) view.apply(l);
      }
    };
    const idleDone: Array<Promise<void>> = [];
    let stopIdle = false;
    for (const idler of idlers) {
      idler.raw.send('idle IDLE\r\n');
      assert.match(await idler.raw.readLine(), /^\+ /);
      idleDone.push(
        (async () => {
          for (;;) {
            let line: string;
            try {
              line = await idler.raw.readLine(100);
            } catch {
              // Stop when told to, or when the connection is gone (a failed run must not spin).
              if (stopIdle || idler.raw.closed) return;
              continue;
            }
            idler.view.apply(line);
          }
        })(),
      );
    }
    let appended = 0;
    const run = async ({ raw, view }: { raw: RawImapClient; view: View }, seed: number, qresync: boolean) => {
      // mulberry32: an LCG in doubles loses its low bits and would only ever pick even operations.
      const random = (n: number) => {
        seed = (seed + 0x6d2b79f5) >>> 0;
        let t = seed;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
      };
      for (let i = 0; i < 25; i++) {
        const uid = 1 + random(30 + appended);
        const op = random(6);
        const commands =
          op === 0
            ? [`UID STORE ${uid} +FLAGS (\\Seen $Tag${random(3)})`]
            : op === 1
              ? [`UID STORE ${uid} -FLAGS (\\Seen \\Flagged)`]
              : op === 2
                ? [`UID STORE ${uid} +FLAGS (\\Deleted)`, 'EXPUNGE']
                : op === 3
                  ? [`APPEND INBOX (\\Flagged) {${note(500 + i).length}+}\r\n${note(500 + i)}`]
                  : op === 4
                    ? [`UID MOVE ${uid} Archive`]
                    : [`STORE ${1 + random(Math.max(1, view.entries.length))} +FLAGS (\\Answered)`, 'NOOP'];
        if (op === 3) appended++;
        for (const c of commands) {
          const r = await raw.command(c);
          assert.notEqual(r.status, 'BAD', `${c} -> ${r.tagged}`);
          for (const l of r.untagged) view.apply(l);
          if (qresync) await learnUids({ raw, view });
        }
      }
    };
    await Promise.all(workers.map((w, i) => run(w, 1000 + i * 7919, modes[i % 3] === 'QRESYNC')));
    const count = async () =>
      (
        await fx.db.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM mailbox_messages mm JOIN mailboxes m ON m.id = mm.mailbox_id
           WHERE m.account_id = $1 AND m.name = 'INBOX'`,
          [zoe],
        )
      ).rows[0]?.n;
    // IDLE told both idlers of every change: their message counts reach the stored one.
    const stored = await count();
    await eventually(
      'the idlers to see the final message count',
      async () => (idlers.every((i) => i.view.entries.length === stored) ? true : undefined),
      20_000,
    );
    stopIdle = true;
    await Promise.all(idleDone);
    for (const idler of idlers) {
      idler.raw.send('DONE\r\n');
      for (const l of (await idler.raw.until('idle')).untagged) idler.view.apply(l);
    }
    const { rows } = await fx.db.pool.query<{ uid: number; flags: string[] }>(
      `SELECT uid, flags FROM mailbox_messages mm JOIN mailboxes m ON m.id = mm.mailbox_id
       WHERE m.account_id = $1 AND m.name = 'INBOX' ORDER BY uid`,
      [zoe],
    );
    const truth = rows.map((r) => ({ uid: r.uid, flags: [...r.flags].sort().join(',') }));
    assert.ok(appended > 0 && truth.length < 30 + appended, 'the run appended and removed messages');
    for (const [i, { raw, view }] of [...workers, ...idlers].entries()) {
      for (const l of (await raw.command('NOOP')).untagged) view.apply(l);
      // Learn the UIDs of messages announced only by EXISTS; the numbering must match the view's.
      for (const l of (await raw.command('FETCH 1:* (UID)')).untagged) view.apply(l);
      assert.deepEqual(
        view.entries.map((e) => e.uid),
        truth.map((t) => t.uid),
        `session ${i}: UIDs`,
      );
      for (const [n, e] of view.entries.entries())
        if (e.flags !== undefined)
          assert.equal(e.flags, truth[n]!.flags, `session ${i}: flags of UID ${e.uid}`);
      raw.close();
    }
    assert.ok(
      workers.filter((_, i) => modes[i % 3] === 'QRESYNC').some((w) => w.view.vanished > 0),
      'the QRESYNC sessions were told of expunges by VANISHED',
    );
    const known = [...workers, ...idlers].map(
      (w) => w.view.entries.filter((e) => e.flags === undefined).length,
    );
    assert.ok(
      known.every((n) => n <= appended),
      'only messages appended meanwhile lack reported flags',
    );
  });

  it('imapflow sees new mail through IDLE (exists event)', async () => {
    const client = new ImapFlow({
      host: '127.0.0.1',
      port: second.imapsPort,
      secure: true,
      tls: { rejectUnauthorized: false },
      auth: { user: 'carol@example.com', pass: PASSWORD },
      logger: false,
    });
    await client.connect();
    await client.mailboxOpen('INBOX');
    const before = client.mailbox && typeof client.mailbox === 'object' ? client.mailbox.exists : 0;
    const exists = new Promise<number>((resolve) =>
      client.on('exists', (data: { count: number }) => resolve(data.count)),
    );
    // Delivered before or after the server takes the IDLE: IDLE begins by reporting pending changes.
    void client.idle();
    await fx.deliver(accountId, note(7));
    let cap: NodeJS.Timeout | undefined;
    const count = await Promise.race([
      exists,
      new Promise<number>((_, reject) => {
        cap = setTimeout(() => reject(new Error('no EXISTS within 15s')), 15_000);
      }),
    ]).finally(() => clearTimeout(cap));
    assert.equal(count, before + 1);
    await client.logout();
  });
});
