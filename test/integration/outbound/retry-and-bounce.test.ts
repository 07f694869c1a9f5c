// outbound-mta against Postfix's smtp-sink: a remote that defers and later accepts (the retry
// follows the configured schedule), one that rejects (exactly one RFC 3464 DSN, delivered to the
// local sender's mailbox through routing and mda), a null sender (never a DSN), a null MX, and a
// remote that defers until the message's lifetime ends (one delay notice, then one failure notice).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type SmtpSink, startSmtpSink, testWorkdir } from '@hermod/test/harness';
import {
  crlf,
  LOCAL_DOMAIN,
  type OutboundTestbed,
  startOutboundTestbed,
  waitFor,
} from './outbound-fixture.js';

let bed: OutboundTestbed;
const sinks: SmtpSink[] = [];

/** A sink answering for `domain` on its own loopback address (the MX's A record). */
async function sinkFor(domain: string, address: string, options: Parameters<typeof startSmtpSink>[0] = {}) {
  bed.dns.add(
    { type: 'MX', name: domain, exchange: `mx.${domain}`, preference: 10 },
    { type: 'A', name: `mx.${domain}`, address },
  );
  const sink = await startSmtpSink({ host: address, port: bed.smtpPort, ...options });
  sinks.push(sink);
  return sink;
}

const message = (from: string, to: string, subject: string) =>
  crlf(
    `From: ${from}`,
    `To: ${to}`,
    `Subject: ${subject}`,
    `Message-ID: <${subject.replace(/\W/g, '-')}@${LOCAL_DOMAIN}>`,
    '',
    `body of ${subject}`,
  );

/** Notices in the spool generated for one message (any event). */
async function noticesFor(spoolId: string) {
  const { rows } = await bed.hermod.db.pool.query<{
    id: string;
    mail_from: string;
    envelope: { dsnFor: string };
  }>(
    `SELECT id, mail_from, envelope FROM spool_messages WHERE envelope->>'dsnFor' LIKE $1 ORDER BY received_at`,
    [`${spoolId}:%`],
  );
  return rows;
}

before(async () => {
  bed = await startOutboundTestbed({
    outboundEnv: { OUTBOUND_MAX_LIFETIME: '12s', OUTBOUND_DELAY_NOTICE_AFTER: '4s' },
  });
  for (const user of ['alice', 'bob', 'carol']) await bed.addAccount(`${user}@${LOCAL_DOMAIN}`);
});

after(async () => {
  for (const sink of sinks) await sink.stop().catch(() => {});
  await bed?.stop();
});

describe('retries and bounces against smtp-sink', () => {
  test('a remote that defers (450 at RCPT) and then accepts: retried on schedule, then delivered', async () => {
    const address = '127.0.0.3';
    let sink = await sinkFor('later.test', address, { softReject: ['rcpt'] });
    const from = `carol@${LOCAL_DOMAIN}`;
    const spoolId = await bed.submit(from, ['dan@later.test'], message(from, 'dan@later.test', 'retry me'));
    const [deferred] = await waitFor('the first attempt deferred', async () => {
      const rows = await bed.queue(spoolId);
      return rows[0] && rows[0].attempts >= 1 ? rows : undefined;
    });
    assert.equal(deferred!.state, 'deferred');
    assert.match(deferred!.last_reply ?? '', /^450 /);
    assert.match(deferred!.last_host ?? '', /^mx\.later\.test\[127\.0\.0\.3\]:/);
    // The short schedule (2s) from config, measured from the attempt.
    const { rows } = await bed.hermod.db.pool.query<{ wait: number }>(
      `SELECT extract(epoch FROM next_attempt_at - last_attempt_at)::float AS wait FROM outbound_queue WHERE spool_id = $1`,
      [spoolId],
    );
    assert.ok(rows[0]!.wait > 1 && rows[0]!.wait < 4, `next attempt in ${rows[0]!.wait}s`);
    assert.equal((await bed.recipients(spoolId))[0]!.state, 'outbound');

    await sink.stop();
    const dumps = join(await testWorkdir('sink-dumps'), 'later');
    sink = await startSmtpSink({ host: address, port: bed.smtpPort, dumpDirectory: dumps });
    sinks.push(sink);
    const [delivered] = await bed.settled(spoolId, 'delivered');
    assert.match(delivered!.destination?.outcome?.reply ?? '', /^250 /);
    assert.deepEqual(await bed.queue(spoolId), []);
    const [dump] = await waitFor('the sink dump', async () => {
      const d = await sink.dumps();
      return d.length > 0 ? d : undefined;
    });
    assert.match(dump!.toString('latin1'), /body of retry me/);
  });

  test('a remote that rejects (550 at RCPT): exactly one DSN, multipart/report, in the sender mailbox', async () => {
    await sinkFor('reject.test', '127.0.0.4', { hardReject: ['rcpt'] });
    const from = `alice@${LOCAL_DOMAIN}`;
    const spoolId = await bed.submit(
      from,
      ['eve@reject.test'],
      message(from, 'eve@reject.test', 'bounce me'),
    );
    const [failed] = await bed.settled(spoolId, 'failed');
    assert.match(failed!.error ?? '', /^5\d\d /);
    const [dsn] = await waitFor('the DSN in alice’s INBOX', async () => {
      const box = await bed.mailbox(from);
      return box.length > 0 ? box : undefined;
    });
    assert.match(
      dsn!,
      /\r\nContent-Type: multipart\/report; report-type=delivery-status; boundary="([^"]+)"\r\n/,
    );
    assert.match(dsn!, /\r\nSubject: Undelivered Mail Returned to Sender\r\n/);
    assert.match(dsn!, /\r\nAuto-Submitted: auto-replied\r\n/);
    assert.match(dsn!, /\r\nContent-Type: message\/delivery-status\r\n/);
    assert.match(dsn!, /\r\nReporting-MTA: dns; mail\.hermod\.test\r\n/);
    assert.match(
      dsn!,
      /\r\nFinal-Recipient: rfc822; eve@reject\.test\r\nAction: failed\r\nStatus: 5\.\d\.\d+\r\n/,
    );
    // RFC 3464 section 2.3.5: "dns;" then the host's name, no address or port.
    assert.match(dsn!, /\r\nRemote-MTA: dns; mx\.reject\.test\r\n/);
    assert.match(dsn!, /\r\nDiagnostic-Code: smtp; 5\d\d /);
    assert.match(dsn!, /\r\nContent-Type: text\/rfc822-headers\r\n/);
    assert.match(dsn!, /\r\nSubject: bounce me\r\n/);
    const notices = await noticesFor(spoolId);
    assert.equal(notices.length, 1);
    assert.equal(notices[0]!.mail_from, '', 'a DSN has the null sender');
    // Nothing of the message is left to attempt (its queue rows went with the final outcome), so
    // no later attempt can send another notice.
    assert.deepEqual(await bed.queue(spoolId), []);
    assert.equal((await bed.mailbox(from)).length, 1);
  });

  test('a message from the null sender that is rejected: no DSN at all', async () => {
    const spoolId = await bed.submit(
      '',
      ['fred@reject.test'],
      message('MAILER-DAEMON@hermod.test', 'fred@reject.test', 'null sender'),
    );
    await bed.settled(spoolId, 'failed');
    // A notice is in the spool before the recipient is marked failed (finishAttempt), and nothing
    // of the message is left to attempt: none now means none ever.
    assert.deepEqual(await noticesFor(spoolId), []);
    assert.deepEqual(await bed.queue(spoolId), []);
  });

  test('a null MX (RFC 7505) fails at once with 5.1.10, without a connection attempt', async () => {
    bed.dns.add({ type: 'MX', name: 'nullmx.test', exchange: '.', preference: 0 });
    const from = `alice@${LOCAL_DOMAIN}`;
    const before = (await bed.mailbox(from)).length;
    const spoolId = await bed.submit(
      from,
      ['gina@nullmx.test'],
      message(from, 'gina@nullmx.test', 'null mx'),
    );
    const [failed] = await bed.settled(spoolId, 'failed');
    assert.match(failed!.error ?? '', /null MX/);
    assert.equal(failed!.destination?.outcome?.status, '5.1.10');
    const box = await waitFor('the DSN', async () => {
      const b = await bed.mailbox(from);
      return b.length > before ? b : undefined;
    });
    assert.match(box[box.length - 1]!, /\r\nStatus: 5\.1\.10\r\n/);
  });

  test('a remote that defers for ever: one delay notice, then give-up with one failure notice', async () => {
    await sinkFor('never.test', '127.0.0.5', { softReject: ['rcpt'] });
    const from = `bob@${LOCAL_DOMAIN}`;
    const spoolId = await bed.submit(from, ['hank@never.test'], message(from, 'hank@never.test', 'give up'));
    const [failed] = await bed.settled(spoolId, 'failed', 30_000);
    assert.match(failed!.error ?? '', /^gave up after \d+ attempts; last: 450 /);
    const box = await waitFor('both notices in bob’s INBOX', async () => {
      const b = await bed.mailbox(from);
      return b.length >= 2 ? b : undefined;
    });
    // Nothing is left to attempt, so no further notice can come.
    assert.deepEqual(await bed.queue(spoolId), []);
    assert.equal((await noticesFor(spoolId)).length, 2);
    const final = await bed.mailbox(from);
    assert.equal(final.length, 2, final.map((m) => /Subject: .*/.exec(m)?.[0]).join(' | '));
    assert.match(box[0]!, /\r\nSubject: Delayed Mail \(still being retried\)\r\n/);
    assert.match(box[0]!, /\r\nAction: delayed\r\nStatus: 4\.\d\.\d+\r\n/);
    assert.match(box[0]!, /\r\nWill-Retry-Until: /);
    assert.match(box[1]!, /\r\nSubject: Undelivered Mail Returned to Sender\r\n/);
    assert.match(box[1]!, /\r\nAction: failed\r\nStatus: 5\.\d\.\d+\r\n/);
    // RFC 3464 section 2.3.6: the diagnostic is the remote's last reply, typed smtp.
    assert.match(box[1]!, /\r\nDiagnostic-Code: smtp; 450 /);
  });
});
