// The policy rules in the mx accept path, against real routing, mda, imap, nats-server and
// PostgreSQL: a default rule refuses an executable sent with swaks (and one inside a 7z archive or
// an Outlook winmail.dat, a part whose filename* names an .exe, a password-protected .docx),
// a domain rule (live config) refuses by body text, and global rules (POLICY_RULES_FILE) add a
// header, file into a folder (read back over IMAP), strip an archive leaving a notice, and send a
// compliance copy (bcc).
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AccountStore } from '@hermod/accounts';
import { repositoryRoot } from '@hermod/local-infra';
import {
  DnsTestServer,
  eventually,
  type HermodPlatform,
  requireTool,
  run,
  startHermod,
  testWorkdir,
} from '@hermod/test/harness';
import { ImapFlow } from 'imapflow';
import { makeCfb } from '../../../services/lib/policy-rules/test/fixtures.js';
import { makeTnef } from '../../../services/lib/policy-rules/test/tnef-fixtures.js';
import { waitForMessages } from './mx-fixture.js';
import { expectCode, openTransaction } from './smtp-wire.js';

let hermod: HermodPlatform;
let dns: DnsTestServer;
let workdir: string;

const GLOBAL_RULES = `
rules:
  - name: tag-partners
    all:
      - envelopeFrom: { domain: [partner.example] }
    action:
      addHeader:
        - { name: X-Partner, value: "yes" }
  - name: newsletters
    all:
      - headerFrom: { glob: ["*@news.*"] }
    action: { folder: Newsletters }
  - name: no-archives
    all:
      - attachment: { kind: [archive] }
    action:
      stripAttachments: { notice: "Removed {name} (archives are not delivered)." }
  - name: compliance-copy
    all:
      - subject: { regex: ["^\\\\[(confidential|legal)\\\\]"] }
    action:
      bcc: [compliance@example.test]
  - name: hold-purchase-orders
    all:
      - subject: { contains: [purchase order] }
    action: { quarantine: purchase orders are checked by hand }
`;

const paymentFraud = {
  name: 'payment-fraud',
  all: [{ body: { regex: ['wire (the )?transfer (now|today)'] } }],
  none: [{ sourceNetwork: ['10.0.0.0/8'] }],
  action: { reject: 'Suspected payment fraud' },
};

async function hermodCli(args: string[]) {
  const result = await run(process.execPath, ['services/cli/bin/hermod.js', ...args], {
    cwd: repositoryRoot,
    env: {
      ...process.env,
      HERMOD_DATA_DIR: workdir,
      HERMOD_PORT_OFFSET: '',
      NATS_URL: hermod.nats.url,
      DATABASE_URL: hermod.db.url,
    },
    timeoutMs: 60_000,
  });
  assert.equal(result.code, 0, `hermod ${args.join(' ')}: ${result.stdout}${result.stderr}`);
  return result.stdout;
}

async function send(from: string, to: string[], message: string): Promise<string> {
  const wire = await openTransaction(hermod.ports.mx, from, to);
  try {
    expectCode(await wire.command('DATA'), 354);
    wire.write(`${message.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..')}\r\n.\r\n`);
    return await wire.reply(30_000);
  } finally {
    wire.close();
  }
}

const headers = (subject: string, from = 'sender@remote.example') =>
  `From: ${from}\nTo: alice@example.test\nSubject: ${subject}\nMessage-ID: <${subject.replace(/\W/g, '')}@remote.example>\nDate: Mon, 23 Nov 2026 01:00:00 +0000\nMIME-Version: 1.0\n`;

/** A zip with one stored member (enough for the content sniffer to see an archive). */
function smallZip(): Buffer {
  const name = Buffer.from('notes.txt');
  const data = Buffer.from('hello');
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt32LE(data.length, 18);
  local.writeUInt32LE(data.length, 22);
  local.writeUInt16LE(name.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt32LE(data.length, 20);
  central.writeUInt32LE(data.length, 24);
  central.writeUInt16LE(name.length, 28);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(46 + name.length, 12);
  end.writeUInt32LE(30 + name.length + data.length, 16);
  return Buffer.concat([local, name, data, central, name, end]);
}

before(async () => {
  await requireTool('swaks', 'apt-get install swaks');
  dns = new DnsTestServer();
  await dns.start();
  workdir = await testWorkdir('policy-rules');
  await writeFile(join(workdir, 'rules.yaml'), GLOBAL_RULES);
  hermod = await startHermod({
    services: ['routing', 'mda', 'imap', 'mx'],
    env: { mx: { MX_DNS_SERVERS: dns.address, POLICY_RULES_FILE: join(workdir, 'rules.yaml') } },
  });
  await hermod.addDomain('example.test', { policyRules: [paymentFraud] });
  const accounts = new AccountStore(hermod.db.pool);
  await accounts.create({ address: 'alice@example.test', password: 'alice-password-1' });
  await accounts.create({ address: 'compliance@example.test', password: 'compliance-password-1' });
});

after(async () => {
  await hermod?.stop();
  await dns?.stop();
});

describe('policy rules at the mx', () => {
  test('a default rule refuses an executable attachment sent with swaks (550 5.7.1, rule named)', async () => {
    const exe = join(workdir, 'invoice.pdf');
    await writeFile(exe, Buffer.concat([Buffer.from('MZ\x90\x00\x03\x00', 'latin1'), Buffer.alloc(200)]));
    const result = await run('swaks', [
      ...['--server', '127.0.0.1', '--port', String(hermod.ports.mx)],
      ...['--from', 'sender@remote.example', '--to', 'alice@example.test'],
      ...['--header', 'Subject: your invoice', '--attach-type', 'application/pdf', '--attach', `@${exe}`],
    ]);
    assert.notEqual(result.code, 0);
    assert.match(
      result.stdout,
      /<\*\* 550 5\.7\.1 Executable and script attachments are not accepted here \(policy rule default-executables\)/,
    );
  });

  test('a default rule refuses an .exe inside a 7z archive (listed from its LZMA-coded header)', async () => {
    await requireTool('7zz', 'apt-get install 7zip');
    await writeFile(
      join(workdir, 'setup.exe'),
      Buffer.concat([Buffer.from('MZ\x90\x00', 'latin1'), Buffer.alloc(300)]),
    );
    await writeFile(join(workdir, 'readme.txt'), 'install me\n');
    const archive = join(workdir, 'tools.7z');
    const made = await run('7zz', ['a', '-bd', '-y', archive, 'setup.exe', 'readme.txt'], { cwd: workdir });
    assert.equal(made.code, 0, made.stdout + made.stderr);
    const result = await run('swaks', [
      ...['--server', '127.0.0.1', '--port', String(hermod.ports.mx)],
      ...['--from', 'sender@remote.example', '--to', 'alice@example.test'],
      ...[
        '--header',
        'Subject: tools',
        '--attach-type',
        'application/octet-stream',
        '--attach',
        `@${archive}`,
      ],
    ]);
    assert.notEqual(result.code, 0);
    assert.match(
      result.stdout,
      /<\*\* 550 5\.7\.1 Executable and script attachments are not accepted here \(policy rule default-executables\)/,
    );
  });

  test('a default rule refuses an executable inside a winmail.dat (TNEF, named by its long file name)', async () => {
    const tnef = join(workdir, 'winmail.dat');
    const clean = join(workdir, 'clean-winmail.dat');
    const text = Buffer.from('minutes of the meeting\n');
    await writeFile(tnef, makeTnef([{ title: 'MINUTES.TXT', data: text, longName: 'minutes.js' }]));
    await writeFile(clean, makeTnef([{ title: 'MINUTES.TXT', data: text, longName: 'minutes.txt' }]));
    const sendTnef = (file: string) =>
      run('swaks', [
        ...['--server', '127.0.0.1', '--port', String(hermod.ports.mx)],
        ...['--from', 'sender@remote.example', '--to', 'alice@example.test'],
        ...['--header', 'Subject: minutes', '--attach-type', 'application/ms-tnef', '--attach', `@${file}`],
      ]);
    const refused = await sendTnef(tnef);
    assert.notEqual(refused.code, 0);
    assert.match(
      refused.stdout,
      /<\*\* 550 5\.7\.1 Executable and script attachments are not accepted here \(policy rule default-executables\)/,
    );
    const accepted = await sendTnef(clean);
    assert.equal(accepted.code, 0, accepted.stdout);
  });

  test('a part named a.pdf by filename and a.exe by filename* is refused; a password-protected .docx too', async () => {
    const withPart = (subject: string, disposition: string, data: Buffer) =>
      `${headers(subject)}Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/plain\n\nsee attached\n` +
      `--b\nContent-Type: application/octet-stream\nContent-Disposition: ${disposition}\n` +
      `Content-Transfer-Encoding: base64\n\n${data.toString('base64')}\n--b--\n`;
    const pdf = Buffer.from('%PDF-1.7\n1 0 obj\n<<>>\nendobj\n');
    const named = await send(
      'sender@remote.example',
      ['alice@example.test'],
      withPart('two names', `attachment; filename="a.pdf"; filename*=UTF-8''a.exe`, pdf),
    );
    assert.match(named, /^550 5\.7\.1 .*\(policy rule default-executables\)/);
    const encryptedDocx = makeCfb([
      { name: 'EncryptionInfo', type: 'stream', data: Buffer.from([4, 0, 4, 0, 0x40, 0, 0, 0]) },
      { name: 'EncryptedPackage', type: 'stream', data: Buffer.alloc(64, 0x5a) },
    ]);
    const locked = await send(
      'sender@remote.example',
      ['alice@example.test'],
      withPart('contract', 'attachment; filename="contract.docx"', encryptedDocx),
    );
    assert.match(locked, /^550 5\.7\.1 .*\(policy rule default-encrypted-archives\)/);
  });

  test('a domain rule from the live config refuses by body text', async () => {
    const reply = await send(
      'boss@remote.example',
      ['alice@example.test'],
      `${headers('urgent')}\nPlease wire the transfer today.`,
    );
    assert.match(reply, /^550 5\.7\.1 Suspected payment fraud \(policy rule payment-fraud\)/);
  });

  test('a changed domain rule applies without a restart', async () => {
    await hermod.addDomain('example.test', {
      policyRules: [
        paymentFraud,
        {
          name: 'no-crypto',
          all: [{ subject: { contains: ['bitcoin'] } }],
          action: { reject: 'No crypto offers' },
        },
      ],
    });
    const reply = await eventually('the new domain rule to refuse', async () => {
      const r = await send(
        'promo@remote.example',
        ['alice@example.test'],
        `${headers('Bitcoin doubler')}\nSend 1 BTC.`,
      );
      return r.startsWith('550') ? r : undefined;
    });
    assert.match(reply, /^550 5\.7\.1 No crypto offers \(policy rule no-crypto\)/);
  });

  test('add header, folder (read over IMAP), strip with a notice, and a compliance copy', async () => {
    const imap = new ImapFlow({
      host: '127.0.0.1',
      port: hermod.ports.imap,
      secure: false,
      doSTARTTLS: true,
      tls: { rejectUnauthorized: false },
      auth: { user: 'alice@example.test', pass: 'alice-password-1' },
      logger: false,
    });
    await imap.connect();
    try {
      await imap.mailboxCreate('Newsletters');

      assert.match(
        await send('sales@partner.example', ['alice@example.test'], `${headers('from a partner')}\nHello.`),
        /^250 /,
      );
      assert.match(
        await send(
          'list@news.example',
          ['alice@example.test'],
          `${headers('weekly news', 'Weekly <list@news.example>')}\nThis week.`,
        ),
        /^250 /,
      );
      const zip = smallZip().toString('base64');
      const boundary = 'policy-boundary';
      assert.match(
        await send(
          'sender@remote.example',
          ['alice@example.test'],
          `${headers('[legal] contract')}Content-Type: multipart/mixed; boundary="${boundary}"\n\n--${boundary}\nContent-Type: text/plain\n\nThe contract is attached.\n--${boundary}\nContent-Type: application/octet-stream; name="contract.bin"\nContent-Disposition: attachment; filename="contract.bin"\nContent-Transfer-Encoding: base64\n\n${zip}\n--${boundary}--`,
        ),
        /^250 /,
      );
      // Filed and copied: routed by routing (the copy's recipient had no route at RCPT).
      assert.match(
        await send(
          'list@news.example',
          ['alice@example.test'],
          `${headers('[legal] weekly digest', 'Weekly <list@news.example>')}\nThis week in law.`,
        ),
        /^250 /,
      );

      const inboxWith = (subject: string) =>
        eventually(`"${subject}" in the INBOX`, async () =>
          (await waitForMessages(hermod.db.pool, 'alice@example.test', 1, 'INBOX')).find((m) =>
            m.text.includes(`Subject: ${subject}`),
          ),
        );
      const partner = await inboxWith('from a partner');
      assert.match(partner?.text ?? '', /^X-Partner: yes\r$/m);
      assert.match(partner?.text ?? '', /^X-Hermod-Policy: tag-partners\r$/m);

      const legal = await inboxWith('[legal] contract');
      assert.match(legal.text, /The contract is attached\./);
      assert.doesNotMatch(legal.text, new RegExp(zip.slice(0, 20)), 'the archive is gone');
      assert.match(
        Buffer.from(
          /X-Hermod-Removed-Attachment: yes\r\n\r\n([A-Za-z0-9+/=\r\n]+)/.exec(legal.text)?.[1] ?? '',
          'base64',
        ).toString(),
        /^Removed contract\.bin \(archives are not delivered\)\.$/,
      );
      // The compliance mailbox has no Newsletters folder: its copy of the digest is in its INBOX.
      const copies = await waitForMessages(hermod.db.pool, 'compliance@example.test', 2, 'INBOX');
      const copy = copies.find((m) => m.text.includes('Subject: [legal] contract'));
      assert.match(copy?.text ?? '', /^X-Hermod-Policy: no-archives, compliance-copy\r$/m);
      assert.ok(copies.some((m) => m.text.includes('Subject: [legal] weekly digest')));

      await waitForMessages(hermod.db.pool, 'alice@example.test', 2, 'Newsletters');
      const lock = await imap.getMailboxLock('Newsletters');
      try {
        const box = imap.mailbox;
        assert.ok(box);
        assert.equal(box.exists, 2);
        const subjects: string[] = [];
        for await (const m of imap.fetch('1:*', { envelope: true, source: true })) {
          subjects.push(m.envelope?.subject ?? '');
          assert.match(m.source?.toString() ?? '', /^X-Hermod-Policy: newsletters(, compliance-copy)?\r$/m);
        }
        assert.deepEqual(subjects.sort(), ['[legal] weekly digest', 'weekly news']);
      } finally {
        lock.release();
      }
    } finally {
      await imap.logout();
    }
  });

  test('quarantine: held (250) with the rule named, then released and delivered', async () => {
    const reply = await send(
      'buyer@remote.example',
      ['alice@example.test'],
      `${headers('Purchase order 42')}\nPlease confirm.`,
    );
    assert.match(reply, /^250 /);
    const spoolId = /queued as ([0-9a-f-]{36})/.exec(reply)?.[1];
    assert.ok(spoolId);
    const listed = JSON.parse(
      await hermodCli(['quarantine', 'list', '--recipient', 'alice@example.test', '--json']),
    ) as Array<{
      id: string;
      kind: string;
      rule: string;
      reason: string;
    }>;
    assert.deepEqual(
      listed.map((e) => [e.id, e.kind, e.rule, e.reason]),
      [[spoolId, 'policy', 'hold-purchase-orders', 'purchase orders are checked by hand']],
    );
    await hermodCli(['quarantine', 'release', spoolId, '--actor', 'policy-test']);
    const delivered = await eventually('the released message in the INBOX', async () => {
      const all = await waitForMessages(hermod.db.pool, 'alice@example.test', 1, 'INBOX');
      return all.find(
        (m) => m.text.includes('Subject: Purchase order 42') && !m.text.includes('Subject: Quarantined'),
      );
    });
    assert.match(delivered.text, /^X-Hermod-Policy: hold-purchase-orders\r$/m);
  });

  test('quarantine keeps the compliance copy an earlier rule added: released, it reaches both', async () => {
    const reply = await send(
      'buyer@remote.example',
      ['alice@example.test'],
      `${headers('[legal] purchase order 77')}\nPlease sign.`,
    );
    assert.match(reply, /^250 /);
    const spoolId = /queued as ([0-9a-f-]{36})/.exec(reply)?.[1];
    assert.ok(spoolId);
    await hermodCli(['quarantine', 'release', spoolId, '--actor', 'policy-test']);
    const copy = await eventually('the released compliance copy', async () => {
      const all = await waitForMessages(hermod.db.pool, 'compliance@example.test', 1, 'INBOX');
      return all.find((m) => m.text.includes('Subject: [legal] purchase order 77'));
    });
    assert.match(copy.text, /^X-Hermod-Policy: compliance-copy, hold-purchase-orders\r$/m);
    await eventually("the released message in alice's INBOX", async () => {
      const all = await waitForMessages(hermod.db.pool, 'alice@example.test', 1, 'INBOX');
      return all.find((m) => m.text.includes('Subject: [legal] purchase order 77'));
    });
  });
});
