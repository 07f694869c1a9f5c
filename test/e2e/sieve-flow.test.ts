// Sieve end to end with real clients and peers: sieve-connect uploads and activates the user's
// script over ManageSieve (STARTTLS); swaks sends to the MX; the script files the message into a
// folder it creates and flags it, and Python's imaplib sees it there; the vacation reply leaves
// through outbound-mta to a Postfix smtp-sink standing in for the sender's domain: once per sender
// within :days, with RFC 3834 headers, and never for a mailing-list message (shown by a later
// sender's reply arriving while the list's never does); a redirect leaves with an SRS sender.
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { AccountStore } from '@hermod/accounts';
import { SieveScripts } from '@hermod/sieve-store';
import {
  DnsTestServer,
  eventually,
  type HermodPlatform,
  requireTool,
  run,
  type SmtpSink,
  sieveConnect,
  startHermod,
  startSmtpSink,
  testWorkdir,
} from '@hermod/test/harness';

let hermod: HermodPlatform;
let dns: DnsTestServer;
let sink: SmtpSink;
const PASSWORD = 'carol-secret-12';

const script = `require ["fileinto", "imap4flags", "mailbox", "vacation"];
if header :contains "subject" "invoice" {
  fileinto :create :flags "\\\\Flagged" "Invoices";
}
vacation :days 1 :subject "Away this week" "I am away until Monday.";
`;

before(async () => {
  await requireTool('swaks', 'apt-get install swaks');
  await requireTool('python3', 'apt-get install python3');
  await requireTool('sieve-connect', 'apt-get install sieve-connect');
  dns = new DnsTestServer();
  await dns.start(0);
  dns.add(
    { type: 'MX', name: 'remote.test', exchange: 'mx.remote.test', preference: 10 },
    { type: 'A', name: 'mx.remote.test', address: '127.0.0.1' },
  );
  const { freePort } = await import('@hermod/local-infra');
  const sinkPort = await freePort();
  sink = await startSmtpSink({
    port: sinkPort,
    dumpDirectory: join(await testWorkdir('sieve-sink'), 'dumps'),
  });
  hermod = await startHermod({
    services: ['routing', 'mda', 'outbound-mta', 'imap', 'mx'],
    env: {
      mx: { MX_DNS_SERVERS: dns.address },
      mda: { MDA_SRS_SECRET: 'e2e-srs-secret' },
      'outbound-mta': {
        OUTBOUND_DNS_SERVERS: dns.address,
        OUTBOUND_SMTP_PORT: String(sinkPort),
        OUTBOUND_RETRY_SCHEDULE: '2s',
        OUTBOUND_POLL_INTERVAL: '250ms',
      },
    },
  });
  await hermod.addDomain('sieve.test');
  const accounts = new AccountStore(hermod.db.pool);
  await accounts.create({ address: 'carol@sieve.test', password: PASSWORD });
  // Dan forwards everything elsewhere (set through the store, as the CLI does).
  const dan = {
    id: (await accounts.create({ address: 'dan@sieve.test', password: PASSWORD })).id,
    domain: 'sieve.test',
  };
  const scripts = new SieveScripts(hermod.db.pool, { maxScriptBytes: 65_536, maxScripts: 4, maxNesting: 32 });
  await scripts.put(dan, 'forward', 'redirect "erin@remote.test";');
  await scripts.activate(dan, 'forward');

  const dir = await mkdtemp(join(tmpdir(), 'sieve-e2e-'));
  await writeFile(join(dir, 'main.sieve'), script);
  for (const action of [
    ['--localsieve', join(dir, 'main.sieve'), '--remotesieve', 'main', '--upload'],
    ['--remotesieve', 'main', '--activate'],
  ]) {
    const result = await runSieveConnect(action);
    assert.equal(result.code, 0, result.out);
  }
});

after(async () => {
  await hermod?.stop();
  await sink?.stop();
  await dns?.stop();
});

function runSieveConnect(args: string[]) {
  return sieveConnect({ port: hermod.ports.managesieve, user: 'carol@sieve.test', password: PASSWORD, args });
}

async function swaks(from: string, headers: string, to = 'carol@sieve.test') {
  const message = `From: <${from}>\r\nTo: ${to}\r\n${headers}\r\n\r\nHello.\r\n`;
  const sent = await run(
    'swaks',
    ['--server', '127.0.0.1', '--port', String(hermod.ports.mx), '--from', from, '--to', to, '--data', '-'],
    { input: message, timeoutMs: 30_000 },
  );
  assert.equal(sent.code, 0, sent.stdout + sent.stderr);
}

/** The replies the sink received, as text, by envelope recipient. */
async function replies(): Promise<string[]> {
  return (await sink.dumps()).map((d) => d.toString('utf8'));
}

test('the script files and flags the message; imaplib sees it in the folder', async () => {
  await swaks('alice@remote.test', 'Subject: invoice 42\r\nMessage-ID: <inv42@remote.test>');
  const python = `
import imaplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4("127.0.0.1", ${hermod.ports.imap}); m.starttls(ssl_context=ctx)
m.login("carol@sieve.test", "${PASSWORD}")
typ, data = m.select("Invoices")
if typ != "OK" or data[0] != b"1": sys.exit("Invoices: %r %r" % (typ, data))
typ, data = m.fetch("1", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
print(data[0][0].decode()); print(data[0][1].decode())
typ, data = m.select("INBOX")
print("INBOX", data[0].decode())
m.logout()
`;
  const result = await eventually(
    'the filed message in Invoices',
    async () => {
      const r = await run('python3', ['-c', python], { timeoutMs: 30_000 });
      return r.code === 0 ? r : undefined;
    },
    60_000,
  );
  assert.match(result.stdout, /FLAGS \([^)]*\\Flagged/);
  assert.match(result.stdout, /Subject: invoice 42/);
  // fileinto without :copy cancelled the implicit keep.
  assert.match(result.stdout, /^INBOX 0$/m);
});

test('one vacation reply per sender within :days, none for a list message', async () => {
  await swaks('bob@remote.test', 'Subject: lunch?\r\nMessage-ID: <lunch1@remote.test>');
  await swaks('bob@remote.test', 'Subject: lunch again?\r\nMessage-ID: <lunch2@remote.test>');
  await swaks(
    'news@remote.test',
    'Subject: weekly digest\r\nList-Id: <digest.remote.test>\r\nMessage-ID: <d1@remote.test>',
  );
  // A later sender: once its reply is there, every earlier message has been filtered.
  await swaks('dave@remote.test', 'Subject: marker\r\nMessage-ID: <marker@remote.test>');
  const all = await eventually(
    'the vacation reply to the marker message',
    async () => {
      const r = await replies();
      return r.some((t) => /In-Reply-To: <marker@remote\.test>/.test(t)) ? r : undefined;
    },
    90_000,
  );
  const vacation = all.filter((t) => /Subject: Away this week/.test(t));
  const to = (t: string) => /^To: (.*)$/m.exec(t)?.[1]?.trim();
  assert.deepEqual(vacation.map(to).sort(), ['alice@remote.test', 'bob@remote.test', 'dave@remote.test']);
  const bob = vacation.find((t) => to(t) === 'bob@remote.test')!;
  // RFC 5230 5 / RFC 3834 3.3: sent with the null envelope sender to the original's return path
  assert.match(bob, /^X-Mail-Args: <>$/m);
  assert.match(bob, /^X-Rcpt-Args: <bob@remote\.test>$/m);
  assert.match(bob, /^From: carol@sieve\.test\r?$/m);
  assert.match(bob, /^In-Reply-To: <lunch1@remote\.test>\r?$/m);
  assert.match(bob, /^Auto-Submitted: auto-replied/m);
  assert.match(bob, /I am away until Monday\./);
  assert.ok(!all.some((t) => /digest/.test(t) || to(t) === 'news@remote.test'));
});

test('a redirect leaves through outbound-mta with an SRS sender', async () => {
  await swaks('frank@remote.test', 'Subject: for dan\r\nMessage-ID: <fwd1@remote.test>', 'dan@sieve.test');
  const forwarded = await eventually(
    'the redirected copy at the sink',
    async () => (await replies()).find((t) => /Message-ID: <fwd1@remote\.test>/.test(t)),
    90_000,
  );
  assert.match(forwarded, /^X-Mail-Args: <SRS0=[^=]+=[A-Z2-7]{2}=remote\.test=frank@sieve\.test>$/m);
  assert.match(forwarded, /^X-Rcpt-Args: <erin@remote\.test>$/m);
  assert.match(forwarded, /^Delivered-To: dan@sieve\.test\r?$/m);
});
