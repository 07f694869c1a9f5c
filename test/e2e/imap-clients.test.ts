// Real clients against the imap service: Python's imaplib and poplib, and mbsync (isync).
import assert from 'node:assert/strict';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { requireTool, run, testWorkdir } from '../harness/index.js';
import {
  type ImapFixture,
  PASSWORD,
  RawImapClient,
  startImapFixture,
} from '../integration/imap/imap-fixture.js';

const python = (script: string, env: Record<string, string>) =>
  run('python3', ['-c', script], { env: { ...process.env, ...env }, timeoutMs: 60_000 });

const message = (n: number) =>
  `From: peer${n}@example.net\r\nTo: frank@example.com\r\nSubject: message ${n}\r\nMessage-ID: <m${n}@example.net>\r\n\r\nline one of ${n}\r\n.leading dot line\r\nlast line\r\n`;

describe('imap and pop3 with real clients', () => {
  let fx: ImapFixture;
  let frank: number;
  before(async () => {
    await requireTool('python3', 'apt-get install python3');
    await requireTool('mbsync', 'apt-get install isync');
    fx = await startImapFixture();
    frank = await fx.createUser('frank@example.com');
    for (let i = 1; i <= 3; i++) await fx.deliver(frank, message(i));
  });
  after(async () => {
    await fx?.close();
  });

  /**
   * Writes an mbsync configuration syncing every folder of an account both ways with a Maildir under
   * dir/mail; extra lines go to the account section (e.g. DisableExtension). Returns its path.
   */
  const mbsyncConfig = async (dir: string, user: string, extra: string[] = []) => {
    const maildir = join(dir, 'mail');
    await mkdir(maildir, { recursive: true });
    const rc = join(dir, 'mbsyncrc');
    await writeFile(
      rc,
      [
        'IMAPAccount hermod',
        // The test certificate names localhost; mbsync checks the name, not the IP SAN.
        'Host localhost',
        `Port ${fx.service.imapsPort}`,
        `User ${user}`,
        `Pass "${PASSWORD}"`,
        'SSLType IMAPS',
        `CertificateFile ${join(fx.certDir, 'tls.crt')}`,
        ...extra,
        '',
        'IMAPStore remote',
        'Account hermod',
        '',
        'MaildirStore local',
        `Path ${maildir}/`,
        `Inbox ${maildir}/INBOX`,
        'SubFolders Verbatim',
        '',
        'Channel sync',
        'Far :remote:',
        'Near :local:',
        'Patterns *',
        'Create Both',
        'Expunge Both',
        'SyncState *',
        '',
      ].join('\n'),
    );
    return rc;
  };

  it('Python imaplib: IMAP4_SSL and STARTTLS, fetch exact bytes, store, search, append, uid copy', async () => {
    const script = `
import imaplib, os, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
port = int(os.environ['PORT']); plain = int(os.environ['PLAIN'])
m = imaplib.IMAP4_SSL('127.0.0.1', port, ssl_context=ctx)
m.login('frank@example.com', os.environ['PW'])
typ, data = m.select('INBOX')
assert typ == 'OK' and data[0] == b'3', data
typ, data = m.fetch('2', '(BODY.PEEK[])')
assert data[0][1] == os.environ['MSG2'].encode(), data
typ, data = m.store('2', '+FLAGS', '(\\\\Flagged)')
assert b'\\\\Flagged' in data[0], data
typ, data = m.search(None, 'FLAGGED')
assert data == [b'2'], data
typ, data = m.append('INBOX', '(\\\\Seen)', imaplib.Time2Internaldate(1700000000), b'Subject: appended\\r\\n\\r\\nhi\\r\\n')
assert typ == 'OK', data
assert m.response('APPENDUID')[1][0].split()[1] == b'4', m.response('APPENDUID')
typ, data = m.uid('COPY', '1:2', 'Archive')
assert typ == 'OK', data
assert m.response('COPYUID')[1][0].split()[1:] == [b'1:2', b'1:2'], m.response('COPYUID')
typ, data = m.list()
assert any(b'"Archive"' in l or b' Archive' in l for l in data), data
m.logout()
s = imaplib.IMAP4('127.0.0.1', plain)
s.starttls(ssl_context=ctx)
s.login('frank@example.com', os.environ['PW'])
typ, data = s.status('INBOX', '(MESSAGES UNSEEN)')
assert data[0] == b'INBOX (MESSAGES 4 UNSEEN 3)', data
s.logout()
print('ok')
`;
    const result = await python(script, {
      PORT: String(fx.service.imapsPort),
      PLAIN: String(fx.service.imapPort),
      PW: PASSWORD,
      MSG2: message(2),
    });
    assert.equal(result.stdout.trim(), 'ok', result.stderr);
  });

  it('Python poplib: POP3_SSL and STLS, UIDL stable across sessions, RETR un-stuffs dots, TOP, DELE+QUIT removes', async () => {
    const script = `
import poplib, os, ssl
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
p = poplib.POP3_SSL('127.0.0.1', int(os.environ['PORT']), context=ctx)
p.user('frank@example.com'); p.pass_(os.environ['PW'])
count, size = p.stat()
assert count == 4, count
uidl1 = p.uidl()[1]
resp, lines, octets = p.retr(1)
assert b'\\r\\n'.join(lines) + b'\\r\\n' == os.environ['MSG1'].encode(), lines
resp, lines, octets = p.top(1, 1)
assert lines[-1] == b'line one of 1' and lines[-2] == b'', lines
caps = p.capa()
assert 'UIDL' in caps and 'TOP' in caps, caps
p.dele(1)
p.quit()
q = poplib.POP3('127.0.0.1', int(os.environ['PLAIN']))
q.stls(context=ctx)
q.user('frank@example.com'); q.pass_(os.environ['PW'])
uidl2 = q.uidl()[1]
assert q.stat()[0] == 3
assert uidl2 == [l.split(b' ', 1)[0] + b' ' + l.split(b' ', 1)[1] for l in uidl1[1:]] or [l.split(b' ')[1] for l in uidl2] == [l.split(b' ')[1] for l in uidl1[1:]], (uidl1, uidl2)
q.quit()
print('ok')
`;
    const result = await python(script, {
      PORT: String(fx.service.pop3sPort),
      PLAIN: String(fx.service.pop3Port),
      PW: PASSWORD,
      MSG1: message(1),
    });
    assert.equal(result.stdout.trim(), 'ok', result.stderr);
  });

  it('mbsync syncs a few hundred messages both ways (flags, deletions, moves) and then has nothing to do', async () => {
    const grace = await fx.createUser('grace@example.com');
    for (let i = 1; i <= 300; i++)
      await fx.deliver(grace, message(i), { flags: i % 3 === 0 ? ['\\Seen'] : [] });
    const dir = await testWorkdir('mbsync');
    const maildir = join(dir, 'mail');
    const rc = await mbsyncConfig(dir, 'grace@example.com');
    const sync = async () => {
      const r = await run('mbsync', ['-c', rc, '-a'], { timeoutMs: 120_000 });
      assert.equal(r.code, 0, `mbsync failed:\n${r.stdout}\n${r.stderr}`);
      // mbsync turns COMPRESS=DEFLATE on: LOGOUT's BYE and OK must arrive before the close.
      assert.doesNotMatch(r.stderr, /unexpected EOF|Error|Warning/i, r.stderr);
      return r;
    };
    await sync();
    const inboxCur = join(maildir, 'INBOX', 'cur');
    const inboxNew = join(maildir, 'INBOX', 'new');
    const files = [
      ...(await readdir(inboxCur)).map((f) => join(inboxCur, f)),
      ...(await readdir(inboxNew)).map((f) => join(inboxNew, f)),
    ];
    assert.equal(files.length, 300);
    // Local changes: flag 10 messages, delete 5, move 5 to Archive.
    const sorted = files.sort();
    for (const file of sorted.slice(0, 10)) {
      const base = file.includes(':2,') ? file : `${file}:2,`;
      await rename(file, `${base.replace(/(:2,[A-Z]*)$/, (m) => `${m}F`).replace('/new/', '/cur/')}`);
    }
    for (const file of sorted.slice(10, 15)) await rm(file);
    await mkdir(join(maildir, 'Archive', 'cur'), { recursive: true });
    for (const file of sorted.slice(15, 20)) {
      const name = file
        .split('/')
        .pop()!
        .replace(/,U=\d+/, '');
      await rename(file, join(maildir, 'Archive', 'cur', name));
    }
    await sync();
    const counts = await fx.db.pool.query<{ name: string; n: number; flagged: number }>(
      `SELECT m.name, count(mm.uid)::int AS n, count(mm.uid) FILTER (WHERE '\\Flagged' = ANY (mm.flags))::int AS flagged
       FROM mailboxes m LEFT JOIN mailbox_messages mm ON mm.mailbox_id = m.id WHERE m.account_id = $1 GROUP BY m.name`,
      [grace],
    );
    const byName = new Map(counts.rows.map((r) => [r.name, r]));
    assert.equal(byName.get('INBOX')?.n, 290);
    assert.equal(byName.get('INBOX')?.flagged, 10);
    assert.equal(byName.get('Archive')?.n, 5);
    // Server-side change, then a sync that brings it down, then one with nothing to do.
    await fx.deliver(grace, message(999));
    await sync();
    assert.equal((await readdir(inboxCur)).length + (await readdir(inboxNew)).length, 291);
    // Server-side flags, deletions and moves (through IMAP), then a sync that brings them down.
    const raw = await RawImapClient.connect(fx.service.imapsPort, true);
    await raw.readLine();
    await raw.login('grace@example.com');
    await raw.command('SELECT INBOX');
    const uids = (await raw.command('UID SEARCH ALL')).untagged[0]!.split(' ').slice(2).map(Number);
    const pick = uids.slice(-12);
    for (const r of [
      `UID STORE ${pick.slice(0, 4).join(',')} +FLAGS (\\Flagged \\Answered)`,
      `UID STORE ${pick.slice(4, 6).join(',')} -FLAGS (\\Seen)`,
      `UID STORE ${pick.slice(6, 9).join(',')} +FLAGS (\\Deleted)`,
      `UID EXPUNGE ${pick.slice(6, 9).join(',')}`,
      `UID MOVE ${pick.slice(9, 12).join(',')} Archive`,
    ])
      assert.equal((await raw.command(r)).status, 'OK', r);
    raw.close();
    await sync();
    const local = async (box: string) => {
      const names = [
        ...(await readdir(join(maildir, box, 'cur'))),
        ...(await readdir(join(maildir, box, 'new')).catch(() => [])),
      ];
      const info = (n: string) => /:2,([A-Z]*)$/.exec(n)?.[1] ?? '';
      return {
        n: names.length,
        flagged: names.filter((n) => info(n).includes('F')).length,
        answered: names.filter((n) => info(n).includes('R')).length,
        seen: names.filter((n) => info(n).includes('S')).length,
      };
    };
    const server = async (box: string) =>
      (
        await fx.db.pool.query<{ n: number; flagged: number; answered: number; seen: number }>(
          `SELECT count(mm.uid)::int AS n,
                  count(mm.uid) FILTER (WHERE '\\Flagged' = ANY (mm.flags))::int AS flagged,
                  count(mm.uid) FILTER (WHERE '\\Answered' = ANY (mm.flags))::int AS answered,
                  count(mm.uid) FILTER (WHERE '\\Seen' = ANY (mm.flags))::int AS seen
           FROM mailboxes m LEFT JOIN mailbox_messages mm ON mm.mailbox_id = m.id
           WHERE m.account_id = $1 AND m.name = $2`,
          [grace, box],
        )
      ).rows[0]!;
    assert.deepEqual(await local('INBOX'), await server('INBOX'));
    assert.equal((await local('INBOX')).n, 285);
    assert.equal((await local('INBOX')).answered, 4);
    assert.deepEqual(await local('Archive'), await server('Archive'));
    assert.equal((await local('Archive')).n, 8);
    // Nothing to do: neither the server's mailboxes nor the local Maildir change.
    const serverState = async () =>
      (
        await fx.db.pool.query<{ s: string }>(
          "SELECT string_agg(name || ':' || uidnext || ':' || highestmodseq, ',' ORDER BY name) AS s FROM mailboxes WHERE account_id = $1",
          [grace],
        )
      ).rows[0]?.s;
    const localState = async () =>
      [...(await readdir(inboxCur)), ...(await readdir(inboxNew))].sort().join('\n');
    const [serverBefore, localBefore] = [await serverState(), await localState()];
    await sync();
    assert.equal(await serverState(), serverBefore);
    assert.equal(await localState(), localBefore);
  });

  it('mbsync, with COMPRESS=DEFLATE and without: a two-way sync ends with LOGOUT answered by BYE and the tagged OK', async () => {
    const user = 'heidi@example.com';
    const heidi = await fx.createUser(user);
    for (let i = 1; i <= 5; i++) await fx.deliver(heidi, message(i));
    for (const compress of [true, false]) {
      const dir = await testWorkdir('mbsync-logout');
      const rc = await mbsyncConfig(dir, user, compress ? [] : ['DisableExtension COMPRESS=DEFLATE']);
      const sync = async () => {
        // -Dn: the protocol as mbsync sends and reads it (inside the deflate stream when compressed).
        const r = await run('mbsync', ['-Dn', '-c', rc, '-a'], { timeoutMs: 120_000 });
        assert.equal(r.code, 0, `mbsync failed:\n${r.stdout}\n${r.stderr}`);
        assert.doesNotMatch(r.stderr, /unexpected EOF|Error|Warning/i, r.stderr);
        const output = r.stdout.replace(/\r\n/g, '\n');
        assert.equal(/>>> \d+ COMPRESS DEFLATE\n/.test(output), compress, output.slice(0, 2000));
        const logout = />>> (\d+) LOGOUT\n\* BYE [^\n]*\n(\d+) OK [^\n]*\n/.exec(output);
        assert.ok(logout, output.slice(-2000));
        assert.equal(logout[1], logout[2]);
      };
      // Down, then a local change up: one more message flagged (one not flagged yet).
      await sync();
      const cur = join(dir, 'mail', 'INBOX', 'cur');
      const fresh = join(dir, 'mail', 'INBOX', 'new');
      const files = [
        ...(await readdir(fresh)).map((f) => join(fresh, f)),
        ...(await readdir(cur)).map((f) => join(cur, f)),
      ];
      const unflagged = files.find((f) => !/:2,[A-Z]*F[A-Z]*$/.test(f));
      assert.ok(unflagged, files.join('\n'));
      const name = unflagged
        .split('/')
        .pop()!
        .replace(/:2,[A-Z]*$/, '');
      await rename(unflagged, join(cur, `${name}:2,F`));
      await sync();
      const { rows } = await fx.db.pool.query<{ flagged: number }>(
        `SELECT count(*) FILTER (WHERE '\\Flagged' = ANY (mm.flags))::int AS flagged
         FROM mailbox_messages mm JOIN mailboxes m ON m.id = mm.mailbox_id WHERE m.account_id = $1 AND m.name = 'INBOX'`,
        [heidi],
      );
      assert.equal(rows[0]!.flagged, compress ? 1 : 2);
    }
  });
});
