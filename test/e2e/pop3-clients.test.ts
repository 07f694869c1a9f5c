// Real POP3 clients against the imap service, as users run them: fetchmail, mpop and getmail6 (Debian
// packages), each fetching with keep, then again "leaving mail on the server" (UIDL) where only the
// new message may come, then fetching with delete; over POP3S and over STLS.
import assert from 'node:assert/strict';
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { requireTool, run, testWorkdir } from '../harness/index.js';
import { type ImapFixture, PASSWORD, startImapFixture } from '../integration/imap/imap-fixture.js';
import { RawPop3 } from '../integration/imap/pop3-client.js';

/** A message with a line starting with a dot and a bare-LF-free body, distinct per n. */
const message = (n: number) =>
  `From: peer${n}@example.net\r\nTo: pat@example.com\r\nSubject: pop client ${n}\r\nMessage-ID: <pc${n}@example.net>\r\n\r\nfirst line of ${n}\r\n.dot line of ${n}\r\nlast line\r\n`;

/** The Subject lines of every file below dir (one message per file), sorted. */
async function subjects(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const text = await readFile(join(entry.parentPath, entry.name), 'latin1');
    const subject = /^Subject: (.*?)\r?$/m.exec(text)?.[1];
    if (subject === undefined) continue;
    // The dot line arrives un-stuffed (RFC 1939 3).
    const n = subject.split(' ').pop();
    assert.match(text, new RegExp(`^\\.dot line of ${n}\\r?$`, 'm'), text);
    found.push(subject);
  }
  return found.sort();
}

describe('pop3 with real clients: fetchmail, mpop, getmail6, Python poplib', () => {
  let fx: ImapFixture;
  let accounts = 0;
  before(async () => {
    await requireTool('fetchmail', 'apt-get install fetchmail');
    await requireTool('mpop', 'apt-get install mpop');
    await requireTool('getmail', 'apt-get install getmail6');
    await requireTool('python3', 'apt-get install python3');
    fx = await startImapFixture();
  });
  after(async () => {
    await fx?.close();
  });

  /** A fresh account holding messages 1 and 2. */
  const account = async () => {
    const address = `pat${++accounts}@example.com`;
    const id = await fx.createUser(address);
    for (const n of [1, 2]) await fx.deliver(id, message(n));
    return { address, id };
  };

  /** How many messages the server still holds for address (over raw POP3). */
  const onServer = async (address: string) => {
    const pop = await RawPop3.connect(fx.service.pop3sPort);
    assert.match(await pop.cmd(`USER ${address}`), /^\+OK/);
    assert.match(await pop.cmd(`PASS ${PASSWORD}`), /^\+OK/);
    const stat = await pop.cmd('STAT');
    assert.match(await pop.cmd('QUIT'), /^\+OK/);
    pop.close();
    return Number(/^\+OK (\d+) /.exec(stat)?.[1]);
  };

  it('fetchmail: POP3S keep, a second run with uidl fetches only the new message, then STLS fetching all with delete', async () => {
    const { address, id } = await account();
    const dir = await testWorkdir('fetchmail');
    const out = join(dir, 'out');
    await mkdir(out);
    const fetch = async (name: string, lines: string[]) => {
      const rc = join(dir, `${name}.rc`);
      await writeFile(
        rc,
        [
          'set no bouncemail',
          // The test certificate names localhost: fetchmail checks it (sslcertck is its default).
          `poll localhost service ${lines.includes('ssl') ? fx.service.pop3sPort : fx.service.pop3Port} protocol pop3 uidl`,
          `  user "${address}" password "${PASSWORD}"`,
          `  sslcertfile "${join(fx.certDir, 'tls.crt')}"`,
          ...lines.map((l) => `  ${l}`),
          `  mda "/bin/sh -c 'cat > ${out}/${name}.$$'"`,
          '',
        ].join('\n'),
      );
      await chmod(rc, 0o600);
      const r = await run(
        'fetchmail',
        ['-f', rc, '--idfile', join(dir, 'fetchids'), '--nosyslog', '--nodetach', '-v'],
        { env: { ...process.env, FETCHMAILHOME: dir, HOME: dir }, timeoutMs: 60_000 },
      );
      // 0: mail fetched, 1: no mail.
      assert.ok(r.code === 0 || r.code === 1, `fetchmail exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
      assert.doesNotMatch(r.stdout, /^fetchmail: POP3< -ERR/m, r.stdout);
      assert.doesNotMatch(r.stderr, /error|mismatch|insecure/i, r.stderr);
      return r;
    };
    await fetch('first', ['ssl', 'keep']);
    assert.deepEqual(await subjects(out), ['pop client 1', 'pop client 2']);
    await fx.deliver(id, message(3));
    await fetch('second', ['ssl', 'keep']);
    assert.deepEqual(await subjects(out), ['pop client 1', 'pop client 2', 'pop client 3']);
    assert.equal(await onServer(address), 3, 'keep left every message on the server');
    // STLS (sslproto without ssl), fetchall with delete: every message again, then none on the server.
    const third = await fetch('third', ['sslproto "tls1.2+"', 'fetchall', 'no keep']);
    assert.match(third.stdout, /^fetchmail: POP3> STLS$/m, 'STLS was used');
    assert.equal((await subjects(out)).length, 6);
    assert.equal(await onServer(address), 0);
  });

  it('mpop: POP3S keep with a UIDL file, a second run fetches only the new message (PIPELINING), then STLS with delete', async () => {
    const { address, id } = await account();
    const dir = await testWorkdir('mpop');
    const mbox = join(dir, 'mbox');
    await writeFile(mbox, '');
    const mpop = async (tls: 'pop3s' | 'stls', keep: boolean) => {
      const r = await run(
        'mpop',
        [
          '--host=127.0.0.1',
          `--port=${tls === 'pop3s' ? fx.service.pop3sPort : fx.service.pop3Port}`,
          '--tls=on',
          `--tls-starttls=${tls === 'stls' ? 'on' : 'off'}`,
          '--tls-certcheck=off',
          '--auth=user',
          `--user=${address}`,
          `--passwordeval=printf '%s' '${PASSWORD}'`,
          `--keep=${keep ? 'on' : 'off'}`,
          `--uidls-file=${join(dir, 'uidls')}`,
          `--delivery=mbox,${mbox}`,
          '--pipelining=on',
          '-d',
        ],
        { env: { ...process.env, HOME: dir }, timeoutMs: 60_000 },
      );
      assert.equal(r.code, 0, `mpop exited ${r.code}:\n${r.stdout.slice(-4000)}\n${r.stderr}`);
      return r;
    };
    const count = async () => ((await readFile(mbox, 'latin1')).match(/^Subject: pop client/gm) ?? []).length;
    await mpop('pop3s', true);
    assert.equal(await count(), 2);
    await fx.deliver(id, message(3));
    await mpop('pop3s', true);
    assert.equal(await count(), 3, 'only the new message');
    const text = await readFile(mbox, 'latin1');
    for (const n of [1, 2, 3]) assert.match(text, new RegExp(`^\\.dot line of ${n}$`, 'm'));
    assert.equal(await onServer(address), 3);
    const stls = await mpop('stls', false);
    assert.match(stls.stdout, /^--> STLS\r?$/m, 'STLS was used');
    assert.equal(await count(), 3, 'nothing new to fetch');
    assert.equal(await onServer(address), 0, 'keep off deleted what was fetched');
  });

  it('Python poplib: leave on server by UIDL over POP3S (a second run gets only the new message), then STLS and delete; exact bytes', async () => {
    const { address, id } = await account();
    const dir = await testWorkdir('poplib');
    const script = `
import json, os, poplib, ssl, sys
ctx = ssl.create_default_context(cafile=os.environ['CA']); ctx.check_hostname = False
seen_file = os.path.join(os.environ['DIR'], 'seen.json')
seen = set(json.load(open(seen_file))) if os.path.exists(seen_file) else set()
if sys.argv[1] == 'pop3s':
    p = poplib.POP3_SSL('127.0.0.1', int(os.environ['POP3S']), context=ctx)
else:
    p = poplib.POP3('127.0.0.1', int(os.environ['POP3']))
    p.stls(context=ctx)
p.user(os.environ['USER_NAME']); p.pass_(os.environ['PW'])
count, size = p.stat()
sizes = dict(l.split() for l in p.list()[1])
got = []
for line in p.uidl()[1]:
    n, uid = line.decode().split()
    if uid in seen and sys.argv[2] == 'keep':
        continue
    resp, lines, octets = p.retr(int(n))
    data = b'\\r\\n'.join(lines) + b'\\r\\n'
    assert len(data) == int(sizes[n.encode()]), (len(data), sizes[n.encode()])
    got.append(data.decode())
    seen.add(uid)
    if sys.argv[2] == 'delete':
        p.dele(int(n))
p.quit()
json.dump(sorted(seen), open(seen_file, 'w'))
print(json.dumps(got))
`;
    const poplib = async (tls: 'pop3s' | 'stls', mode: 'keep' | 'delete') => {
      const r = await run('python3', ['-c', script, tls, mode], {
        env: {
          ...process.env,
          CA: join(fx.certDir, 'tls.crt'),
          DIR: dir,
          POP3S: String(fx.service.pop3sPort),
          POP3: String(fx.service.pop3Port),
          USER_NAME: address,
          PW: PASSWORD,
        },
        timeoutMs: 60_000,
      });
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as string[];
    };
    assert.deepEqual(await poplib('pop3s', 'keep'), [message(1), message(2)], 'exact bytes, dots un-stuffed');
    await fx.deliver(id, message(3));
    assert.deepEqual(await poplib('pop3s', 'keep'), [message(3)], 'only the new message');
    assert.equal(await onServer(address), 3);
    assert.deepEqual(await poplib('stls', 'delete'), [message(1), message(2), message(3)]);
    assert.equal(await onServer(address), 0);
  });

  it('getmail6: POP3S leaving mail on the server (read_all false) fetches only new mail, then deletes', async () => {
    const { address, id } = await account();
    const dir = await testWorkdir('getmail');
    const maildir = join(dir, 'Maildir');
    for (const sub of ['cur', 'new', 'tmp']) await mkdir(join(maildir, sub), { recursive: true });
    const getmail = async (remove: boolean) => {
      const rc = join(dir, 'getmailrc');
      await writeFile(
        rc,
        [
          '[retriever]',
          'type = SimplePOP3SSLRetriever',
          'server = 127.0.0.1',
          `port = ${fx.service.pop3sPort}`,
          `username = ${address}`,
          `password = ${PASSWORD}`,
          '',
          // getmail refuses Maildir delivery as root (CI runs as root): its external MDA writes the file.
          '[destination]',
          'type = MDA_external',
          'path = /bin/sh',
          `arguments = ("-c", "cat > ${maildir}/new/getmail.$$")`,
          'allow_root_commands = true',
          '',
          '[options]',
          'read_all = false',
          `delete = ${remove ? 'true' : 'false'}`,
          'verbose = 2',
          '',
        ].join('\n'),
      );
      const r = await run('getmail', [`--rcfile=${rc}`, `--getmaildir=${dir}`], {
        env: { ...process.env, HOME: dir },
        timeoutMs: 60_000,
      });
      assert.equal(r.code, 0, `getmail exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
      return r;
    };
    await getmail(false);
    assert.deepEqual(await subjects(maildir), ['pop client 1', 'pop client 2']);
    await fx.deliver(id, message(3));
    await getmail(false);
    assert.deepEqual(await subjects(maildir), ['pop client 1', 'pop client 2', 'pop client 3']);
    assert.equal(await onServer(address), 3);
    await getmail(true);
    assert.equal((await subjects(maildir)).length, 3, 'nothing fetched twice');
    assert.equal(await onServer(address), 0, 'delete removed what was fetched before');
  });
});
