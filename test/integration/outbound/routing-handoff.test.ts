// The routing hand-off end to end: a local user submits through msa (STARTTLS + AUTH) to a
// non-local domain and to a local one in one message; routing sends the remote copy to
// outbound-mta, which delivers it to Debian's Postfix found by MX, DKIM-signed, while the local copy
// lands in the mailbox. A domain in `remote` exchanger mode goes through outbound-mta to its
// configured host even though nothing in DNS points there.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type PostfixPeer, startPostfixPeer } from '@hermod/test/harness';
import { createTransport } from 'nodemailer';
import {
  LOCAL_DOMAIN,
  type OutboundTestbed,
  startOutboundTestbed,
  TEST_PASSWORD,
  waitFor,
} from './outbound-fixture.js';

let bed: OutboundTestbed;
let postfix: PostfixPeer;
const alice = `alice@${LOCAL_DOMAIN}`;
const carol = `carol@${LOCAL_DOMAIN}`;

/** Submission as a mail client does it: STARTTLS, AUTH PLAIN, one message to `to`. */
async function submit(to: string[], subject: string) {
  const transport = createTransport({
    host: '127.0.0.1',
    port: bed.hermod.ports.submission,
    secure: false,
    requireTLS: true,
    name: 'client.test',
    auth: { user: alice, pass: TEST_PASSWORD },
    tls: { rejectUnauthorized: false },
  });
  try {
    return await transport.sendMail({
      envelope: { from: alice, to },
      raw: `From: ${alice}\r\nTo: ${to.join(', ')}\r\nSubject: ${subject}\r\n\r\nbody of ${subject}\r\n.dot line\r\n`,
    });
  } finally {
    transport.close();
  }
}

/** The spool message that has this recipient. */
async function spoolIdFor(recipient: string): Promise<string> {
  const { rows } = await bed.hermod.db.pool.query<{ spool_id: string }>(
    'SELECT spool_id FROM spool_recipients WHERE address = $1',
    [recipient],
  );
  assert.equal(rows.length, 1);
  return rows[0]!.spool_id;
}

before(async () => {
  bed = await startOutboundTestbed({ services: ['routing', 'mda', 'outbound-mta', 'msa'] });
  postfix = await startPostfixPeer({
    domains: ['example.org', 'partner.test'],
    port: bed.smtpPort,
    hostname: 'mx.example.org',
  });
  bed.dns.add(
    { type: 'MX', name: 'example.org', exchange: 'mx.example.org', preference: 10 },
    { type: 'A', name: 'mx.example.org', address: '127.0.0.1' },
  );
  await bed.addAccount(alice);
  await bed.addAccount(carol);
  await bed.enableDkim(LOCAL_DOMAIN, 'handoff');
});

after(async () => {
  await postfix?.stop();
  await bed?.stop();
});

describe('msa -> routing -> outbound-mta -> Postfix', () => {
  test('a local user mails a remote and a local recipient: the remote copy reaches Postfix, the local one the mailbox', async () => {
    const result = await submit(['bob@example.org', carol], 'hand-off');
    assert.deepEqual(result.accepted, ['bob@example.org', carol]);
    assert.match(result.response, /^250 2\.0\.0 /);
    const [stored] = await postfix.waitForMessages('bob@example.org', 1, 30_000);
    const text = stored!.toString('utf8');
    assert.match(text, /^Return-Path: <alice@hermod\.test>\n/);
    // Our signature and msa's trace field travel with it; the body is intact.
    assert.match(
      text,
      /\nDKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/relaxed; d=hermod\.test;\s+s=handoff;/,
    );
    assert.match(
      text,
      /\nReceived: from client\.test \(\[127\.0\.0\.1\]\)\n\tby mail\.hermod\.test \(Hermod\) with ESMTPSA id /,
    );
    assert.match(text, /\n\nbody of hand-off\n\.dot line\n$/);
    // Postfix saw our HELO name from outbound-mta.
    assert.match(await postfix.log(), /connect from localhost\[127\.0\.0\.1\]/);
    assert.match(text, /Received: from mail\.hermod\.test \(localhost \[127\.0\.0\.1\]\)/);

    const [local] = await waitFor('carol’s copy', async () => {
      const box = await bed.mailbox(carol);
      return box.length > 0 ? box : undefined;
    });
    assert.match(local!, /\r\n\r\nbody of hand-off\r\n\.dot line\r\n$/);

    const spoolId = await spoolIdFor('bob@example.org');
    const recipients = await bed.settled(spoolId, 'delivered');
    const remote = recipients.find((r) => r.address === 'bob@example.org');
    assert.match(remote?.destination?.outcome?.host ?? '', /^mx\.example\.org\[127\.0\.0\.1\]:\d+$/);
    assert.equal((remote?.destination as { kind?: string } | null)?.kind, 'remote');
    assert.equal(recipients.find((r) => r.address === carol)?.state, 'delivered');
    // Nothing of this message is left in the outbound queue.
    assert.deepEqual(await bed.queue(spoolId), []);
  });

  test('a domain in remote exchanger mode is delivered through outbound-mta to its configured host', async () => {
    await bed.hermod.addDomain('partner.test', {
      exchanger: 'remote',
      remoteHosts: [{ host: '127.0.0.1', port: bed.smtpPort }],
    });
    const result = await submit(['quinn@partner.test'], 'remote mode');
    assert.deepEqual(result.accepted, ['quinn@partner.test']);
    const [stored] = await postfix.waitForMessages('quinn@partner.test', 1, 30_000);
    assert.match(stored!.toString('utf8'), /\n\nbody of remote mode\n\.dot line\n$/);
    // No MX lookup was needed for it.
    assert.ok(!bed.dns.queries.some((q) => q.type === 'MX' && q.name === 'partner.test'));
  });
});
