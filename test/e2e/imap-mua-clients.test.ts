// Real mail clients against the imap service, as a user drives them: mutt (under a pseudo-terminal,
// keystrokes pushed from its muttrc), imapflow resynchronising with QRESYNC after a reconnect, and a
// NOTIFY session (RFC 5465) while imapflow makes the changes. The server's state is read back from
// the database; mutt's own protocol log shows what it sent and got.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ImapFlow } from 'imapflow';
import { eventually, requireTool, testWorkdir } from '../harness/index.js';
import {
  type ImapFixture,
  PASSWORD,
  RawImapClient,
  startImapFixture,
} from '../integration/imap/imap-fixture.js';

const message = (n: number, to: string) =>
  `From: peer${n}@example.net\r\nTo: ${to}\r\nSubject: message ${n}\r\nDate: Tue, 0${n} Dec 2026 10:00:00 +0000\r\nMessage-ID: <m${n}.${to}>\r\n\r\nbody of message ${n}\r\n`;

describe('imap with mail user agents: mutt, imapflow QRESYNC, a NOTIFY session', () => {
  let fx: ImapFixture;
  /** mutt processes still running; a hung one fails its test at the runner's timeout and is killed here. */
  const running = new Set<ReturnType<typeof spawn>>();
  before(async () => {
    await requireTool('mutt', 'apt-get install mutt');
    await requireTool('script', 'apt-get install bsdutils');
    fx = await startImapFixture();
  });
  after(async () => {
    for (const child of running) child.kill('SIGKILL');
    await fx?.close();
  });

  /** An imapflow client of an account, over implicit TLS. */
  const imapflow = (address: string, options: { qresync?: boolean } = {}) =>
    new ImapFlow({
      host: '127.0.0.1',
      port: fx.service.imapsPort,
      secure: true,
      tls: { rejectUnauthorized: false },
      auth: { user: address, pass: PASSWORD },
      logger: false,
      ...options,
    });

  /** Another client's session (raw protocol, responses checked): logs in, runs each command (OK), logs out. */
  const changeAs = async (address: string, commands: string[]) => {
    const other = await RawImapClient.connect(fx.service.imapsPort, true);
    await other.readLine();
    await other.login(address);
    for (const command of [...commands, 'LOGOUT'])
      assert.match((await other.command(command)).tagged, / OK /, command);
    other.close();
  };

  /** uid -> { flags, body } of one mailbox, from the database. */
  const mailbox = async (account: number, name: string) => {
    const { rows } = await fx.db.pool.query<{ uid: string; flags: string[]; body_id: string }>(
      `SELECT mm.uid, mm.flags, mm.body_id FROM mailbox_messages mm JOIN mailboxes m ON m.id = mm.mailbox_id
       WHERE m.account_id = $1 AND m.name = $2 ORDER BY mm.uid`,
      [account, name],
    );
    return rows.map((r) => ({ uid: Number(r.uid), flags: [...r.flags].sort(), body: r.body_id }));
  };

  /**
   * Starts mutt on an account's INBOX under a pseudo-terminal (script(1) passes our input on to it),
   * with the given extra settings and the keys it is to press first. `log()` reads its protocol log
   * (-d 2: $HOME/.muttdebug0), `press()` types more keys, and `finished()` waits for it to exit and
   * checks that it met no error and logged out cleanly (LOGOUT answered by BYE and the tagged OK).
   */
  const startMutt = async (options: {
    address: string;
    home: string;
    settings: string[];
    keys: string[];
  }) => {
    const { address, home } = options;
    const server = `imaps://localhost:${fx.service.imapsPort}/`;
    const muttrc = join(home, 'muttrc');
    await writeFile(
      muttrc,
      [
        `set imap_user="${address}"`,
        `set imap_pass="${PASSWORD}"`,
        `set folder="${server}"`,
        `set spoolfile="${server}INBOX"`,
        // The test certificate is self-signed for localhost: it is its own CA.
        `set ssl_ca_certificates_file="${join(fx.certDir, 'tls.crt')}"`,
        `set certificate_file="${join(home, 'certificates')}"`,
        'set message_cachedir=""',
        'set imap_idle=yes',
        'set confirmcreate=no',
        'set confirmappend=no',
        'set delete=yes',
        'set move=no',
        'set quit=yes',
        'set wait_key=no',
        'set sort=date-sent',
        ...options.settings,
        `push "${options.keys.join('')}"`,
        '',
      ].join('\n'),
    );
    const logFile = join(home, '.muttdebug0');
    await rm(logFile, { force: true });
    const child = spawn('script', ['-qec', `mutt -n -F ${muttrc} -d 2`, '/dev/null'], {
      env: { ...process.env, HOME: home, TERM: 'xterm', LC_ALL: 'C.UTF-8' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let screen = '';
    child.stdout.on('data', (c: Buffer) => (screen += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (screen += c.toString('utf8')));
    child.stdin.on('error', () => {});
    running.add(child);
    const exited = new Promise<number>((resolve) =>
      child.on('close', (code) => {
        running.delete(child);
        resolve(code ?? -1);
      }),
    );
    const log = () => readFile(logFile, 'utf8').catch(() => '');
    return {
      log,
      press: (keys: string) => child.stdin.write(keys),
      finished: async () => {
        child.stdin.end();
        const code = await exited;
        const text = await log();
        assert.equal(code, 0, `mutt did not finish:\n${screen}\n${text}`);
        assert.doesNotMatch(screen, /error|unexpected|failed/i, screen);
        assert.doesNotMatch(
          text,
          /error|unexpected|failed|\d< [a-z]\d+ (NO|BAD)(?! \[(TRYCREATE|NONEXISTENT)\])/i,
          text,
        );
        const logout =
          /\d> (a\d+) LOGOUT\r?\n.*\d< \* BYE [^\n]*\n(?:.*Handling BYE\n)?.*\d< (a\d+) OK /.exec(text);
        assert.ok(logout, text);
        assert.equal(logout[1], logout[2]);
        return text;
      },
    };
  };

  /** Runs mutt until it quits by the keys given (see startMutt); returns its protocol log. */
  const runMutt = async (options: { address: string; home: string; settings: string[]; keys: string[] }) =>
    (await startMutt(options)).finished();

  it('mutt over IMAPS (with COMPRESS): reads (\\Seen), copies, saves to a new folder, deletes and expunges, creates a folder, appends from a local mbox, logs out cleanly', async () => {
    const address = 'mutt@example.com';
    const account = await fx.createUser(address);
    for (let i = 1; i <= 4; i++) await fx.deliver(account, message(i, address));
    const original = await mailbox(account, 'INBOX');
    const home = await testWorkdir('mutt');
    const localMbox = join(home, 'local.mbox');
    const imported =
      'From: sender@example.org\nTo: mutt@example.com\nSubject: from mbox\nDate: Mon, 07 Dec 2026 10:00:00 +0000\nStatus: RO\n\nmbox body\n';
    await writeFile(localMbox, `From sender@example.org Mon Dec  7 10:00:00 2026\n${imported}\n`);
    const log = await runMutt({
      address,
      home,
      settings: ['set header_cache=""', 'set imap_deflate=yes', 'set mbox_type=mbox'],
      keys: [
        // Message 1 read in the pager: \Seen on the server at the next sync.
        '<jump>1<enter><display-message><exit>',
        // Message 2 copied to Archive (exists), message 3 saved (copied and deleted) to Saved (does
        // not: TRYCREATE, then CREATE), message 4 deleted; the sync stores the flags and expunges.
        '<jump>2<enter><copy-message>=Archive<enter>',
        '<jump>3<enter><save-message>=Saved<enter>',
        '<jump>4<enter><delete-message>',
        '<sync-mailbox>',
        // A folder made in the folder browser.
        '<change-folder>?<create-mailbox>Projects<enter><exit>',
        // A message of a local mbox copied in: APPEND with its flags and date (to a new folder).
        `<change-folder>${localMbox}<enter><copy-message>=Imported<enter>`,
        '<quit>',
      ],
    });
    // The session went through COMPRESS (and still ended cleanly).
    assert.match(log, /\d> a\d+ COMPRESS DEFLATE\r?\n.*\d< a\d+ OK/);
    // What mutt did is what the server holds.
    const inbox = await mailbox(account, 'INBOX');
    assert.deepEqual(
      inbox.map((m) => m.uid),
      [1, 2],
    );
    assert.ok(inbox[0]!.flags.includes('\\Seen'), JSON.stringify(inbox));
    assert.ok(!inbox[1]!.flags.includes('\\Seen'), JSON.stringify(inbox));
    const archive = await mailbox(account, 'Archive');
    assert.deepEqual(
      archive.map((m) => m.body),
      [original[1]!.body],
    );
    const saved = await mailbox(account, 'Saved');
    assert.deepEqual(
      saved.map((m) => m.body),
      [original[2]!.body],
    );
    assert.deepEqual(await mailbox(account, 'Projects'), []);
    const raw = await RawImapClient.connect(fx.service.imapsPort, true);
    await raw.readLine();
    await raw.login(address);
    await raw.command('EXAMINE Imported');
    const appended = await raw.command('UID FETCH 1:* (FLAGS INTERNALDATE BODY.PEEK[TEXT])');
    raw.close();
    assert.deepEqual(appended.untagged, [
      '* 1 FETCH (UID 1 FLAGS (\\Seen \\Recent) INTERNALDATE "07-Dec-2026 10:00:00 +0000" BODY[TEXT] {11}\r\nmbox body\r\n)',
    ]);
    const { rows } = await fx.db.pool.query<{ name: string }>(
      `SELECT name FROM mailboxes WHERE account_id = $1 AND name = ANY ($2) ORDER BY name`,
      [account, ['Projects', 'Saved']],
    );
    assert.deepEqual(
      rows.map((r) => r.name),
      ['Projects', 'Saved'],
    );
  });

  it("mutt's folder browser: creates (a UTF-8 name, a nested one), renames a parent with its child, subscribes, deletes, lists subscribed", async () => {
    const address = 'mutt-folders@example.com';
    const account = await fx.createUser(address);
    const log = await runMutt({
      address,
      home: await testWorkdir('mutt-folders'),
      settings: ['set header_cache=""'],
      keys: [
        '<change-folder>?',
        '<create-mailbox>Übersicht<enter><create-mailbox>Team/Sub<enter><create-mailbox>Old<enter>',
        '<search>Team<enter><rename-mailbox><kill-line>Crew<enter>',
        '<search>Übersicht<enter><subscribe>',
        '<search>Old<enter><delete-mailbox>y',
        // The subscribed view (LIST (SUBSCRIBED RECURSIVEMATCH)), and back.
        '<toggle-subscribed><toggle-subscribed>',
        '<exit><quit>',
      ],
    });
    assert.match(log, /\ba\d+ RENAME "Team" "Crew"\r?\n.*\d< a\d+ OK /);
    assert.match(log, /\ba\d+ LIST \(SUBSCRIBED RECURSIVEMATCH\) "" "%" RETURN \(CHILDREN\)\r?\n/);
    const names = async (table: 'mailboxes' | 'mailbox_subscriptions') =>
      (
        await fx.db.pool.query<{ name: string }>(
          `SELECT name FROM ${table} WHERE account_id = $1 AND name NOT IN ('INBOX', 'Archive', 'Drafts', 'Junk', 'Sent', 'Trash') ORDER BY name`,
          [account],
        )
      ).rows.map((r) => r.name);
    assert.deepEqual(await names('mailboxes'), ['Crew', 'Crew/Sub', 'Übersicht']);
    assert.deepEqual(await names('mailbox_subscriptions'), ['Übersicht']);
  });

  it('mutt with a header cache and QRESYNC: the next run learns what another session changed (UID FETCH CHANGEDSINCE VANISHED) and acts on them', async () => {
    const address = 'mutt-qresync@example.com';
    const account = await fx.createUser(address);
    for (let i = 1; i <= 5; i++) await fx.deliver(account, message(i, address));
    const original = await mailbox(account, 'INBOX');
    const home = await testWorkdir('mutt-qresync');
    const settings = [
      `set header_cache="${join(home, 'headers')}"`,
      'set imap_condstore=yes',
      'set imap_qresync=yes',
      'set mark_old=no',
    ];
    // Run 1 fills the header cache (UIDs, flags, HIGHESTMODSEQ).
    const first = await runMutt({ address, home, settings, keys: ['<quit>'] });
    assert.match(first, /\ba\d+ ENABLE QRESYNC\r?\n/);
    // Another session: 2 flagged, 4 seen, 3 and 5 expunged; new mail (6).
    await changeAs(address, [
      'SELECT INBOX',
      'UID STORE 2 +FLAGS (\\Flagged)',
      'UID STORE 4 +FLAGS (\\Seen)',
      'UID STORE 3,5 +FLAGS (\\Deleted)',
      'UID EXPUNGE 3,5',
    ]);
    await fx.deliver(account, message(6, address).replace('body of', 'zebra body of'));
    // Run 2 resynchronises from the cache, then copies what it believes flagged, read, and all.
    const second = await runMutt({
      address,
      home,
      settings,
      keys: [
        '<tag-pattern>~F<enter><tag-prefix><copy-message>=Flagged<enter><untag-pattern>~A<enter>',
        '<tag-pattern>~R<enter><tag-prefix><copy-message>=Read<enter><untag-pattern>~A<enter>',
        // =b searches on the server (UID SEARCH BODY).
        '<tag-pattern>=b zebra<enter><tag-prefix><copy-message>=Found<enter><untag-pattern>~A<enter>',
        '<tag-pattern>~A<enter><tag-prefix><copy-message>=Everything<enter>',
        '<quit>',
      ],
    });
    // It asked only for what changed since its cached HIGHESTMODSEQ and was told of the expunges.
    assert.match(second, /\ba\d+ UID FETCH 1:5 \(FLAGS\) \(CHANGEDSINCE \d+ VANISHED\)\r?\n/);
    assert.match(second, /\d< \* VANISHED \(EARLIER\) 3,5\n/);
    assert.match(second, /\d< \* \d+ FETCH \(UID 2 FLAGS \(\\Flagged\) MODSEQ \(\d+\)\)\n/);
    // Its view after the resync, shown by what it copied: the server's.
    const bodies = async (name: string) => (await mailbox(account, name)).map((m) => m.body);
    const body = (uid: number) => original.find((m) => m.uid === uid)!.body;
    assert.deepEqual(await bodies('Flagged'), [body(2)]);
    assert.deepEqual(await bodies('Read'), [body(4)]);
    assert.match(second, /\ba\d+ UID SEARCH BODY "?zebra"?\r?\n/);
    const now = await mailbox(account, 'INBOX');
    assert.deepEqual(await bodies('Found'), [now[3]!.body]);
    assert.deepEqual(
      now.map((m) => m.uid),
      [1, 2, 4, 6],
    );
    assert.deepEqual(
      await bodies('Everything'),
      now.map((m) => m.body),
    );
  });

  it('mutt idling in INBOX is told of new mail (IDLE: EXISTS pushed, then it fetches the new header), then quits cleanly', async () => {
    const address = 'mutt-idle@example.com';
    const account = await fx.createUser(address);
    for (let i = 1; i <= 2; i++) await fx.deliver(account, message(i, address));
    const mutt = await startMutt({
      address,
      home: await testWorkdir('mutt-idle'),
      // Looks at its connection every second rather than every ten minutes.
      settings: ['set header_cache=""', 'set timeout=1', 'set mail_check=1'],
      keys: [],
    });
    await eventually('mutt idling', async () => (/\d< \+ /.test(await mutt.log()) ? true : undefined));
    // Delivered by the MDA's path: stored, then an event that the idling session turns into EXISTS.
    await fx.deliver(account, message(3, address));
    const log = await eventually('mutt fetching the new message', async () => {
      const text = await mutt.log();
      return /\d< \* 3 EXISTS\n[\s\S]*\bFETCH 3(:3)? \(UID FLAGS/.test(text) ? text : undefined;
    });
    // Pushed while it idled (no command of its own in between), and shown to the user.
    assert.match(log, /\d< \+ [^\n]*\n(?:(?!.*\d> )[^\n]*\n)*?.*\d< \* 3 EXISTS\n/);
    assert.match(log, /New mail in this mailbox\./);
    assert.match(log, /\d< \* 3 FETCH \(UID 3 FLAGS \(\\Recent\) /);
    mutt.press('q');
    await mutt.finished();
  });

  it('imapflow with QRESYNC: after a reconnect, SELECT (QRESYNC) tells it exactly the flag changes (FETCH with MODSEQ) and the expunges (VANISHED (EARLIER)); later ones as VANISHED', async () => {
    const address = 'qresync@example.com';
    const account = await fx.createUser(address);
    for (let i = 1; i <= 6; i++) await fx.deliver(account, message(i, address));
    const client = () => imapflow(address, { qresync: true });

    // Session 1: the client's cached view (UIDs, flags, modseqs, UIDVALIDITY, HIGHESTMODSEQ).
    const first = client();
    await first.connect();
    assert.ok(first.enabled.has('QRESYNC'), [...first.enabled].join(' '));
    const opened = await first.mailboxOpen('INBOX');
    const { uidValidity, highestModseq } = opened;
    assert.ok(highestModseq !== undefined && highestModseq > 0n);
    const cached = new Map<number, { flags: Set<string>; modseq: bigint }>();
    for await (const m of first.fetch('1:*', { uid: true, flags: true }))
      cached.set(m.uid, { flags: m.flags ?? new Set(), modseq: m.modseq ?? 0n });
    assert.deepEqual([...cached.keys()], [1, 2, 3, 4, 5, 6]);
    for (const { modseq } of cached.values()) assert.ok(modseq > 0n && modseq <= highestModseq);
    await first.logout();

    // Meanwhile new mail (7), and another client: flags on 2 and 4, 1 and 3 expunged, 5 flagged and
    // then expunged (it is only VANISHED: a message that is gone has no flags to report).
    await fx.deliver(account, message(7, address), { flags: ['\\Answered'] });
    await changeAs(address, [
      'SELECT INBOX',
      'UID STORE 2 +FLAGS (\\Flagged)',
      'UID STORE 4 +FLAGS (\\Seen $Work)',
      'UID STORE 5 +FLAGS (\\Flagged)',
      'UID STORE 1,3,5 +FLAGS (\\Deleted)',
      'UID EXPUNGE 1,3,5',
    ]);
    const server = await mailbox(account, 'INBOX');
    const modseqs = new Map(
      (
        await fx.db.pool.query<{ uid: string; modseq: string }>(
          `SELECT mm.uid, mm.modseq FROM mailbox_messages mm JOIN mailboxes m ON m.id = mm.mailbox_id
           WHERE m.account_id = $1 AND m.name = 'INBOX'`,
          [account],
        )
      ).rows.map((r) => [Number(r.uid), BigInt(r.modseq)]),
    );
    const { rows } = await fx.db.pool.query<{ highestmodseq: string }>(
      `SELECT highestmodseq FROM mailboxes WHERE account_id = $1 AND name = 'INBOX'`,
      [account],
    );
    const serverHighest = BigInt(rows[0]!.highestmodseq);

    // Session 2: reconnect and resynchronise from the cached state.
    const second = client();
    const expunged: { uid?: number; seq?: number; vanished: boolean; earlier?: boolean }[] = [];
    const flagged: { uid?: number; flags: string[]; modseq?: bigint }[] = [];
    second.on('expunge', (e) => expunged.push(e));
    second.on('flags', (f) => flagged.push({ uid: f.uid, flags: [...f.flags].sort(), modseq: f.modseq }));
    await second.connect();
    const resynced = await second.mailboxOpen('INBOX', { uidValidity, changedSince: highestModseq });
    assert.equal(resynced.uidValidity, uidValidity);
    assert.equal(resynced.highestModseq, serverHighest);
    assert.equal(resynced.exists, 4);
    assert.deepEqual(
      expunged.sort((a, b) => (a.uid ?? 0) - (b.uid ?? 0)),
      [1, 3, 5].map((uid) => ({ path: 'INBOX', uid, vanished: true, earlier: true })),
    );
    assert.deepEqual(
      flagged.sort((a, b) => (a.uid ?? 0) - (b.uid ?? 0)),
      [
        { uid: 2, flags: ['\\Flagged'], modseq: modseqs.get(2) },
        { uid: 4, flags: ['$Work', '\\Seen'], modseq: modseqs.get(4) },
        { uid: 7, flags: ['\\Answered'], modseq: modseqs.get(7) },
      ],
    );
    // The resynchronised view is the server's (unchanged message 6 keeps its cached flags).
    const view = new Map(cached);
    for (const e of expunged) view.delete(e.uid!);
    for (const f of flagged) view.set(f.uid!, { flags: new Set(f.flags), modseq: f.modseq! });
    assert.deepEqual(
      [...view].map(([uid, m]) => ({ uid, flags: [...m.flags].sort() })).sort((a, b) => a.uid - b.uid),
      server.map((m) => ({ uid: m.uid, flags: m.flags })),
    );
    // Still selected, QRESYNC on: a later expunge by another session arrives as VANISHED (not
    // EXPUNGE), which imapflow reports by UID and counts down.
    await changeAs(address, ['SELECT INBOX', 'UID STORE 2 +FLAGS.SILENT (\\Deleted)', 'UID EXPUNGE 2']);
    expunged.length = 0;
    await second.noop();
    assert.deepEqual(expunged, [{ path: 'INBOX', uid: 2, vanished: true, earlier: false }]);
    assert.ok(second.mailbox);
    assert.equal(second.mailbox.exists, 3);
    // And in IDLE: the expunge is pushed, as VANISHED.
    expunged.length = 0;
    const idling = second.idle();
    await eventually('imapflow idling', async () => (second.idling ? true : undefined));
    await changeAs(address, ['SELECT INBOX', 'UID STORE 4 +FLAGS.SILENT (\\Deleted)', 'UID EXPUNGE 4']);
    await eventually('the pushed VANISHED', async () => (expunged.length > 0 ? true : undefined));
    assert.deepEqual(expunged, [{ path: 'INBOX', uid: 4, vanished: true, earlier: false }]);
    await second.logout();
    await idling;
  });

  it('imapflow idling in a folder another client deletes is told with BYE and closes (then reconnects fine)', async () => {
    const address = 'imapflow-deleted@example.com';
    await fx.createUser(address);
    const client = imapflow(address);
    await client.connect();
    await client.mailboxCreate('Doomed');
    await client.mailboxOpen('Doomed');
    let closed = false;
    client.once('close', () => {
      closed = true;
    });
    const idling = client.idle().catch(() => undefined);
    await eventually('imapflow idling', async () => (client.idling ? true : undefined));
    await changeAs(address, ['DELETE Doomed']);
    await eventually('imapflow closed by the BYE', async () => (closed ? true : undefined));
    await idling;
    assert.equal(client.usable, false);
    // A new connection finds the folder gone and the rest in order.
    const again = imapflow(address);
    await again.connect();
    const names = (await again.list()).map((m) => m.path);
    assert.ok(!names.includes('Doomed') && names.includes('INBOX'), names.join(' '));
    await again.logout();
  });

  it('a NOTIFY session (RFC 5465) told of what imapflow does: FETCH for the selected mailbox, STATUS for others, LIST for names and subscriptions', async () => {
    const address = 'notify-session@example.com';
    await fx.createUser(address);
    // The notified session: a scripted client, every response checked against the grammar.
    const watcher = await RawImapClient.connect(fx.service.imapsPort, true);
    await watcher.readLine();
    await watcher.login(address);
    assert.equal((await watcher.command('SELECT INBOX')).status, 'OK');
    const set = await watcher.command(
      'NOTIFY SET STATUS (selected (MessageNew (UID FLAGS) MessageExpunge FlagChange)) (personal (MessageNew MessageExpunge MailboxName SubscriptionChange))',
    );
    assert.equal(set.status, 'OK', set.tagged);
    // NOTIFY SET STATUS: a STATUS for every watched mailbox but the selected one.
    const statusOf = (name: string, rest: string) =>
      new RegExp(`^\\* STATUS ${name} \\(MESSAGES ${rest.replace(/[()]/g, '\\$&')}\\)$`);
    const initial = set.untagged.filter((l) => l.startsWith('* STATUS ')).sort();
    assert.equal(initial.length, 5, set.untagged.join('\n'));
    assert.match(initial[0]!, /^\* STATUS Archive \(MESSAGES 0 UIDNEXT 1 UIDVALIDITY \d+ UNSEEN 0\)$/);
    assert.ok(!set.untagged.some((l) => l.startsWith('* STATUS INBOX ')), set.untagged.join('\n'));
    // Each change is followed by exactly the responses it calls for, in order, and nothing else.
    const next = () => watcher.readLine();

    const actor = imapflow(address);
    await actor.connect();
    // New mail in the selected mailbox: EXISTS (and RECENT: IMAP4rev1), then the FETCH with the
    // attributes asked for.
    const first = await actor.append('INBOX', message(1, address), ['\\Answered']);
    assert.ok(first && first.uid === 1);
    assert.equal(await next(), '* 1 EXISTS');
    assert.equal(await next(), '* 1 RECENT');
    assert.equal(await next(), '* 1 FETCH (UID 1 FLAGS (\\Answered \\Recent))');
    await actor.append('INBOX', message(2, address));
    assert.equal(await next(), '* 2 EXISTS');
    assert.equal(await next(), '* 2 RECENT');
    assert.equal(await next(), '* 2 FETCH (UID 2 FLAGS (\\Recent))');
    // A flag change in the selected mailbox: FETCH with the flags.
    await actor.mailboxOpen('INBOX');
    await actor.messageFlagsAdd('1', ['\\Flagged'], { uid: true });
    assert.match(await next(), /^\* 1 FETCH \((UID 1 )?FLAGS \(\\Answered \\Flagged \\Recent\)\)$/);
    // New mail elsewhere: a STATUS of that mailbox.
    await actor.append('Archive', message(3, address));
    assert.match(await next(), statusOf('Archive', '1 UIDNEXT 2 UIDVALIDITY \\d+ UNSEEN 1'));
    // A flag change elsewhere was not asked for (no FlagChange for personal): the next responses
    // are those of the delete in the selected mailbox that follows it (imapflow stores \Deleted,
    // a flag change, then UID EXPUNGE).
    await actor.mailboxOpen('Archive');
    await actor.messageFlagsAdd('1', ['\\Seen'], { uid: true });
    await actor.mailboxOpen('INBOX');
    await actor.messageDelete('1', { uid: true });
    // The \Deleted flag change, unless the expunge right after it was already committed when the
    // watcher's session read the changes: then only the EXPUNGE (a gone message has no flags to report).
    const afterDelete = await next();
    if (afterDelete !== '* 1 EXPUNGE') {
      assert.match(
        afterDelete,
        /^\* 1 FETCH \((UID 1 )?FLAGS \(\\Answered \\Deleted \\Flagged \\Recent\)\)$/,
      );
      assert.equal(await next(), '* 1 EXPUNGE');
    }
    // An expunge elsewhere: a STATUS.
    await actor.mailboxOpen('Archive');
    await actor.messageDelete('1', { uid: true });
    assert.match(await next(), statusOf('Archive', '0 UIDNEXT 2 UIDVALIDITY \\d+ UNSEEN 0'));
    // Mailbox names: LIST for CREATE, RENAME (with OLDNAME), DELETE (\\NonExistent); subscriptions:
    // LIST with \\Subscribed while subscribed. imapflow subscribes what it creates.
    await actor.mailboxCreate('Projects');
    assert.equal(await next(), '* LIST (\\HasNoChildren) "/" Projects');
    assert.equal(await next(), '* LIST (\\HasNoChildren \\Subscribed) "/" Projects');
    await actor.mailboxRename('Projects', 'Plans');
    assert.equal(await next(), '* LIST (\\HasNoChildren \\Subscribed) "/" Plans ("OLDNAME" (Projects))');
    await actor.mailboxUnsubscribe('Plans');
    assert.equal(await next(), '* LIST (\\HasNoChildren) "/" Plans');
    await actor.mailboxSubscribe('Plans');
    assert.equal(await next(), '* LIST (\\HasNoChildren \\Subscribed) "/" Plans');
    // New mail in the new mailbox is watched too (personal covers it).
    await actor.append('Plans', message(4, address));
    assert.match(await next(), statusOf('Plans', '1 UIDNEXT 2 UIDVALIDITY \\d+ UNSEEN 1'));
    // DELETE leaves the subscription (RFC 9051 6.3.4): the name is \\NonExistent and still \\Subscribed.
    await actor.mailboxDelete('Plans');
    assert.equal(await next(), '* LIST (\\NonExistent \\Subscribed) "/" Plans');
    await actor.logout();
    // The watcher's view is the server's, and the session ends cleanly.
    assert.deepEqual((await watcher.command('UID SEARCH ALL')).untagged, ['* SEARCH 2']);
    const bye = await watcher.command('LOGOUT');
    assert.equal(bye.status, 'OK');
    assert.deepEqual(bye.untagged, ['* BYE Logging out']);
    watcher.close();
  });
});
