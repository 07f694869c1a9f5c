// ManageSieve (RFC 5804) in the imap service, over real sockets: the greeting and the capabilities
// again after STARTTLS, no login in the clear, AUTHENTICATE PLAIN through the shared login guard,
// PUTSCRIPT with a {n+} literal, compile errors with line and column, the one active script, the
// response codes (NONEXISTENT, ACTIVE, ALREADYEXISTS, QUOTA/MAXSIZE, QUOTA/MAXSCRIPTS), STARTTLS
// command injection (also a half-sent line), STARTTLS refused twice and after login, SASL PLAIN
// without initial response and its "*" cancel, {n} literals, BYE (TRYLATER) on shutdown,
// UNAUTHENTICATE; the sieve-connect client (Debian) and Python's sievelib (Debian python3-sievelib)
// over STARTTLS.
import assert from 'node:assert/strict';
import { connect as connectTcp, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { connect as connectTls, type TLSSocket } from 'node:tls';
import { listScripts } from '@hermod/sieve-store';
import { requireTool, run, sieveConnect } from '../../harness/index.js';
import { type ImapFixture, PASSWORD, startImapFixture } from '../imap/imap-fixture.js';

let fx: ImapFixture;
let aliceId: number;

before(async () => {
  fx = await startImapFixture({ SIEVE_MAX_SCRIPTS: '3', SIEVE_MAX_SCRIPT_BYTES: '2048' });
  aliceId = await fx.createUser('alice@sieve.example');
  await fx.createUser('bob@sieve.example');
});
after(() => fx.close());

/** A raw ManageSieve client: sends lines, reads one complete response (data and status line). */
class Client {
  private buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  constructor(private socket: Socket | TLSSocket) {
    this.listen(socket);
  }
  private listen(socket: Socket | TLSSocket) {
    socket.on('data', (d: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, d]);
      for (const w of this.waiters.splice(0)) w();
    });
  }
  static async open(port: number): Promise<Client> {
    const socket = connectTcp({ host: '127.0.0.1', port });
    await new Promise((resolve) => socket.once('connect', resolve));
    return new Client(socket);
  }
  /** Reads up to and including a status line (OK/NO/BYE) outside any literal. */
  async response(): Promise<string> {
    for (;;) {
      const end = this.complete();
      if (end > 0) {
        const text = this.buffer.subarray(0, end).toString('utf8');
        this.buffer = this.buffer.subarray(end);
        return text;
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }
  private complete(): number {
    let pos = 0;
    const text = this.buffer.toString('latin1');
    while (pos < text.length) {
      const eol = text.indexOf('\r\n', pos);
      if (eol < 0) return 0;
      const line = text.slice(pos, eol);
      const literal = /\{(\d+)\}$/.exec(line);
      if (literal) {
        pos = eol + 2 + Number(literal[1]);
        continue;
      }
      pos = eol + 2;
      if (/^(OK|NO|BYE)\b/.test(line)) return pos;
    }
    return 0;
  }
  send(line: string | Buffer) {
    this.socket.write(line);
  }
  async command(line: string): Promise<string> {
    this.send(`${line}\r\n`);
    return this.response();
  }
  async startTls(): Promise<void> {
    assert.match(await this.command('STARTTLS'), /^OK/);
    const secure = connectTls({ socket: this.socket as Socket, rejectUnauthorized: false });
    await new Promise((resolve) => secure.once('secureConnect', resolve));
    this.socket = secure;
    this.buffer = Buffer.alloc(0);
    this.listen(secure);
  }
  /** After a STARTTLS OK read by hand: a new client on the TLS layer (nothing read before carries over). */
  async handshake(): Promise<Client> {
    const secure = connectTls({ socket: this.socket as Socket, rejectUnauthorized: false });
    await new Promise((resolve) => secure.once('secureConnect', resolve));
    return new Client(secure);
  }
  async login(user: string, password = PASSWORD): Promise<string> {
    const plain = Buffer.from(`\0${user}\0${password}`).toString('base64');
    return this.command(`AUTHENTICATE "PLAIN" "${plain}"`);
  }
  close() {
    this.socket.destroy();
  }
}

const literal = (s: string) => `{${Buffer.byteLength(s)}+}\r\n${s}`;

async function loggedIn(user = 'alice@sieve.example'): Promise<Client> {
  const c = await Client.open(fx.service.managesievePort);
  await c.response();
  await c.startTls();
  await c.response(); // capabilities re-issued after the handshake
  assert.match(await c.login(user), /^OK/);
  return c;
}

test('greeting, no login in the clear, STARTTLS re-issues the capabilities', async () => {
  const c = await Client.open(fx.service.managesievePort);
  const greeting = await c.response();
  assert.match(greeting, /^"IMPLEMENTATION" "Hermod"\r\n/m);
  assert.match(greeting, /^"SIEVE" "[^"]*fileinto[^"]*"\r\n/m);
  assert.match(greeting, /^"STARTTLS"\r\n/m);
  assert.match(greeting, /^"VERSION" "1.0"\r\n/m);
  assert.match(greeting, /^"SASL" ""\r\n/m);
  assert.match(greeting, /^OK /m);
  assert.match(await c.login('alice@sieve.example'), /^NO \(ENCRYPT-NEEDED\)/);
  assert.match(await c.command('LISTSCRIPTS'), /^NO /);
  await c.startTls();
  const again = await c.response();
  assert.match(again, /^"SASL" "PLAIN"\r\n/m);
  assert.doesNotMatch(again, /"STARTTLS"/);
  assert.match(again, /^OK /m);
  assert.match(await c.login('alice@sieve.example', 'wrong password'), /^NO /);
  assert.match(await c.login('alice@sieve.example'), /^OK/);
  assert.match(await c.command('LOGOUT'), /^OK/);
  c.close();
});

test('STARTTLS with a command piggy-backed in the same segment: the plaintext command is dropped', async () => {
  const c = await Client.open(fx.service.managesievePort);
  await c.response();
  c.send('STARTTLS\r\nNOOP "injected"\r\n');
  assert.match(await c.response(), /^OK/);
  const after = await c.handshake();
  const caps = await after.response();
  assert.doesNotMatch(caps, /injected/);
  assert.match(caps, /^OK /m);
  // The next reply is to our own NOOP, not to the injected one.
  assert.match(await after.command('NOOP "mine"'), /^OK \(TAG "mine"\)/);
  after.close();
});

test('PUTSCRIPT, LISTSCRIPTS, SETACTIVE, GETSCRIPT, RENAMESCRIPT, DELETESCRIPT and their refusals', async () => {
  const c = await loggedIn();
  const script =
    'require ["fileinto"];\r\nif header :contains "subject" "report" {\r\n  fileinto "Reports";\r\n}\r\n';
  assert.match(await c.command(`PUTSCRIPT "work" ${literal(script)}`), /^OK/);
  assert.match(await c.command(`PUTSCRIPT "other" ${literal('keep;\r\n')}`), /^OK/);
  // A compile error names line and column and stores nothing.
  const bad = await c.command(
    `PUTSCRIPT "bad" ${literal('keep;\r\nif true {\r\n  nosuchcommand;\r\n}\r\n')}`,
  );
  assert.match(bad, /^NO .*line 3, column \d+/s);
  assert.match(await c.command(`CHECKSCRIPT ${literal('keep;\r\nfrobnicate;\r\n')}`), /^NO .*line 2/s);
  assert.match(await c.command(`CHECKSCRIPT ${literal('keep;\r\n')}`), /^OK/);
  assert.match(await c.command('SETACTIVE "work"'), /^OK/);
  assert.equal(await c.command('LISTSCRIPTS'), '"other"\r\n"work" ACTIVE\r\nOK\r\n');
  assert.equal(await c.command('GETSCRIPT "work"'), `{${Buffer.byteLength(script)}}\r\n${script}\r\nOK\r\n`);
  assert.match(await c.command('GETSCRIPT "nope"'), /^NO \(NONEXISTENT\)/);
  assert.match(await c.command('SETACTIVE "nope"'), /^NO \(NONEXISTENT\)/);
  assert.match(await c.command('DELETESCRIPT "work"'), /^NO \(ACTIVE\)/);
  assert.match(await c.command('RENAMESCRIPT "other" "work"'), /^NO \(ALREADYEXISTS\)/);
  assert.match(await c.command('RENAMESCRIPT "other" "spare"'), /^OK/);
  assert.match(await c.command('HAVESPACE "big" 999999'), /^NO \(QUOTA\/MAXSIZE\)/);
  assert.match(await c.command('HAVESPACE "small" 100'), /^OK/);
  assert.match(await c.command(`PUTSCRIPT "third" ${literal('keep;\r\n')}`), /^OK/);
  assert.match(await c.command('HAVESPACE "fourth" 100'), /^NO \(QUOTA\/MAXSCRIPTS\)/);
  assert.match(await c.command(`PUTSCRIPT "fourth" ${literal('keep;\r\n')}`), /^NO \(QUOTA\/MAXSCRIPTS\)/);
  assert.match(await c.command('DELETESCRIPT "third"'), /^OK/);
  assert.match(await c.command('SETACTIVE ""'), /^OK/);
  assert.match(await c.command('DELETESCRIPT "work"'), /^OK/);
  assert.deepEqual(
    (await listScripts(fx.db.pool, aliceId)).map((s) => [s.name, s.active]),
    [['spare', false]],
  );
  // UNAUTHENTICATE keeps TLS and returns to the state before login.
  assert.match(await c.command('UNAUTHENTICATE'), /^OK/);
  assert.match(await c.command('LISTSCRIPTS'), /^NO /);
  assert.match(await c.login('bob@sieve.example'), /^OK/);
  assert.equal(await c.command('LISTSCRIPTS'), 'OK\r\n');
  c.close();
});

test('an oversized literal is refused before it is read', async () => {
  const c = await loggedIn();
  c.send('PUTSCRIPT "huge" {99999999+}\r\n');
  assert.match(await c.response(), /^BYE /);
  c.close();
});

function runSieveConnect(args: string[], input = '') {
  return sieveConnect({
    port: fx.service.managesievePort,
    user: 'bob@sieve.example',
    password: PASSWORD,
    args,
    input,
  });
}

test('sieve-connect uploads, lists, activates and downloads over STARTTLS', async () => {
  await requireTool('sieve-connect', 'apt-get install sieve-connect (.ci/install-prerequisites.sh)');
  const { writeFile, readFile, mkdtemp } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = await mkdtemp(join(tmpdir(), 'sieve-connect-'));
  const local = join(dir, 'vacation.sieve');
  const source = 'require ["fileinto"];\nif header :is "x-list" "yes" { fileinto "Lists"; }\n';
  await writeFile(local, source);
  const upload = await runSieveConnect(['--localsieve', local, '--remotesieve', 'lists', '--upload']);
  assert.equal(upload.code, 0, upload.out);
  const activate = await runSieveConnect(['--remotesieve', 'lists', '--activate']);
  assert.equal(activate.code, 0, activate.out);
  const list = await runSieveConnect(['--list']);
  assert.equal(list.code, 0, list.out);
  assert.match(list.out, /^"lists" ACTIVE$/m);
  const back = join(dir, 'back.sieve');
  const download = await runSieveConnect(['--remotesieve', 'lists', '--localsieve', back, '--download']);
  assert.equal(download.code, 0, download.out);
  assert.equal(await readFile(back, 'utf8'), source);
});

/** A Python that has sievelib: the one on PATH, or Debian's (python3-sievelib installs there). */
async function pythonWithSievelib(): Promise<string> {
  for (const python of ['python3', '/usr/bin/python3']) {
    const probe = await run(python, ['-c', 'import sievelib.managesieve']).catch(() => undefined);
    if (probe?.code === 0) return python;
  }
  throw new Error(
    'Python sievelib is not installed: apt-get install python3-sievelib (.ci/install-prerequisites.sh)',
  );
}

test("Python's sievelib client: STARTTLS, PLAIN, put, activate, list, get, refused delete", async () => {
  const python = await pythonWithSievelib();
  const script = `
from sievelib.managesieve import Client
c = Client("127.0.0.1", ${fx.service.managesievePort})
assert c.connect("alice@sieve.example", "${PASSWORD}", starttls=True, authmech="PLAIN"), "login"
assert c.putscript("py", 'require ["fileinto"];\\r\\nfileinto "Py";\\r\\n'), "putscript"
assert c.setactive("py"), "setactive"
active, others = c.listscripts()
print("active", active)
print("script", repr(c.getscript("py")))
print("delete", c.deletescript("py"), c.errcode)
print("havespace", c.havespace("big", 10**7), c.errcode)
c.logout()
`;
  const result = await run(python, ['-c', script], { timeoutMs: 30_000 });
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /^active py$/m);
  // sievelib hands the script back with its lines joined by LF.
  assert.match(result.stdout, /^script 'require \["fileinto"\];\\nfileinto "Py";'$/m);
  assert.match(result.stdout, /^delete False b?'?ACTIVE'?$/m);
  assert.match(result.stdout, /^havespace False b?'?QUOTA\/MAXSIZE'?$/m);
});

/** A connection that has done STARTTLS and read the capabilities re-sent after it. */
async function secured(port = fx.service.managesievePort): Promise<Client> {
  const c = await Client.open(port);
  await c.response();
  await c.startTls();
  await c.response();
  return c;
}

const plain64 = (user: string, password = PASSWORD) =>
  Buffer.from(`\0${user}\0${password}`).toString('base64');

test('RFC 5804 2.2: a login and a half-sent line pipelined behind STARTTLS are dropped; STARTTLS is refused twice and after login', async () => {
  const c = await Client.open(fx.service.managesievePort);
  await c.response();
  c.send(`STARTTLS\r\nAUTHENTICATE "PLAIN" "${plain64('alice@sieve.example')}"\r\nNOOP "hal`);
  assert.match(await c.response(), /^OK/);
  const s = await c.handshake();
  const caps = await s.response();
  assert.match(caps, /^"SASL" "PLAIN/m);
  assert.doesNotMatch(caps, /"STARTTLS"|"OWNER"/);
  // Had the plaintext survived, this would read NOOP "halfmine" or a second reply would come first.
  assert.match(await s.command('NOOP "mine"'), /^OK \(TAG "mine"\)/);
  assert.match(await s.command('LISTSCRIPTS'), /^NO /, 'the pipelined AUTHENTICATE did not run');
  assert.match(await s.command('STARTTLS'), /^NO /);
  assert.match(await s.login('alice@sieve.example'), /^OK/);
  assert.match(await s.command('STARTTLS'), /^NO /);
  assert.match(await s.command('CAPABILITY'), /^"OWNER" "alice@sieve.example"\r\n/m);
  s.close();
});

test('RFC 5804 2.1: AUTHENTICATE PLAIN without initial response (quoted and literal answer), "*" cancels, bad base64 and mechanism refused', async () => {
  await fx.createUser('carol@sieve.example');
  const c = await secured();
  c.send('AUTHENTICATE "PLAIN"\r\n');
  assert.match(await c.command('"*"'), /^""\r\nNO /);
  c.send('AUTHENTICATE "PLAIN"\r\n');
  assert.match(await c.command('"!!not base64!!"'), /^""\r\nNO /);
  assert.match(await c.command('AUTHENTICATE "NOSUCHMECH"'), /^NO /);
  c.send('AUTHENTICATE "PLAIN"\r\n');
  assert.match(await c.command(literal(plain64('carol@sieve.example'))), /^""\r\nOK/);
  assert.match(await c.command('LISTSCRIPTS'), /^OK/);
  assert.match(await c.command('AUTHENTICATE "PLAIN"'), /^NO /, 'already authenticated');
  // RFC 5804 1.7, 2.14: the server that has UNAUTHENTICATE says so (clients send it only then).
  assert.match(await c.command('CAPABILITY'), /^"UNAUTHENTICATE"\r\n/m);
  assert.match(await c.command('UNAUTHENTICATE'), /^OK/);
  c.send('AUTHENTICATE "PLAIN"\r\n');
  assert.match(await c.command(`"${plain64('bob@sieve.example')}"`), /^""\r\nOK/);
  assert.match(await c.command('LOGOUT'), /^OK/);
  c.close();
});

test('RFC 5804 4: synchronizing {n} literals too; RENAMESCRIPT keeps the script active; refusals carry NONEXISTENT', async () => {
  await fx.createUser('dave@sieve.example');
  const c = await secured();
  assert.match(await c.login('dave@sieve.example'), /^OK/);
  const body = 'keep;\r\n';
  assert.match(await c.command(`PUTSCRIPT {4}\r\nsync {${Buffer.byteLength(body)}}\r\n${body}`), /^OK/);
  assert.match(await c.command('SETACTIVE "sync"'), /^OK/);
  assert.match(await c.command('RENAMESCRIPT "sync" "renamed"'), /^OK/);
  assert.match(await c.command('LISTSCRIPTS'), /^"renamed" ACTIVE\r\nOK/);
  assert.match(await c.command('RENAMESCRIPT "gone" "other"'), /^NO \(NONEXISTENT\)/);
  assert.match(await c.command('DELETESCRIPT "gone"'), /^NO \(NONEXISTENT\)/);
  assert.match(await c.command('DELETESCRIPT "renamed"'), /^NO \(ACTIVE\)/);
  assert.match(await c.command('SETACTIVE ""'), /^OK/);
  assert.match(await c.command('LISTSCRIPTS'), /^"renamed"\r\nOK/);
  assert.match(await c.command('DELETESCRIPT "renamed"'), /^OK/);
  assert.match(await c.command('FROBNICATE'), /^NO /);
  assert.match(await c.command('NOOP'), /^OK/);
  assert.match(await c.command('LOGOUT'), /^OK/);
  c.close();
});

test('a replica shutting down says BYE (TRYLATER) to its ManageSieve sessions', async () => {
  const replica = await fx.startReplica();
  const c = await secured(replica.managesievePort);
  assert.match(await c.login('bob@sieve.example'), /^OK/);
  const bye = c.response();
  await replica.process.stop();
  assert.match(await bye, /^BYE \(TRYLATER\)/);
  c.close();
});

test('RFC 5804 2.5, 2.6: a script over the size limit (inside the literal allowance) gets NO (QUOTA/MAXSIZE); bad names and arguments get NO; the session goes on', async () => {
  await fx.createUser('erin@sieve.example');
  const c = await secured();
  assert.match(await c.command(`CHECKSCRIPT ${literal('keep;\r\n')}`), /^NO /, 'not before login');
  assert.match(await c.login('erin@sieve.example'), /^OK/);
  const big = `# ${'x'.repeat(2500)}\r\nkeep;\r\n`;
  assert.match(await c.command(`PUTSCRIPT "big" ${literal(big)}`), /^NO \(QUOTA\/MAXSIZE\)/);
  assert.match(await c.command(`PUTSCRIPT "" ${literal('keep;\r\n')}`), /^NO /);
  assert.match(await c.command('HAVESPACE "x" "ten"'), /^NO /);
  assert.match(await c.command('GETSCRIPT'), /^NO /);
  assert.equal(await c.command('LISTSCRIPTS'), 'OK\r\n');
  c.close();
});
