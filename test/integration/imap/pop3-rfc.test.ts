// POP3 checked the way an independent tester would, from the RFCs: the maildrop lock (RFC 1939 8),
// octet counts and line ends (RFC 1939 3, 11), UPDATE only on QUIT (RFC 1939 6), STLS (RFC 2595 4),
// PIPELINING and response codes (RFC 2449), SASL (RFC 5034), bad input, and what IMAP sees.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { acquireMaildropLock, releaseMaildropLock, resolveMailbox } from '@hermod/mail-store';
import { eventually } from '../../harness/index.js';
import { type ImapFixture, PASSWORD, RawImapClient, startImapFixture } from './imap-fixture.js';
import { RawPop3 } from './pop3-client.js';

const b64 = (text: string) => Buffer.from(text).toString('base64');
const msg = (n: number) => `Subject: pop ${n}\r\nMessage-ID: <p${n}@example.com>\r\n\r\nbody ${n}\r\n`;

/** An IMAP session in INBOX is told of an expunge (NOOP until it is). */
const expungeSeen = (imap: RawImapClient) =>
  eventually('IMAP told of the expunge', async () => {
    const noop = await imap.command('NOOP');
    return noop.untagged.some((l) => /^\* \d+ EXPUNGE$/.test(l)) || undefined;
  });

describe('pop3 against RFC 1939, 2449, 2595 and 5034', () => {
  let fx: ImapFixture;
  let users = 0;
  /** A fresh account with `count` messages (each test its own maildrop). */
  const account = async (count: number) => {
    const address = `pop${++users}@example.com`;
    const id = await fx.createUser(address);
    for (let i = 1; i <= count; i++) await fx.deliver(id, msg(i));
    return { address, id };
  };
  const login = async (address: string, port = fx.service.pop3sPort) => {
    const pop = await RawPop3.connect(port);
    assert.match(await pop.cmd(`USER ${address}`), /^\+OK/);
    return { pop, reply: await pop.cmd(`PASS ${PASSWORD}`) };
  };
  /** Logs in as soon as the maildrop lock is free (released asynchronously when a connection drops). */
  const loginOnceFree = (address: string, what: string) =>
    eventually(what, async () => {
      const s = await login(address);
      if (s.reply.startsWith('+OK')) return s.pop;
      s.pop.close();
      return undefined;
    });
  before(async () => {
    fx = await startImapFixture();
  });
  after(async () => {
    await fx?.close();
  });

  it('RFC 1939 8: the maildrop is locked; a second session, also on another replica, gets -ERR [IN-USE]; QUIT and a dropped connection free it', async () => {
    const { address } = await account(2);
    const replica = await fx.startReplica();
    const first = await login(address);
    assert.match(first.reply, /^\+OK/);
    const second = await login(address);
    assert.match(second.reply, /^-ERR \[IN-USE\]/, 'same replica');
    const elsewhere = await login(address, replica.pop3sPort);
    assert.match(elsewhere.reply, /^-ERR \[IN-USE\]/, 'another replica');
    // Still in AUTHORIZATION: the refused sessions may try again once the lock is free.
    assert.match(await first.pop.cmd('QUIT'), /^\+OK/);
    first.pop.close();
    assert.match(await second.pop.cmd(`USER ${address}`), /^\+OK/);
    assert.match(await second.pop.cmd(`PASS ${PASSWORD}`), /^\+OK/);
    // A connection that drops without QUIT frees the lock too.
    second.pop.close();
    await eventually('the lock freed by a dropped connection', async () => {
      assert.match(await elsewhere.pop.cmd(`USER ${address}`), /^\+OK/);
      return (await elsewhere.pop.cmd(`PASS ${PASSWORD}`)).startsWith('+OK') || undefined;
    });
    assert.match(await elsewhere.pop.cmd('STAT'), /^\+OK 2 /);
    assert.match(await elsewhere.pop.cmd('QUIT'), /^\+OK/);
    elsewhere.pop.close();
    await replica.process.stop();
  });

  it("RFC 1939 8: a replica shutting down (a rolling restart) releases its sessions' maildrop locks before it exits", async () => {
    const { address } = await account(1);
    const replica = await fx.startReplica();
    const held = await login(address, replica.pop3sPort);
    assert.match(held.reply, /^\+OK/);
    await replica.process.stop();
    // RFC 3206: the session is told why (temporary, try again) before the connection closes.
    assert.match(await held.pop.line(), /^-ERR \[SYS\/TEMP\] /);
    held.pop.close();
    // At once, not after the lease: the client reconnecting to another replica is let in.
    const next = await login(address);
    assert.match(next.reply, /^\+OK/);
    assert.match(await next.pop.cmd('QUIT'), /^\+OK/);
    next.pop.close();
  });

  it('RFC 1939 8: a lock whose holder went away without releasing it (a dead replica) expires with its lease; only the holder releases it', async () => {
    const { address, id } = await account(1);
    const client = await fx.db.pool.connect();
    const inbox = await resolveMailbox(client, id, 'INBOX').finally(() => client.release());
    assert.ok(await acquireMaildropLock(fx.db.pool, inbox.id, 'dead-replica-session', 1_500));
    const first = await login(address);
    assert.match(first.reply, /^-ERR \[IN-USE\]/);
    await releaseMaildropLock(fx.db.pool, inbox.id, 'someone-else');
    assert.match(await first.pop.cmd(`USER ${address}`), /^\+OK/);
    assert.match(
      await first.pop.cmd(`PASS ${PASSWORD}`),
      /^-ERR \[IN-USE\]/,
      'not released by another holder',
    );
    await eventually('the lease ran out', async () => {
      assert.match(await first.pop.cmd(`USER ${address}`), /^\+OK/);
      return (await first.pop.cmd(`PASS ${PASSWORD}`)).startsWith('+OK') || undefined;
    });
    assert.match(await first.pop.cmd('QUIT'), /^\+OK/);
    first.pop.close();
  });

  it('RFC 1939 3 and 11: RETR and TOP end lines with CRLF and byte-stuff dots; LIST and STAT count the octets RETR sends', async () => {
    const { address, id } = await account(0);
    await fx.deliver(id, 'Subject: dots\r\n\r\n.\r\n..\r\n.x\r\nend\r\n');
    // Stored as received with bare LF line ends (an IMAP APPEND may do that).
    await fx.deliver(id, Buffer.from('Subject: bare lf\n\n.\nline\n..two\nend\n'));
    const { pop, reply } = await login(address);
    assert.match(reply, /^\+OK/);
    const dots = await pop.multiRaw('RETR 1');
    assert.match(dots.status, /^\+OK/);
    assert.equal(dots.octets, 'Subject: dots\r\n\r\n..\r\n...\r\n..x\r\nend\r\n.\r\n');
    const top = await pop.multiRaw('TOP 1 2');
    assert.equal(top.octets, 'Subject: dots\r\n\r\n..\r\n...\r\n.\r\n');
    const lf = await pop.multiRaw('RETR 2');
    assert.equal(lf.octets, 'Subject: bare lf\r\n\r\n..\r\nline\r\n...two\r\nend\r\n.\r\n', 'CRLF line ends');
    const lfTop = await pop.multiRaw('TOP 2 1');
    assert.equal(lfTop.octets, 'Subject: bare lf\r\n\r\n..\r\n.\r\n');
    // The size of a message is what RETR sends before byte-stuffing and the terminator.
    const unstuffed = (octets: string) => octets.slice(0, -3).replace(/^\./gm, '');
    const sizes = [unstuffed(dots.octets).length, unstuffed(lf.octets).length];
    assert.deepEqual((await pop.multi('LIST')).body, [`1 ${sizes[0]}`, `2 ${sizes[1]}`]);
    assert.equal(await pop.cmd('LIST 2'), `+OK 2 ${sizes[1]}`);
    assert.equal(await pop.cmd('STAT'), `+OK 2 ${sizes[0]! + sizes[1]!}`);
    assert.match(await pop.cmd('QUIT'), /^\+OK/);
    pop.close();

    // Larger than one stored chunk (256 KiB), dot lines on both sides of the chunk boundary, bare
    // LF in the second chunk; and a message of header lines only (TOP has no body to cut).
    const { address: big, id: bigId } = await account(0);
    const line = (i: number) => (i % 7 === 0 ? `.dot ${i}` : `line ${i} ${'y'.repeat(60)}`);
    const lines = Array.from({ length: 8_000 }, (_, i) => line(i));
    const head = `Subject: big\r\n\r\n${lines.slice(0, 4_000).join('\r\n')}\r\n`;
    const tail = `${lines.slice(4_000).join('\n')}\n`;
    await fx.deliver(bigId, Buffer.from(head + tail));
    await fx.deliver(bigId, 'Subject: headers only\r\nX-Other: 1\r\n');
    const session = await login(big);
    assert.match(session.reply, /^\+OK/);
    const bigRetr = await session.pop.multiRaw('RETR 1');
    const crlf = `Subject: big\r\n\r\n${lines.join('\r\n')}\r\n`;
    assert.equal(unstuffed(bigRetr.octets), crlf);
    assert.equal(bigRetr.octets, `${crlf.replace(/^\./gm, '..')}.\r\n`);
    assert.equal(await session.pop.cmd('LIST 1'), `+OK 1 ${crlf.length}`);
    const headersOnly = await session.pop.multiRaw('TOP 2 5');
    assert.equal(headersOnly.octets, 'Subject: headers only\r\nX-Other: 1\r\n.\r\n');
    assert.match(await session.pop.cmd('QUIT'), /^\+OK/);
    session.pop.close();
  });

  it('RFC 1939 6: only QUIT in TRANSACTION removes; QUIT in AUTHORIZATION and a dropped connection commit nothing', async () => {
    const { address } = await account(3);
    const dropped = await login(address);
    assert.match(await dropped.pop.cmd('DELE 1'), /^\+OK/);
    assert.match(await dropped.pop.cmd('DELE 2'), /^\+OK/);
    dropped.pop.close();
    const quitEarly = await RawPop3.connect(fx.service.pop3sPort);
    assert.match(await quitEarly.cmd(`USER ${address}`), /^\+OK/);
    assert.match(await quitEarly.cmd('QUIT'), /^\+OK/);
    await quitEarly.closedByServer();
    const again = await loginOnceFree(address, 'a session after the dropped one');
    assert.match(await again.cmd('STAT'), /^\+OK 3 /, 'nothing was removed');
    // Message numbers keep naming the same message after DELE; a deleted one is refused everywhere.
    assert.match(await again.cmd('DELE 2'), /^\+OK/);
    for (const c of ['RETR 2', 'TOP 2 0', 'LIST 2', 'UIDL 2', 'DELE 2'])
      assert.match(await again.cmd(c), /^-ERR/, c);
    assert.deepEqual(
      (await again.multi('LIST')).body.map((l) => l.split(' ')[0]),
      ['1', '3'],
    );
    assert.match(await again.cmd('QUIT'), /^\+OK/);
    await again.closedByServer();
    const after = await login(address);
    assert.match(await after.pop.cmd('STAT'), /^\+OK 2 /);
    assert.match(await after.pop.cmd('QUIT'), /^\+OK/);
    after.pop.close();
  });

  it('RFC 1939 3: the autologout timer closes the connection without a response and without UPDATE', async () => {
    const { address } = await account(2);
    const shortIdle = await fx.startReplica({ POP3_IDLE_TIMEOUT_MS: '1000' });
    const idle = await login(address, shortIdle.pop3sPort);
    assert.match(idle.reply, /^\+OK/);
    assert.match(await idle.pop.cmd('DELE 1'), /^\+OK/);
    await idle.pop.closedByServer();
    assert.equal(idle.pop.unread(), '', 'nothing sent at the autologout');
    const after = await loginOnceFree(address, 'the lock freed at the autologout');
    assert.match(await after.cmd('STAT'), /^\+OK 2 /, 'no UPDATE');
    assert.match(await after.cmd('QUIT'), /^\+OK/);
    after.close();
    await shortIdle.process.stop();
  });

  it('RFC 2595 4: commands pipelined after STLS are discarded; STLS is refused over TLS and after login; CAPA after TLS offers login', async () => {
    const { address } = await account(1);
    const pop = await RawPop3.connectPlain(fx.service.pop3Port);
    // An attacker's plaintext after STLS, in the same packet, must not run inside the TLS session.
    await pop.stls(`USER ${address}\r\nPASS ${PASSWORD}\r\n`);
    assert.match(await pop.cmd('STAT'), /^-ERR/, 'still in AUTHORIZATION: the injected login was dropped');
    const capa = await pop.multi('CAPA');
    assert.ok(capa.body.includes('USER') && !capa.body.includes('STLS'), capa.body.join('|'));
    assert.match(await pop.cmd('STLS'), /^-ERR/, 'already under TLS');
    assert.match(await pop.cmd(`USER ${address}`), /^\+OK/);
    assert.match(await pop.cmd(`PASS ${PASSWORD}`), /^\+OK/);
    assert.match(await pop.cmd('STLS'), /^-ERR/, 'after login');
    assert.match(await pop.cmd('STAT'), /^\+OK 1 /);
    assert.match(await pop.cmd('QUIT'), /^\+OK/);
    pop.close();
    const secure = await RawPop3.connect(fx.service.pop3sPort);
    assert.match(await secure.cmd('STLS'), /^-ERR/, 'POP3S');
    secure.close();
  });

  it('RFC 2595 4: what the client said before STLS (USER) is forgotten after it, where plaintext login is allowed', async () => {
    const { address } = await account(1);
    const plaintext = await fx.startReplica({ IMAP_ALLOW_PLAINTEXT_AUTH: 'true' });
    const pop = await RawPop3.connectPlain(plaintext.pop3Port);
    assert.match(await pop.cmd(`USER ${address}`), /^\+OK/);
    await pop.stls();
    assert.match(await pop.cmd(`PASS ${PASSWORD}`), /^-ERR /, 'PASS needs a USER given under TLS');
    assert.match(await pop.cmd(`USER ${address}`), /^\+OK/);
    assert.match(await pop.cmd(`PASS ${PASSWORD}`), /^\+OK/);
    assert.match(await pop.cmd('QUIT'), /^\+OK/);
    pop.close();
    await plaintext.process.stop();
  });

  it('RFC 2449: PIPELINING answers commands sent in one write in order; CAPA lists IMPLEMENTATION; response codes', async () => {
    const { address } = await account(3);
    const pop = await RawPop3.connect(fx.service.pop3sPort);
    const capa = await pop.multi('CAPA');
    assert.ok(capa.body.includes('PIPELINING') && capa.body.includes('RESP-CODES'), capa.body.join('|'));
    assert.ok(capa.body.some((l) => l.startsWith('IMPLEMENTATION ')));
    pop.write(
      `USER ${address}\r\nPASS ${PASSWORD}\r\nSTAT\r\nLIST\r\nRETR 1\r\nDELE 1\r\nRETR 1\r\nNOOP\r\n`,
    );
    assert.match(await pop.line(), /^\+OK/);
    assert.match(await pop.line(), /^\+OK/);
    assert.match(await pop.line(), /^\+OK 3 /);
    assert.match(await pop.line(), /^\+OK/);
    for (const n of [1, 2, 3]) assert.match(await pop.line(), new RegExp(`^${n} \\d+$`));
    assert.equal(await pop.line(), '.');
    assert.match(await pop.line(), /^\+OK/);
    const body: string[] = [];
    for (let l = await pop.line(); l !== '.'; l = await pop.line()) body.push(l);
    assert.deepEqual(body, msg(1).split('\r\n').slice(0, -1));
    assert.match(await pop.line(), /^\+OK/);
    assert.match(await pop.line(), /^-ERR/);
    assert.match(await pop.line(), /^\+OK/);
    assert.match(await pop.cmd('RSET'), /^\+OK/);
    assert.match(await pop.cmd('QUIT'), /^\+OK/);
    pop.close();
    const wrong = await RawPop3.connect(fx.service.pop3sPort);
    assert.match(await wrong.cmd(`USER ${address}`), /^\+OK/);
    assert.match(await wrong.cmd('PASS nope'), /^-ERR \[AUTH\]/);
    wrong.close();
  });

  it('RFC 3206: a failure of the store during login gets -ERR [SYS/TEMP] and ends the session; the next login works', async () => {
    const { address } = await account(1);
    // The store fails (a table the login reads is missing) for this one login.
    await fx.db.pool.query('ALTER TABLE pop3_body_sizes RENAME TO pop3_body_sizes_away');
    try {
      const failing = await login(address);
      assert.match(failing.reply, /^-ERR \[SYS\/TEMP\] /);
      await failing.pop.closedByServer();
    } finally {
      await fx.db.pool.query('ALTER TABLE pop3_body_sizes_away RENAME TO pop3_body_sizes');
    }
    const next = await loginOnceFree(address, 'a login once the store works again');
    assert.match(await next.cmd('STAT'), /^\+OK 1 /);
    assert.match(await next.cmd('QUIT'), /^\+OK/);
    next.close();
  });

  it('RFC 5034: AUTH PLAIN with an initial response, `*` cancels, bad base64 and unknown mechanisms get -ERR', async () => {
    const { address } = await account(1);
    const pop = await RawPop3.connect(fx.service.pop3sPort);
    assert.equal(await pop.cmd('AUTH PLAIN'), '+ ');
    assert.match(await pop.cmd('*'), /^-ERR/);
    assert.match(await pop.cmd('AUTH PLAIN !!!notbase64'), /^-ERR/);
    assert.match(await pop.cmd('AUTH X-UNKNOWN'), /^-ERR/);
    assert.match(await pop.cmd(`AUTH PLAIN ${b64(`\0${address}\0${PASSWORD}`)}`), /^\+OK/);
    assert.match(await pop.cmd('AUTH PLAIN'), /^-ERR/, 'not in TRANSACTION');
    assert.match(await pop.cmd('QUIT'), /^\+OK/);
    pop.close();
  });

  it('RFC 5034: a SASL response as long as an OAuth bearer token (4 KiB) is read whole, as initial response and as continuation; a longer one gets -ERR Line too long and the end', async () => {
    const { address } = await account(1);
    // Wrong credentials the size of a real token: refused for the credentials, the session goes on.
    const long = b64(`\0${address}\0${'x'.repeat(3_000)}`);
    const pop = await RawPop3.connect(fx.service.pop3sPort);
    assert.match(await pop.cmd(`AUTH PLAIN ${long}`), /^-ERR \[AUTH\]/);
    assert.equal(await pop.cmd('AUTH PLAIN'), '+ ');
    assert.match(await pop.cmd(long), /^-ERR \[AUTH\]/);
    assert.match(await pop.cmd(`AUTH PLAIN ${b64(`\0${address}\0${PASSWORD}`)}`), /^\+OK/);
    assert.match(await pop.cmd('QUIT'), /^\+OK/);
    pop.close();
    const tooLong = await RawPop3.connect(fx.service.pop3sPort);
    assert.equal(await tooLong.cmd('AUTH PLAIN'), '+ ');
    assert.equal(await tooLong.cmd('x'.repeat(70_000)), '-ERR Line too long');
    await tooLong.closedByServer();
  });

  it('bad input: a precise -ERR for malformed arguments and unknown commands, the session goes on; a too long line ends it with -ERR', async () => {
    const { address } = await account(2);
    const { pop, reply } = await login(address);
    assert.match(reply, /^\+OK/);
    for (const c of [
      'RETR',
      'RETR 0',
      'RETR -1',
      'RETR 1x',
      'RETR 99999999999999999999',
      'TOP 1',
      'TOP 1 -1',
      'TOP 1 x',
      'DELE',
      'LIST 3',
      'UIDL 0',
      'XYZZY',
      '',
      'RETR \0',
      'USER again',
      'PASS again',
    ])
      assert.match(await pop.cmd(c), /^-ERR /, JSON.stringify(c));
    assert.match(await pop.cmd('STAT'), /^\+OK 2 /, 'the session goes on');
    assert.match(await pop.cmd('retr 1'), /^\+OK/, 'commands are case-insensitive');
    for (let l = await pop.line(); l !== '.'; l = await pop.line());
    pop.send(`NOOP ${'x'.repeat(70_000)}`);
    assert.match(await pop.line(), /^-ERR/);
    await pop.closedByServer();
  });

  it('a message IMAP expunged and whose body was then collected is sent whole or refused by RETR and TOP (never +OK and an empty body); the session goes on', async () => {
    const { address, id } = await account(2);
    const { pop, reply } = await login(address);
    assert.match(reply, /^\+OK/);
    const imap = await RawImapClient.connect(fx.service.imapsPort, true);
    await imap.readLine();
    await imap.login(address);
    assert.equal((await imap.command('SELECT INBOX')).status, 'OK');
    assert.equal((await imap.command('UID STORE 1 +FLAGS.SILENT (\\Deleted)')).status, 'OK');
    assert.equal((await imap.command('EXPUNGE')).status, 'OK');
    imap.close();
    // What the body collector (spool retention) does once nothing references the body.
    await fx.db.pool.query(
      `DELETE FROM message_bodies b WHERE NOT EXISTS (SELECT 1 FROM mailbox_messages m WHERE m.body_id = b.id)
         AND b.id IN (SELECT body_id FROM message_body_gc)`,
    );
    assert.equal(
      (
        await fx.db.pool.query(
          'SELECT 1 FROM mailbox_messages m JOIN mailboxes x ON x.id = m.mailbox_id WHERE x.account_id = $1',
          [id],
        )
      ).rowCount,
      1,
    );
    // Sent whole (a copy still in memory) or refused; never +OK with fewer octets than it announced.
    for (const c of ['RETR 1', 'TOP 1 0']) {
      const gone = await pop.multi(c);
      assert.ok(
        gone.status.startsWith('-ERR ') || gone.body.join('\r\n').includes('Subject: pop 1'),
        `${c}: ${gone.status} ${gone.body.join('|')}`,
      );
    }
    const kept = await pop.multi('RETR 2');
    assert.ok(kept.body.includes('body 2'), kept.body.join('|'));
    assert.match(await pop.cmd('QUIT'), /^\+OK/);
    pop.close();
  });

  it('RFC 1939 6: QUIT removes the marked messages in one step; when the removal fails it answers -ERR and leaves the maildrop as it was (nothing left flagged \\Deleted)', async () => {
    const { address, id } = await account(2);
    const {
      rows: [inbox],
    } = await fx.db.pool.query<{ id: string }>(
      "SELECT id FROM mailboxes WHERE account_id = $1 AND name = 'INBOX'",
      [id],
    );
    // The expunge log refuses this mailbox's rows: the removal's one statement fails.
    await fx.db.pool.query(
      `CREATE FUNCTION pop3_test_refuse_expunge() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'refused by the test'; END $$`,
    );
    await fx.db.pool.query(
      `CREATE TRIGGER pop3_test_refuse_expunge BEFORE INSERT ON mailbox_expunges FOR EACH ROW
       WHEN (NEW.mailbox_id = ${Number(inbox!.id)}) EXECUTE FUNCTION pop3_test_refuse_expunge()`,
    );
    try {
      const { pop, reply } = await login(address);
      assert.match(reply, /^\+OK/);
      assert.match(await pop.cmd('DELE 1'), /^\+OK/);
      assert.match(await pop.cmd('QUIT'), /^-ERR/);
      pop.close();
    } finally {
      await fx.db.pool.query('DROP TRIGGER pop3_test_refuse_expunge ON mailbox_expunges');
      await fx.db.pool.query('DROP FUNCTION pop3_test_refuse_expunge()');
    }
    const imap = await RawImapClient.connect(fx.service.imapsPort, true);
    await imap.readLine();
    await imap.login(address);
    assert.equal((await imap.command('SELECT INBOX')).status, 'OK');
    const flags = await imap.command('UID FETCH 1:* (FLAGS)');
    assert.equal(flags.untagged.length, 2, flags.untagged.join('|'));
    for (const line of flags.untagged) assert.doesNotMatch(line, /\\Deleted/);
    imap.close();
    // The next session finds both messages and can remove one.
    const next = await loginOnceFree(address, 'the maildrop free again');
    assert.match(await next.cmd('STAT'), /^\+OK 2 /);
    assert.match(await next.cmd('DELE 1'), /^\+OK/);
    assert.match(await next.cmd('QUIT'), /^\+OK/);
    next.close();
  });

  it('IMAP: a message deleted over POP3 is expunged for IMAP sessions; one IMAP expunged during a POP3 session is sent whole or refused, never empty; QUIT leaves messages IMAP flagged \\Deleted alone', async () => {
    const { address, id } = await account(3);
    const imap = await RawImapClient.connect(fx.service.imapsPort, true);
    await imap.readLine();
    await imap.login(address);
    assert.equal((await imap.command('SELECT INBOX')).status, 'OK');
    const { pop, reply } = await login(address);
    assert.match(reply, /^\+OK/);
    assert.match(await pop.cmd('DELE 1'), /^\+OK/);
    assert.match(await pop.cmd('QUIT'), /^\+OK/);
    pop.close();
    await expungeSeen(imap);
    const search = await imap.command('UID SEARCH ALL');
    assert.deepEqual(search.untagged, ['* SEARCH 2 3']);

    // IMAP expunges what POP3 still lists (POP3 numbers stay; the gone message is not sent).
    // QUIT released the maildrop lock before it answered: a new session may start at once.
    const { pop: again, reply: againReply } = await login(address);
    assert.match(againReply, /^\+OK/);
    assert.match(await again.cmd('STAT'), /^\+OK 2 /);
    assert.equal((await imap.command('UID STORE 2 +FLAGS.SILENT (\\Deleted)')).status, 'OK');
    assert.equal((await imap.command('EXPUNGE')).status, 'OK');
    const gone = await again.multi('RETR 1');
    assert.ok(
      gone.status.startsWith('-ERR') || gone.body.join('\r\n').includes('body 2'),
      `${gone.status} ${gone.body.join('|')}`,
    );
    const kept = await again.multi('RETR 2');
    assert.ok(kept.body.includes('body 3'), kept.body.join('|'));
    assert.match(await again.cmd('DELE 2'), /^\+OK/);
    assert.match(await again.cmd('QUIT'), /^\+OK/);
    again.close();
    await expungeSeen(imap);
    assert.deepEqual((await imap.command('UID SEARCH ALL')).untagged, ['* SEARCH']);

    // QUIT removes what POP3 marked, never what IMAP flagged \Deleted without expunging it.
    await fx.deliver(id, msg(4));
    await fx.deliver(id, msg(5));
    await eventually(
      'IMAP told of the new messages',
      async () => (await imap.command('NOOP')).untagged.includes('* 2 EXISTS') || undefined,
    );
    assert.equal((await imap.command('UID STORE 5 +FLAGS.SILENT (\\Deleted)')).status, 'OK');
    const third = await login(address);
    assert.match(await third.pop.cmd('STAT'), /^\+OK 2 /, 'a message flagged \\Deleted is still listed');
    assert.match(await third.pop.cmd('DELE 1'), /^\+OK/);
    assert.match(await third.pop.cmd('QUIT'), /^\+OK/);
    third.pop.close();
    await expungeSeen(imap);
    assert.deepEqual((await imap.command('UID SEARCH ALL')).untagged, ['* SEARCH 5']);
    imap.close();
  });
});
