import { type Pool, withTransaction } from '@hermod/db';
import { rfc5322Date } from '@hermod/smtp';
import { deterministicUuid, insertAcceptedMessage } from '@hermod/spool';
import { imapActions } from './imap-action-names.js';
import { userMayRelease } from './store.js';

export interface DigestSchedule {
  /** The length of a period (QUARANTINE_DIGEST_INTERVAL_MS; a day by default). */
  intervalMs: number;
  /** Where periods start, from midnight UTC (QUARANTINE_DIGEST_OFFSET_MS): 7 h sends at 07:00 UTC. */
  offsetMs: number;
}

/** The end of the latest period that has ended at `now`: the digests due now are for it. */
export function digestPeriodEnd(now: Date, schedule: DigestSchedule): Date {
  const since = now.getTime() - schedule.offsetMs;
  return new Date(Math.floor(since / schedule.intervalMs) * schedule.intervalMs + schedule.offsetMs);
}

/** The spool id of a recipient's digest for a period (one, whichever replica writes it). */
export const digestSpoolId = (recipient: string, periodEnd: Date) =>
  deterministicUuid(`hermod-quarantine-digest:${recipient.toLowerCase()}:${periodEnd.toISOString()}`);

export interface DigestOptions extends DigestSchedule {
  /** The clock (injected: the tests move it instead of waiting for a period to end). */
  now: Date;
  /** The host named in the digest (postmaster@host). */
  host: string;
  /** The kinds this recipient may release themselves (the domain's setting, else the mx's). */
  userReleaseKinds(recipient: string): readonly string[];
  /** At most this many recipients a pass (the rest wait for the next pass). */
  batchSize?: number;
}

export interface DigestEntry {
  id: string;
  mailFrom: string;
  headerFrom: string | null;
  subject: string | null;
  kind: string;
  reason: string;
  quarantinedAt: Date;
  expiresAt: Date;
}

export interface SentDigest {
  recipient: string;
  periodEnd: Date;
  /** The digest message; none when everything pending had been released or deleted meanwhile. */
  spoolId: string | undefined;
  entryIds: string[];
}

interface EntryRow {
  id: string;
  mail_from: string;
  header_from: string | null;
  subject: string | null;
  kind: string;
  reason: string;
  quarantined_at: Date;
  expires_at: Date;
  held: boolean;
}

/**
 * The digest pass (every mx replica runs it): for each recipient with entries pending a digest
 * that were held before the end of the last period, one digest message listing them, delivered to
 * the recipient through the spool like any local message. Exactly once per recipient and period:
 * the row (recipient, period end) is written first in the digest's transaction, and a replica that
 * gets there second finds it (its insert waits for the first one's commit) and sends nothing.
 * Entries are taken off the pending list in the same transaction, so each is listed once; one held
 * after a period's digest was sent goes into the next period's. Returns what was sent; the caller
 * hands the spool ids to routing (the spool sweeper does so if that is lost).
 */
export async function sendQuarantineDigests(pool: Pool, options: DigestOptions): Promise<SentDigest[]> {
  const periodEnd = digestPeriodEnd(options.now, options);
  const { rows: due } = await pool.query<{ recipient: string }>(
    `SELECT DISTINCT r AS recipient FROM quarantine_messages, unnest(digest_pending) r
     WHERE digest_pending <> '{}' AND quarantined_at < $1 ORDER BY r LIMIT $2`,
    [periodEnd, options.batchSize ?? 500],
  );
  const sent: SentDigest[] = [];
  for (const { recipient } of due) {
    const digest = await digestFor(pool, recipient, periodEnd, options);
    if (digest) sent.push(digest);
  }
  return sent;
}

async function digestFor(
  pool: Pool,
  recipient: string,
  periodEnd: Date,
  options: DigestOptions,
): Promise<SentDigest | undefined> {
  return withTransaction(pool, async (client) => {
    const claimed = await client.query(
      `INSERT INTO quarantine_digests (recipient, period_end) VALUES (lower($1), $2)
       ON CONFLICT DO NOTHING RETURNING recipient`,
      [recipient, periodEnd],
    );
    // This period's digest went already (another replica, or an earlier pass of this one).
    if (claimed.rowCount === 0) return undefined;
    const { rows } = await client.query<EntryRow>(
      `SELECT id, mail_from, header_from, subject, kind, reason, quarantined_at, expires_at,
         released_at IS NULL AND NOT (lower($1) = ANY (released_to)) AS held
       FROM quarantine_messages
       WHERE digest_pending <> '{}' AND $1 = ANY (digest_pending) AND quarantined_at < $2
       ORDER BY quarantined_at, id FOR UPDATE`,
      [recipient, periodEnd],
    );
    await client.query(
      'UPDATE quarantine_messages SET digest_pending = array_remove(digest_pending, $1) WHERE id = ANY ($2::uuid[])',
      [recipient, rows.map((r) => r.id)],
    );
    const listed = rows.filter((r) => r.held);
    if (listed.length === 0) return { recipient, periodEnd, spoolId: undefined, entryIds: [] };
    const spoolId = digestSpoolId(recipient, periodEnd);
    const entries = listed.map(
      (r): DigestEntry => ({
        id: r.id,
        mailFrom: r.mail_from,
        headerFrom: r.header_from,
        subject: r.subject,
        kind: r.kind,
        reason: r.reason,
        quarantinedAt: r.quarantined_at,
        expiresAt: r.expires_at,
      }),
    );
    await insertAcceptedMessage(client, {
      spoolId,
      mailFrom: '',
      recipients: [{ address: recipient }],
      source: 'local',
      envelope: { quarantineDigest: periodEnd.toISOString() },
      body: [
        buildQuarantineDigest({
          host: options.host,
          recipient,
          periodEnd,
          now: options.now,
          entries,
          userReleaseKinds: options.userReleaseKinds(recipient),
        }),
      ],
      sweepAfterMs: 10_000,
    });
    // Its mailbox rows share this body: a keyword or folder on the digest acts on what it lists.
    await client.query(
      `UPDATE quarantine_digests SET spool_id = $3, entry_ids = $4,
         body_id = (SELECT body_id FROM spool_messages WHERE id = $3)
       WHERE recipient = lower($1) AND period_end = $2`,
      [recipient, periodEnd, spoolId, entries.map((e) => e.id)],
    );
    return { recipient, periodEnd, spoolId, entryIds: entries.map((e) => e.id) };
  });
}

/** Digest rows older than this are deleted by the expiry sweep (they outlive every entry they list). */
export async function expireQuarantineDigests(pool: Pool, keepMs: number, now = new Date()): Promise<number> {
  const { rowCount } = await pool.query('DELETE FROM quarantine_digests WHERE sent_at < $1', [
    new Date(now.getTime() - keepMs),
  ]);
  return rowCount ?? 0;
}

export interface DigestInput {
  host: string;
  recipient: string;
  periodEnd: Date;
  now: Date;
  entries: DigestEntry[];
  /** The kinds the recipient may release (userMayRelease decides per entry). */
  userReleaseKinds: readonly string[];
}

const oneLine = (s: string) =>
  s
    .replace(/[\r\n\t]+/g, ' ')
    .replace(/[^\x20-\x7e]/g, '?')
    .slice(0, 200);

/**
 * The digest a recipient finds in the INBOX: every message held for them since their last digest
 * (sender, subject, why, until when), and what to do to the digest to release or delete them.
 * Plain US-ASCII text from the postmaster, with a null envelope sender.
 */
export function buildQuarantineDigest(input: DigestInput): Buffer {
  const n = input.entries.length;
  const releasable = input.entries.filter((e) => userMayRelease(e.kind, input.userReleaseKinds));
  const adminOnly = input.entries.filter((e) => !userMayRelease(e.kind, input.userReleaseKinds));
  const entryLines = input.entries.flatMap((e, i) => [
    `${i + 1}. ${oneLine(e.subject ?? '(no subject)')}`,
    `   From:     ${oneLine(e.headerFrom ?? (e.mailFrom || '<>'))}`,
    `   Held:     ${rfc5322Date(e.quarantinedAt)}, ${oneLine(e.reason)} (${e.kind})`,
    `   Kept until: ${rfc5322Date(e.expiresAt)}`,
    `   Id:       ${e.id}${userMayRelease(e.kind, input.userReleaseKinds) ? '' : ' (only your administrator can release it)'}`,
    '',
  ]);
  const text = [
    `From: Mail quarantine <postmaster@${input.host}>`,
    `To: ${oneLine(input.recipient)}`,
    `Subject: Quarantine digest: ${n} message${n === 1 ? '' : 's'} held for you`,
    `Date: ${rfc5322Date(input.now)}`,
    `Message-ID: <quarantine-digest-${digestSpoolId(input.recipient, input.periodEnd)}@${input.host}>`,
    'Auto-Submitted: auto-generated',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=us-ascii',
    `X-Hermod-Quarantine-Digest: ${input.periodEnd.toISOString()}`,
    ...input.entries.map((e) => `X-Hermod-Quarantine-Id: ${e.id}`),
    '',
    `These messages addressed to you were held in quarantine since your last digest,`,
    'instead of being delivered:',
    '',
    ...entryLines,
    ...(releasable.length > 0
      ? [
          `To have ${adminOnly.length > 0 ? `the ${releasable.length} you may release` : releasable.length === 1 ? 'it' : 'them all'} delivered to you, mark this digest with the keyword`,
          `${imapActions.releaseKeyword} or move (or copy) it into the folder ${imapActions.releaseMailbox}.`,
        ]
      : []),
    ...(adminOnly.length > 0
      ? [
          `Only your mail administrator can release ${adminOnly.length === n ? (n === 1 ? 'it' : 'them') : 'those marked so'}`,
          '(hermod quarantine release <id>); your own release request for them is refused and logged.',
        ]
      : []),
    `To delete ${n === 1 ? 'it' : 'them all'}, mark this digest with the keyword ${imapActions.deleteKeyword}.`,
    'Unless released each is deleted after its date above.',
    '',
  ].join('\r\n');
  return Buffer.from(text, 'ascii');
}
