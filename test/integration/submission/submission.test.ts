// Submission (msa) against real nats-server, PostgreSQL, routing and mda, driven by swaks and raw
// sockets: the accepted message lands in the mailbox byte for byte, and every refusal is precise.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { AccountStore } from '@hermod/accounts';
import { readBody } from '@hermod/mail-store';
import { type HermodPlatform, requireTool, run, startHermod } from '@hermod/test/harness';
import { expectCode, submissionSession } from '../mx/smtp-wire.js';

let hermod: HermodPlatform;

async function swaks(args: string[], input?: string) {
  return run('swaks', ['--server', '127.0.0.1', '--helo', 'client.test', '--timeout', '20', ...args], {
    ...(input !== undefined ? { input } : {}),
    timeoutMs: 30_000,
  });
}

async function waitForMessages(address: string, count: number, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await hermod.db.pool.query<{ uid: number; body_id: number; size: number }>(
      `SELECT m.uid, m.body_id, m.size FROM mailbox_messages m JOIN mailboxes b ON b.id = m.mailbox_id
       JOIN accounts a ON a.id = b.account_id WHERE a.address = $1 AND b.name = 'INBOX' ORDER BY m.uid`,
      [address],
    );
    if (rows.length >= count) return rows;
    if (Date.now() > deadline)
      throw new Error(`expected ${count} message(s) for ${address}, found ${rows.length}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function bodyText(bodyId: number): Promise<string> {
  const parts: Buffer[] = [];
  for await (const b of readBody(hermod.db.pool, bodyId)) parts.push(b);
  return Buffer.concat(parts).toString('utf8');
}

/** A raw SMTP conversation: sends each line after reading a reply, returns every reply. */
function converse(port: number, lines: string[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    const replies: string[] = [];
    let buffer = '';
    let next = 0;
    socket.setTimeout(10_000, () => socket.destroy(new Error('timeout')));
    socket.on('data', (d) => {
      buffer += d.toString('latin1');
      // A complete reply ends with a line whose 4th character is a space.
      const match = /(?:^|\r\n)(\d{3}) [^\r\n]*\r\n$/.exec(buffer);
      if (!match) return;
      replies.push(buffer);
      buffer = '';
      if (next < lines.length) socket.write(`${lines[next++]}\r\n`);
      else socket.end();
    });
    socket.on('close', () => resolve(replies));
    socket.on('error', reject);
  });
}

before(async () => {
  await requireTool('swaks', 'apt-get install swaks');
  hermod = await startHermod({
    services: ['routing', 'mda', 'msa'],
    env: { msa: { MSA_MAX_MESSAGE_BYTES: '200000' } },
  });
  await hermod.addDomain('example.test');
  const accounts = new AccountStore(hermod.db.pool);
  await accounts.create({ address: 'alice@example.test', password: 'alice-password-1' });
  await accounts.create({ address: 'bob@example.test', password: 'bob-password-12' });
});

after(async () => {
  await hermod?.stop();
});

describe('submission', () => {
  test('STARTTLS + AUTH PLAIN: the message is stored in the INBOX with its exact body', async () => {
    const body = `Subject: hello\r\nFrom: alice@example.test\r\nTo: bob@example.test\r\n\r\nLine one\r\n.dot line\r\nUnicode: \u00e9\u00e8\r\n`;
    const result = await swaks(
      [
        '--port',
        String(hermod.ports.submission),
        '-tls',
        '--auth',
        'PLAIN',
        '--auth-user',
        'alice@example.test',
        '--auth-password',
        'alice-password-1',
        '--from',
        'alice@example.test',
        '--to',
        'bob@example.test',
        '--data',
        '-',
      ],
      body,
    );
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /<~\s+250 2\.0\.0 Ok: queued as [0-9a-f-]{36}/);
    const [stored] = await waitForMessages('bob@example.test', 1);
    const text = await bodyText(stored!.body_id);
    assert.ok(
      text.startsWith(
        'Received: from client.test ([127.0.0.1])\r\n\tby mail.hermod.test (Hermod) with ESMTPSA id ',
      ),
      text,
    );
    // Dot-stuffing undone, 8-bit bytes intact, CRLF line endings.
    assert.ok(
      text.includes('\r\n\r\nLine one\r\n.dot line\r\nUnicode: \u00e9\u00e8\r\n'),
      JSON.stringify(text),
    );
    assert.match(text, /\r\nMessage-ID: <[0-9a-f-]{36}@mail\.hermod\.test>\r\n/);
    assert.match(text, /\r\nDate: \w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d \+0000\r\n/);
    assert.equal(stored!.size, Buffer.byteLength(text));
  });

  test('implicit TLS (465-style) with AUTH LOGIN works too', async () => {
    const result = await swaks([
      '--port',
      String(hermod.ports.submissions),
      '--tlsc',
      '--auth',
      'LOGIN',
      '--auth-user',
      'alice@example.test',
      '--auth-password',
      'alice-password-1',
      '--from',
      'alice@example.test',
      '--to',
      'alice@example.test',
      '--body',
      'via 465',
    ]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const [stored] = await waitForMessages('alice@example.test', 1);
    assert.match(await bodyText(stored!.body_id), /via 465/);
  });

  test('a wrong password gets 535 5.7.8', async () => {
    const result = await swaks([
      '--port',
      String(hermod.ports.submission),
      '-tls',
      '--auth',
      'PLAIN',
      '--auth-user',
      'alice@example.test',
      '--auth-password',
      'wrong-password',
      '--from',
      'alice@example.test',
      '--to',
      'bob@example.test',
    ]);
    assert.notEqual(result.code, 0);
    assert.match(result.stdout, /<~\*? 535 5\.7\.8 Authentication credentials invalid/);
  });

  test('AUTH is neither advertised nor accepted before TLS', async () => {
    const replies = await converse(hermod.ports.submission, [
      'EHLO client.test',
      'AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABhbGljZS1wYXNzd29yZC0x',
      'QUIT',
    ]);
    assert.match(replies[1]!, /250-STARTTLS/);
    assert.doesNotMatch(replies[1]!, /AUTH/);
    assert.match(replies[2]!, /^538 /);
  });

  test('REQUIRETLS (RFC 8689): not offered before TLS, offered after; the parameter is spooled', async () => {
    const plain = await converse(hermod.ports.submission, ['EHLO client.test', 'QUIT']);
    assert.doesNotMatch(plain[1]!, /REQUIRETLS/);
    const { wire, auth } = await submissionSession(
      hermod.ports.submission,
      'bob@example.test',
      'bob-password-12',
    );
    try {
      expectCode(auth, 235);
      assert.match(expectCode(await wire.command('EHLO client.test'), 250), /^250[ -]REQUIRETLS\r$/m);
      expectCode(await wire.command('MAIL FROM:<bob@example.test> REQUIRETLS'), 250);
      expectCode(await wire.command('RCPT TO:<alice@example.test>'), 250);
      expectCode(await wire.command('DATA'), 354);
      const reply = await wire.command(
        'From: bob@example.test\r\nTo: alice@example.test\r\nSubject: requiretls\r\n\r\nsecret\r\n.',
      );
      expectCode(reply, 250);
    } finally {
      wire.close();
    }
    const { rows } = await hermod.db.pool.query<{ envelope: { mailFromArgs?: Record<string, string> } }>(
      `SELECT envelope FROM spool_messages WHERE mail_from = 'bob@example.test' AND envelope->'mailFromArgs' ? 'REQUIRETLS'`,
    );
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.envelope.mailFromArgs?.REQUIRETLS, 'true');
  });

  test('STARTTLS with a parameter is refused with 501', async () => {
    const replies = await converse(hermod.ports.submission, ['EHLO client.test', 'STARTTLS now', 'QUIT']);
    assert.match(replies[2]!, /^501 /);
  });

  test('MAIL FROM without AUTH gets 530 5.7.0', async () => {
    const replies = await converse(hermod.ports.submission, [
      'EHLO client.test',
      'MAIL FROM:<alice@example.test>',
      'QUIT',
    ]);
    assert.match(replies[2]!, /^530 5\.7\.0 /);
  });

  test('sending as someone else is refused with 553 5.7.1 (envelope and From header)', async () => {
    const envelope = await swaks([
      '--port',
      String(hermod.ports.submission),
      '-tls',
      '--auth',
      'PLAIN',
      '--auth-user',
      'alice@example.test',
      '--auth-password',
      'alice-password-1',
      '--from',
      'bob@example.test',
      '--to',
      'bob@example.test',
    ]);
    assert.match(envelope.stdout, /<~\*? 553 5\.7\.1 Sender address rejected/);
    const header = await swaks([
      '--port',
      String(hermod.ports.submission),
      '-tls',
      '--auth',
      'PLAIN',
      '--auth-user',
      'alice@example.test',
      '--auth-password',
      'alice-password-1',
      '--from',
      'alice@example.test',
      '--to',
      'bob@example.test',
      '--header',
      'From: Bob <bob@example.test>',
    ]);
    assert.match(header.stdout, /<~\*? 553 5\.7\.1 From header address <bob@example\.test> not owned/);
  });

  test('an unknown local recipient is refused at RCPT with 550 5.1.1', async () => {
    const result = await swaks([
      '--port',
      String(hermod.ports.submission),
      '-tls',
      '--auth',
      'PLAIN',
      '--auth-user',
      'alice@example.test',
      '--auth-password',
      'alice-password-1',
      '--from',
      'alice@example.test',
      '--to',
      'nobody@example.test',
    ]);
    assert.match(result.stdout, /RCPT TO:<nobody@example\.test>\s*\n<~\*? 550 5\.1\.1 No such user here/);
  });

  test('an oversized message gets 552 5.3.4 and is not stored', async () => {
    const before = (await hermod.db.pool.query('SELECT count(*)::int AS n FROM spool_messages')).rows[0]
      .n as number;
    const result = await swaks(
      [
        '--port',
        String(hermod.ports.submission),
        '-tls',
        '--auth',
        'PLAIN',
        '--auth-user',
        'alice@example.test',
        '--auth-password',
        'alice-password-1',
        '--from',
        'alice@example.test',
        '--to',
        'bob@example.test',
        '--data',
        '-',
      ],
      `Subject: big\r\n\r\n${'x'.repeat(998)}\r\n`.repeat(300),
    );
    assert.match(result.stdout, /<~\*? 552 5\.3\.4 Message size exceeds fixed limit/);
    const afterCount = (await hermod.db.pool.query('SELECT count(*)::int AS n FROM spool_messages')).rows[0]
      .n as number;
    assert.equal(afterCount, before);
  });

  test('SIZE is advertised with the configured limit', async () => {
    const replies = await converse(hermod.ports.submission, ['EHLO client.test', 'QUIT']);
    assert.match(replies[1]!, /250[- ]SIZE 200000\r\n/);
  });
});
