// The first mail flow end to end, with real clients only: swaks submits over STARTTLS with AUTH,
// the message goes msa -> routing -> mda, and Python's imaplib (STARTTLS and implicit TLS) and
// imapflow read back exactly the bytes that were stored, ending in exactly the body that was sent.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AccountStore } from '@hermod/accounts';
import { type HermodPlatform, requireTool, run, startHermod } from '@hermod/test/harness';
import { ImapFlow } from 'imapflow';

let hermod: HermodPlatform;
const body = 'First line\r\n.Leading dot\r\nCaf\u00e9 \u2615\r\n\r\nLast line\r\n';
const message = `From: Alice <alice@flow.test>\r\nTo: bob@flow.test\r\nSubject: end to end\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${body}`;

before(async () => {
  await requireTool('swaks', 'apt-get install swaks');
  await requireTool('python3', 'apt-get install python3');
  hermod = await startHermod({ services: ['routing', 'mda', 'imap', 'msa'] });
  await hermod.addDomain('flow.test');
  const accounts = new AccountStore(hermod.db.pool);
  await accounts.create({ address: 'alice@flow.test', password: 'alice-secret-1' });
  await accounts.create({ address: 'bob@flow.test', password: 'bob-secret-12' });
  const sent = await run(
    'swaks',
    [
      '--server',
      '127.0.0.1',
      '--port',
      String(hermod.ports.submission),
      '-tls',
      '--auth',
      'PLAIN',
      '--auth-user',
      'alice@flow.test',
      '--auth-password',
      'alice-secret-1',
      '--from',
      'alice@flow.test',
      '--to',
      'bob@flow.test',
      '--data',
      '-',
    ],
    // swaks ends the data with its own CRLF before the final dot.
    { input: message.slice(0, -2), timeoutMs: 30_000 },
  );
  assert.equal(sent.code, 0, sent.stdout + sent.stderr);
});

after(async () => {
  await hermod?.stop();
});

const python = (mode: 'starttls' | 'ssl', port: number) => `
import imaplib, ssl, sys, time, base64
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
if "${mode}" == "ssl":
    m = imaplib.IMAP4_SSL("127.0.0.1", ${port}, ssl_context=ctx)
else:
    m = imaplib.IMAP4("127.0.0.1", ${port}); m.starttls(ssl_context=ctx)
m.login("bob@flow.test", "bob-secret-12")
for _ in range(100):
    typ, data = m.select("INBOX", readonly=True)
    if int(data[0]) > 0: break
    m.close(); time.sleep(0.1)
typ, data = m.uid("FETCH", "1:*", "(UID RFC822.SIZE BODY.PEEK[])")
assert typ == "OK", (typ, data)
raw = data[0][1]
size = int(data[0][0].decode().split("RFC822.SIZE ")[1].split()[0].rstrip(")"))
print(size)
print(base64.b64encode(raw).decode())
m.logout()
`;

async function fetchWithImaplib(
  mode: 'starttls' | 'ssl',
  port: number,
): Promise<{ size: number; raw: Buffer }> {
  const result = await run('python3', ['-c', python(mode, port)], { timeoutMs: 60_000 });
  assert.equal(result.code, 0, result.stderr);
  const [size, encoded] = result.stdout.trim().split('\n');
  return { size: Number(size), raw: Buffer.from(encoded!, 'base64') };
}

test('Python imaplib over STARTTLS reads back the exact body bytes', async () => {
  const { size, raw } = await fetchWithImaplib('starttls', hermod.ports.imap);
  assert.equal(raw.length, size, 'RFC822.SIZE matches the bytes served');
  assert.ok(
    raw.toString('utf8').endsWith(`\r\n\r\n${body}`),
    `the body arrives byte for byte: ${JSON.stringify(raw.toString('utf8'))}`,
  );
  assert.match(raw.toString('utf8'), /^Received: from /);
  assert.match(raw.toString('utf8'), /\r\nSubject: end to end\r\n/);
});

test('Python imaplib over implicit TLS serves the same bytes as STARTTLS', async () => {
  const a = await fetchWithImaplib('starttls', hermod.ports.imap);
  const b = await fetchWithImaplib('ssl', hermod.ports.imaps);
  assert.ok(a.raw.equals(b.raw));
});

test('imapflow sees the message with its envelope and flags', async () => {
  const client = new ImapFlow({
    host: '127.0.0.1',
    port: hermod.ports.imaps,
    secure: true,
    tls: { rejectUnauthorized: false },
    auth: { user: 'bob@flow.test', pass: 'bob-secret-12' },
    logger: false,
  });
  await client.connect();
  try {
    const lock = await client.getMailboxLock('INBOX');
    try {
      const msg = await client.fetchOne('*', { envelope: true, flags: true, source: true, uid: true });
      assert.ok(msg);
      assert.equal(msg.envelope?.subject, 'end to end');
      assert.equal(msg.envelope?.from?.[0]?.address, 'alice@flow.test');
      assert.ok(msg.source?.toString('utf8').endsWith(body));
    } finally {
      lock.release();
    }
  } finally {
    await client.logout();
  }
});

test('a wrong IMAP password is refused', async () => {
  const result = await run(
    'python3',
    [
      '-c',
      `
import imaplib, ssl
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL("127.0.0.1", ${hermod.ports.imaps}, ssl_context=ctx)
try:
    m.login("bob@flow.test", "wrong")
    print("LOGGED IN")
except imaplib.IMAP4.error as e:
    print("REFUSED", e)
`,
    ],
    { timeoutMs: 30_000 },
  );
  assert.match(result.stdout, /^REFUSED .*AUTHENTICATIONFAILED/);
});
