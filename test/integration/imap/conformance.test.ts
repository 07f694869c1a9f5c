// Conformance checks, written from the RFCs, for the capabilities and commands the other files do not
// cover: SASL (RFC 4959, 4616, AUTH=LOGIN), LITERAL+/LITERAL- (RFC 7888), MULTIAPPEND (RFC 3502),
// APPENDLIMIT (RFC 7889), CLOSE/UNSELECT/CHECK (RFC 3501, 3691), inactivity timeouts, and POP3
// (RFC 1939, 2449, 5034) spoken raw.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../../harness/index.js';
import {
  type ImapFixture,
  type ImapService,
  PASSWORD,
  RawImapClient,
  startImapFixture,
} from './imap-fixture.js';
import { RawPop3 } from './pop3-client.js';

const b64 = (text: string) => Buffer.from(text).toString('base64');
const msg = (n: number) => `Subject: conf ${n}\r\nMessage-ID: <c${n}@example.com>\r\n\r\nbody ${n}\r\n`;

async function connected(port: number): Promise<RawImapClient> {
  const raw = await RawImapClient.connect(port, true);
  await raw.readLine();
  return raw;
}

describe('imap and pop3 conformance (SASL, literals, MULTIAPPEND, APPENDLIMIT, CLOSE, timeouts, POP3)', () => {
  let fx: ImapFixture;
  let literalMinus: ImapService;
  let shortTimeouts: ImapService;
  let kim: number;
  before(async () => {
    fx = await startImapFixture({ IMAP_APPEND_LIMIT: '2048' });
    literalMinus = await fx.startReplica({ IMAP_LITERAL_MINUS: 'true', IMAP_APPEND_LIMIT: '52428800' });
    shortTimeouts = await fx.startReplica({
      IMAP_IDLE_TIMEOUT_MS: '1000',
      IMAP_IDLE_COMMAND_TIMEOUT_MS: '2500',
    });
    kim = await fx.createUser('kim@example.com');
    for (let i = 1; i <= 4; i++) await fx.deliver(kim, msg(i));
  });
  after(async () => {
    await fx?.close();
  });

  it('AUTHENTICATE PLAIN without and with an initial response (SASL-IR), cancel with *', async () => {
    const caps = await connected(fx.service.imapsPort);
    const capability = (await caps.command('CAPABILITY')).untagged[0]!;
    for (const c of ['AUTH=PLAIN', 'AUTH=LOGIN', 'SASL-IR'])
      assert.ok(capability.split(' ').includes(c), `${c} in ${capability}`);
    caps.send('a AUTHENTICATE PLAIN\r\n');
    assert.equal(await caps.readLine(), '+ ');
    caps.send('*\r\n');
    assert.match(await caps.readLine(), /^a BAD/);
    caps.send(`b AUTHENTICATE PLAIN\r\n`);
    assert.equal(await caps.readLine(), '+ ');
    caps.send(`${b64(`\0kim@example.com\0${PASSWORD}`)}\r\n`);
    const line = await caps.readLine();
    // RFC 4959 / 3501: a successful AUTHENTICATE may carry the new capabilities in the OK.
    assert.match(line, /^b OK/);
    assert.equal((await caps.command('SELECT INBOX')).status, 'OK');
    caps.close();

    const ir = await connected(fx.service.imapsPort);
    const r = await ir.command(`AUTHENTICATE PLAIN ${b64(`kim@example.com\0kim@example.com\0${PASSWORD}`)}`);
    assert.equal(r.status, 'OK', r.tagged);
    ir.close();

    const wrong = await connected(fx.service.imapsPort);
    const bad = await wrong.command(`AUTHENTICATE PLAIN ${b64(`\0kim@example.com\0nope`)}`);
    assert.match(bad.tagged, /NO \[AUTHENTICATIONFAILED\]/);
    wrong.close();
  });

  it('AUTHENTICATE LOGIN with base64 Username:/Password: challenges', async () => {
    const raw = await connected(fx.service.imapsPort);
    raw.send('a AUTHENTICATE LOGIN\r\n');
    assert.equal(await raw.readLine(), `+ ${b64('Username:')}`);
    raw.send(`${b64('kim@example.com')}\r\n`);
    assert.equal(await raw.readLine(), `+ ${b64('Password:')}`);
    raw.send(`${b64(PASSWORD)}\r\n`);
    assert.match(await raw.readLine(), /^a OK/);
    const unknown = await raw.command('AUTHENTICATE GSSAPI');
    assert.match(unknown.tagged, /^t\d+ (BAD|NO)/, 'no second AUTHENTICATE after login');
    raw.close();
  });

  it('LITERAL+: synchronising literals get a continuation, non-synchronising ones do not', async () => {
    const raw = await connected(fx.service.imapsPort);
    assert.match((await raw.command('CAPABILITY')).untagged[0]!, / LITERAL\+ /);
    raw.send('a LOGIN {15}\r\n');
    assert.match(await raw.readLine(), /^\+ /);
    raw.send(`kim@example.com {${PASSWORD.length}}\r\n`);
    assert.match(await raw.readLine(), /^\+ /);
    raw.send(`${PASSWORD}\r\n`);
    assert.match(await raw.readLine(), /^a OK/);
    // Non-synchronising: everything in one write, no '+' in between.
    const r = await raw.command(`STATUS {5+}\r\nINBOX (MESSAGES)`);
    assert.deepEqual(r.untagged, ['* STATUS INBOX (MESSAGES 4)']);
    raw.close();
  });

  it('LITERAL- (IMAP_LITERAL_MINUS): advertised instead of LITERAL+, {4096+} accepted, {4097+} refused', async () => {
    const raw = await connected(literalMinus.imapsPort);
    const caps = (await raw.command('CAPABILITY')).untagged[0]!.split(' ');
    assert.ok(caps.includes('LITERAL-') && !caps.includes('LITERAL+'), caps.join(' '));
    await raw.login('kim@example.com');
    const name = `L${'x'.repeat(4095)}`;
    const fits = await raw.command(`STATUS {4096+}\r\n${name} (MESSAGES)`);
    assert.match(fits.tagged, /NO \[NONEXISTENT\]/, 'a 4096-octet literal is read and the name looked up');
    // RFC 7888 4: over 4096 the server may answer BAD and close, since the data that follows is
    // indistinguishable from commands.
    raw.send(`b STATUS {4097+}\r\n${name}x (MESSAGES)\r\n`);
    const refusal = await raw.readLine();
    assert.match(refusal, /^(\* BYE|b BAD)/);
    const afterwards: string[] = [];
    try {
      for (;;) afterwards.push(await raw.readLine(2_000));
    } catch {}
    assert.ok(raw.closed, `connection closed (saw ${afterwards.join('|')})`);
    assert.ok(!afterwards.some((l) => /^[a-z]\d* OK/.test(l)), 'the literal data is never run as a command');
  });

  it('MULTIAPPEND: several messages in one APPEND, atomically, with one APPENDUID range', async () => {
    const raw = await connected(fx.service.imapsPort);
    await raw.login('kim@example.com');
    assert.match((await raw.command('CAPABILITY')).untagged[0]!, / MULTIAPPEND /);
    const [a, b, c] = [msg(11), msg(12), msg(13)];
    const before = await raw.command('STATUS Archive (UIDNEXT UIDVALIDITY MESSAGES)');
    const validity = /UIDVALIDITY (\d+)/.exec(before.untagged[0]!)![1];
    const r = await raw.command(
      `APPEND Archive (\\Seen) {${a.length}+}\r\n${a} {${b.length}+}\r\n${b} (\\Flagged) "05-Nov-2026 10:00:00 +0000" {${c.length}+}\r\n${c}`,
    );
    assert.equal(r.tagged.replace(/^t\d+ /, ''), `OK [APPENDUID ${validity} 1:3] APPEND completed`);
    await raw.command('EXAMINE Archive');
    // EXAMINE keeps \Recent (RFC 3501 6.3.2); it is not what this test is about.
    const f = await raw.command('FETCH 1:* (FLAGS INTERNALDATE)');
    f.untagged = f.untagged.map((l) => l.replace(/ ?\\Recent/, ''));
    assert.equal(f.untagged.length, 3, f.untagged.join('|'));
    assert.match(f.untagged[0]!, /FLAGS \(\\Seen\)/);
    assert.match(f.untagged[1]!, /FLAGS \(\)/);
    assert.match(f.untagged[2]!, /FLAGS \(\\Flagged\) INTERNALDATE "05-Nov-2026 10:00:00 \+0000"/);
    // One message of the set is refused (empty): nothing is appended (RFC 3502: all or nothing).
    const failed = await raw.command(`APPEND Archive {${a.length}+}\r\n${a} {0+}\r\n`);
    assert.equal(failed.status, 'NO', failed.tagged);
    const after = await raw.command('STATUS Archive (MESSAGES)');
    assert.deepEqual(after.untagged, ['* STATUS Archive (MESSAGES 3)']);
    raw.close();
  });

  it('APPENDLIMIT: advertised with the configured size; larger APPENDs get NO [TOOBIG] and no + for a synchronising literal', async () => {
    const raw = await connected(fx.service.imapsPort);
    await raw.login('kim@example.com');
    assert.match((await raw.command('CAPABILITY')).untagged[0]!, / APPENDLIMIT=2048( |$)/);
    raw.send('a APPEND INBOX {2049}\r\n');
    assert.match(await raw.readLine(), /^a NO \[TOOBIG\]/);
    const exact = `Subject: x\r\n\r\n${'z'.repeat(2048 - 16)}\r\n`;
    assert.equal(exact.length, 2048);
    const ok = await raw.command(`APPEND INBOX {2048+}\r\n${exact}`);
    assert.equal(ok.status, 'OK', ok.tagged);
    assert.equal((await raw.command('NOOP')).status, 'OK');
    const st = await raw.command('STATUS INBOX (MESSAGES)');
    assert.deepEqual(st.untagged, ['* STATUS INBOX (MESSAGES 5)']);
    await raw.command('SELECT INBOX');
    await raw.command('UID STORE 5 +FLAGS.SILENT (\\Deleted)');
    await raw.command('EXPUNGE');
    raw.close();
  });

  it('CLOSE expunges silently, UNSELECT does not expunge, CHECK is OK, EXAMINE+CLOSE expunges nothing', async () => {
    const raw = await connected(fx.service.imapsPort);
    await raw.login('kim@example.com');
    await raw.command('SELECT Archive');
    assert.equal((await raw.command('CHECK')).status, 'OK');
    await raw.command('STORE 1 +FLAGS.SILENT (\\Deleted)');
    const unselect = await raw.command('UNSELECT');
    assert.deepEqual(unselect.untagged, []);
    assert.match((await raw.command('FETCH 1 FLAGS')).tagged, /BAD/, 'no mailbox selected after UNSELECT');
    assert.deepEqual((await raw.command('STATUS Archive (MESSAGES)')).untagged, [
      '* STATUS Archive (MESSAGES 3)',
    ]);
    await raw.command('EXAMINE Archive');
    const examineClose = await raw.command('CLOSE');
    assert.equal(examineClose.status, 'OK');
    assert.deepEqual((await raw.command('STATUS Archive (MESSAGES)')).untagged, [
      '* STATUS Archive (MESSAGES 3)',
    ]);
    await raw.command('SELECT Archive');
    const close = await raw.command('CLOSE');
    assert.deepEqual(close.untagged, [], 'CLOSE sends no EXPUNGE responses');
    assert.deepEqual((await raw.command('STATUS Archive (MESSAGES)')).untagged, [
      '* STATUS Archive (MESSAGES 2)',
    ]);
    assert.match((await raw.command('CLOSE')).tagged, /BAD/, 'CLOSE needs a selected mailbox');
    raw.close();
  });

  it('inactivity: * BYE after the idle timeout, the longer timeout inside IDLE, and activity re-arms it', async () => {
    const quiet = await connected(shortTimeouts.imapsPort);
    await quiet.login('kim@example.com');
    const started = Date.now();
    assert.match(await quiet.readLine(3_000), /^\* BYE/);
    const waited = Date.now() - started;
    assert.ok(waited >= 800 && waited < 3_000, `BYE after ${waited} ms`);

    const busy = await connected(shortTimeouts.imapsPort);
    await busy.login('kim@example.com');
    // Time passing is the stimulus here, not a wait for a condition: four NOOPs half the idle
    // timeout apart span twice the timeout, and each is answered.
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 500));
      assert.equal((await busy.command('NOOP')).status, 'OK');
    }
    await busy.command('SELECT INBOX');
    busy.send('i IDLE\r\n');
    assert.match(await busy.readLine(), /^\+ /);
    const idleStart = Date.now();
    assert.match(await busy.readLine(6_000), /^\* BYE/);
    const idled = Date.now() - idleStart;
    assert.ok(idled >= 2_000 && idled < 5_000, `BYE in IDLE after ${idled} ms`);
    busy.close();
    quiet.close();
  });

  it('POP3: CAPA, AUTH PLAIN (with and without initial response), STAT/LIST/UIDL/TOP/RETR, DELE+RSET, DELE+QUIT', async () => {
    const pop = await RawPop3.connect(fx.service.pop3sPort);
    const capa = await pop.multi('CAPA');
    for (const c of ['TOP', 'UIDL', 'USER', 'SASL PLAIN', 'RESP-CODES', 'PIPELINING'])
      assert.ok(capa.body.includes(c), `${c} in ${capa.body.join('|')}`);
    assert.ok(!capa.body.includes('STLS'), 'no STLS once under TLS');
    assert.match(await pop.cmd('STAT'), /^-ERR/, 'STAT before login');
    assert.match(await pop.cmd(`AUTH PLAIN ${b64('\0kim@example.com\0wrong')}`), /^-ERR \[AUTH\]/);
    assert.match(await pop.cmd(`AUTH PLAIN ${b64(`\0kim@example.com\0${PASSWORD}`)}`), /^\+OK/);
    const stat = await pop.cmd('STAT');
    const [, count, size] = /^\+OK (\d+) (\d+)/.exec(stat)!;
    assert.equal(Number(count), 4);
    const list = await pop.multi('LIST');
    assert.equal(list.body.length, 4);
    assert.equal(
      list.body.reduce((n, l) => n + Number(l.split(' ')[1]), 0),
      Number(size),
      'LIST sizes add up to STAT',
    );
    assert.equal(list.body[0], `1 ${msg(1).length}`);
    assert.equal(await pop.cmd('LIST 2'), `+OK 2 ${msg(2).length}`);
    assert.match(await pop.cmd('LIST 9'), /^-ERR/);
    const uidl = await pop.multi('UIDL');
    assert.equal(uidl.body.length, 4);
    const ids = uidl.body.map((l) => l.split(' ')[1]!);
    assert.equal(new Set(ids).size, 4);
    for (const id of ids) assert.match(id, /^[\x21-\x7e]{1,70}$/, 'RFC 1939 unique-id syntax');
    const top = await pop.multi('TOP 1 0');
    assert.deepEqual(top.body, ['Subject: conf 1', 'Message-ID: <c1@example.com>', '']);
    const retr = await pop.multi('RETR 2');
    assert.equal(`${retr.body.join('\r\n')}\r\n`, msg(2));
    assert.match(await pop.cmd('DELE 1'), /^\+OK/);
    assert.match(await pop.cmd('DELE 1'), /^-ERR/, 'already deleted');
    assert.match(await pop.cmd('RETR 1'), /^-ERR/);
    assert.match(await pop.cmd('STAT'), /^\+OK 3 /);
    assert.match(await pop.cmd('RSET'), /^\+OK/);
    assert.match(await pop.cmd('STAT'), /^\+OK 4 /);
    assert.match(await pop.cmd('NOOP'), /^\+OK/);
    assert.match(await pop.cmd('DELE 4'), /^\+OK/);
    assert.match(await pop.cmd('QUIT'), /^\+OK/);
    pop.close();

    // A new session: 4 is gone, the others keep their unique-ids; AUTH PLAIN with a continuation.
    const again = await RawPop3.connect(fx.service.pop3sPort);
    assert.equal(await again.cmd('AUTH PLAIN'), '+ ');
    assert.match(await again.cmd(b64(`\0kim@example.com\0${PASSWORD}`)), /^\+OK/);
    const uidl2 = await again.multi('UIDL');
    assert.deepEqual(
      uidl2.body.map((l) => l.split(' ')[1]),
      ids.slice(0, 3),
      'unique-ids are stable across sessions',
    );
    assert.match(await again.cmd('QUIT'), /^\+OK/);
    again.close();

    // USER/PASS; a message arriving later gets a new id, never a reused one.
    await fx.deliver(kim, msg(20));
    const third = await RawPop3.connect(fx.service.pop3sPort);
    assert.match(await third.cmd('USER kim@example.com'), /^\+OK/);
    assert.match(await third.cmd(`PASS ${PASSWORD}`), /^\+OK/);
    const uidl3 = (await third.multi('UIDL')).body.map((l) => l.split(' ')[1]!);
    assert.deepEqual(uidl3.slice(0, 3), ids.slice(0, 3));
    assert.equal(uidl3.length, 4);
    assert.ok(!ids.includes(uidl3[3]!), 'a deleted message id is not reused');
    assert.match(await third.cmd('QUIT'), /^\+OK/);
    third.close();
  });

  it('POP3 without TLS: STLS offered, USER/AUTH refused until STLS', async () => {
    const { connect } = await import('node:net');
    const socket = connect({ host: '127.0.0.1', port: fx.service.pop3Port });
    socket.setEncoding('latin1');
    let text = '';
    socket.on('data', (d: string) => {
      text += d;
    });
    const waitFor = (re: RegExp) =>
      eventually(`${re} from the POP3 server`, async () => re.test(text) || undefined);
    await waitFor(/^\+OK.*\r\n/);
    socket.write('CAPA\r\n');
    await waitFor(/\r\n\.\r\n/);
    assert.ok(text.includes('\r\nSTLS\r\n'), text);
    assert.ok(!text.includes('SASL PLAIN'), 'no SASL without TLS');
    text = '';
    socket.write('USER kim@example.com\r\n');
    await waitFor(/\r\n/);
    assert.match(text, /^-ERR/);
    socket.destroy();
  });
});
