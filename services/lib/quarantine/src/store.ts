import { type Pool, type PoolClient, withTransaction } from '@hermod/db';
import { readBody, writeBody } from '@hermod/mail-store';
import type { QuarantineRequest } from '@hermod/smtp';
import { deterministicUuid, insertAcceptedMessage } from '@hermod/spool';
import { QuarantineNotFoundError } from './errors.js';
import { buildQuarantineNotice } from './notice.js';

export interface QuarantineOptions {
  /** How long the entry is kept before the expiry sweep deletes it. */
  retentionMs: number;
  /** The host named in the notice (postmaster@host). */
  host: string;
  /** Deliver a notice to the recipients' INBOX (default true). */
  notify?: boolean;
  /**
   * The kinds a recipient may release themselves (the domain's setting, else
   * QUARANTINE_USER_RELEASE_KINDS). The notice tells how when every recipient may; default none.
   */
  userReleaseKinds?: (recipient: string) => readonly string[];
  /**
   * Whether this recipient is told by the periodic digest (the domain's setting, else
   * QUARANTINE_DIGEST) instead of a notice per message; default: a notice for everyone.
   */
  digest?: (recipient: string) => boolean;
}

export interface QuarantineEntry {
  id: string;
  mailFrom: string;
  recipients: string[];
  source: string;
  clientAddress: string | null;
  kind: string;
  reason: string;
  rule: string | null;
  subject: string | null;
  headerFrom: string | null;
  size: number;
  quarantinedAt: Date;
  expiresAt: Date;
  releasedAt: Date | null;
  releasedBy: string | null;
  releaseSpoolId: string | null;
  /** Recipients (lower case) it was released to one at a time, by their own release. */
  releasedTo: string[];
}

export interface AuditEntry {
  action: string;
  actor: string;
  at: Date;
  details: Record<string, unknown>;
}

const columns = `id, mail_from, recipients, source, client_address, kind, reason, rule, subject, header_from,
  size, quarantined_at, expires_at, released_at, released_by, release_spool_id, released_to`;

interface Row {
  id: string;
  mail_from: string;
  recipients: string[];
  source: string;
  client_address: string | null;
  kind: string;
  reason: string;
  rule: string | null;
  subject: string | null;
  header_from: string | null;
  size: number;
  quarantined_at: Date;
  expires_at: Date;
  released_at: Date | null;
  released_by: string | null;
  release_spool_id: string | null;
  released_to: string[];
}

const entry = (r: Row): QuarantineEntry => ({
  id: r.id,
  mailFrom: r.mail_from,
  recipients: r.recipients,
  source: r.source,
  clientAddress: r.client_address,
  kind: r.kind,
  reason: r.reason,
  rule: r.rule,
  subject: r.subject,
  headerFrom: r.header_from,
  size: r.size,
  quarantinedAt: r.quarantined_at,
  expiresAt: r.expires_at,
  releasedAt: r.released_at,
  releasedBy: r.released_by,
  releaseSpoolId: r.release_spool_id,
  releasedTo: r.released_to,
});

/** The first value of a header field in the (possibly cut) header block, unfolded. */
function headerField(head: string, name: string): string | undefined {
  const end = head.indexOf('\r\n\r\n');
  const block = end >= 0 ? head.slice(0, end + 2) : head;
  const m = new RegExp(`^${name}:[ \\t]*((?:.*)(?:\\r\\n[ \\t].*)*)`, 'im').exec(block);
  return m?.[1]
    ?.replace(/\r\n[ \t]/g, ' ')
    .trim()
    .slice(0, 998);
}

async function audit(
  client: PoolClient | Pool,
  id: string,
  action: 'quarantine' | 'release' | 'delete' | 'expire' | 'release-refused',
  actor: string,
  details: Record<string, unknown> = {},
): Promise<void> {
  await client.query(
    'INSERT INTO quarantine_audit (quarantine_id, action, actor, details) VALUES ($1, $2, $3, $4)',
    [id, action, actor, JSON.stringify(details)],
  );
}

/** The spool id of the notice for a quarantined message (one per message, however often retried). */
export const noticeSpoolId = (id: string) => deterministicUuid(`hermod-quarantine-notice:${id}`);
/** The spool id a release becomes: a retried release collides with it instead of delivering twice. */
export const releaseSpoolId = (id: string) => deterministicUuid(`hermod-quarantine-release:${id}`);
/** The spool id of a release to one recipient (a user's own release). */
export const recipientReleaseSpoolId = (id: string, recipient: string) =>
  deterministicUuid(`hermod-quarantine-release:${id}:${recipient.toLowerCase()}`);

/**
 * Whether recipients may release an entry of this kind themselves (from their mailbox); the one
 * rule for the notice's text and for the release a user asks for. Admins release any kind.
 */
export const userMayRelease = (kind: string, userReleaseKinds: readonly string[]): boolean =>
  userReleaseKinds.includes(kind);

/**
 * Holds a message instead of delivering it (the accept pipeline's quarantine disposition): the
 * body, envelope, reason and recipients, an audit entry, and (unless disabled) a notice to the
 * recipients' INBOX, all in one transaction. Returns the spool ids to hand to routing (the
 * notice); the spool sweeper hands them over too if that is lost.
 */
export async function quarantineMessage(
  pool: Pool,
  request: QuarantineRequest,
  options: QuarantineOptions,
): Promise<{ spoolIds: string[] }> {
  const head: Buffer[] = [];
  let headLength = 0;
  async function* capture(): AsyncGenerator<Buffer> {
    for await (const chunk of request.body()) {
      if (headLength < 64 * 1024) {
        head.push(chunk);
        headLength += chunk.length;
      }
      yield chunk;
    }
  }
  const now = new Date();
  const expiresAt = new Date(now.getTime() + options.retentionMs);
  return withTransaction(pool, async (client) => {
    const body = await writeBody(client, capture());
    const text = Buffer.concat(head)
      .subarray(0, 64 * 1024)
      .toString('latin1');
    const subject = headerField(text, 'subject');
    const headerFrom = headerField(text, 'from');
    // Told by the digest (later, once per period) or by a notice now: never both, never neither.
    const byDigest = options.notify === false ? [] : request.recipients.filter((r) => options.digest?.(r));
    const noticeTo = request.recipients.filter((r) => !byDigest.includes(r));
    await client.query(
      `INSERT INTO quarantine_messages (id, body_id, mail_from, recipients, source, client_address, client_helo,
         kind, reason, rule, subject, header_from, size, envelope, quarantined_at, expires_at, digest_pending)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
      [
        request.spoolId,
        body.bodyId,
        request.mailFrom,
        request.recipients,
        request.source,
        request.clientAddress,
        request.clientHelo,
        request.kind,
        request.reason,
        request.rule ?? null,
        subject ?? null,
        headerFrom ?? null,
        body.size,
        JSON.stringify(request.envelope),
        now,
        expiresAt,
        byDigest.map((r) => r.toLowerCase()),
      ],
    );
    await audit(client, request.spoolId, 'quarantine', `${request.source}`, {
      kind: request.kind,
      reason: request.reason,
      rule: request.rule,
      recipients: request.recipients,
    });
    if (options.notify === false || noticeTo.length === 0) return { spoolIds: [] };
    const spoolId = noticeSpoolId(request.spoolId);
    await insertAcceptedMessage(client, {
      spoolId,
      mailFrom: '',
      recipients: noticeTo.map((address) => ({ address })),
      source: 'local',
      envelope: { quarantineNotice: request.spoolId },
      body: [
        buildQuarantineNotice({
          id: request.spoolId,
          host: options.host,
          mailFrom: request.mailFrom,
          headerFrom,
          subject,
          kind: request.kind,
          reason: request.reason,
          expiresAt,
          now,
          userRelease: noticeTo.every((r) =>
            userMayRelease(request.kind, options.userReleaseKinds?.(r) ?? []),
          ),
        }),
      ],
      sweepAfterMs: 10_000,
    });
    // Its mailbox rows share this body: a keyword or folder on them is the recipient's action.
    await client.query(
      'UPDATE quarantine_messages SET notice_body_id = (SELECT body_id FROM spool_messages WHERE id = $2) WHERE id = $1',
      [request.spoolId, spoolId],
    );
    return { spoolIds: [spoolId] };
  });
}

export interface QuarantineFilter {
  /** Entries with this recipient (canonical address, case-insensitive). */
  recipient?: string;
  kind?: string;
  /** Include released entries (default: only those still held, for the recipient too). */
  includeReleased?: boolean;
  limit?: number;
}

/** Entries, newest first. */
export async function listQuarantine(pool: Pool, filter: QuarantineFilter = {}): Promise<QuarantineEntry[]> {
  const { rows } = await pool.query<Row>(
    `SELECT ${columns} FROM quarantine_messages
     WHERE ($1::text IS NULL OR lower($1) = ANY (SELECT lower(r) FROM unnest(recipients) r))
       AND ($2::text IS NULL OR kind = $2)
       AND ($3 OR (released_at IS NULL AND ($1::text IS NULL OR NOT lower($1) = ANY (released_to))))
     ORDER BY quarantined_at DESC, id LIMIT $4`,
    [filter.recipient ?? null, filter.kind ?? null, filter.includeReleased ?? false, filter.limit ?? 100],
  );
  return rows.map(entry);
}

/** One entry with its audit trail and the start of its message (the header block, bounded). */
export async function showQuarantined(
  pool: Pool,
  id: string,
): Promise<{ entry: QuarantineEntry; audit: AuditEntry[]; header: string }> {
  const { rows } = await pool.query<Row & { body_id: number }>(
    `SELECT ${columns}, body_id FROM quarantine_messages WHERE id = $1`,
    [id],
  );
  const row = rows[0];
  if (!row) throw new QuarantineNotFoundError(id);
  let head = '';
  for await (const chunk of readBody(pool, row.body_id)) {
    head += chunk.toString('latin1');
    if (head.includes('\r\n\r\n') || head.length > 64 * 1024) break;
  }
  const end = head.indexOf('\r\n\r\n');
  return {
    entry: entry(row),
    audit: await auditOf(pool, id),
    header: end >= 0 ? head.slice(0, end + 2) : head.slice(0, 64 * 1024),
  };
}

export async function auditOf(pool: Pool, id: string): Promise<AuditEntry[]> {
  const { rows } = await pool.query<AuditEntry>(
    'SELECT action, actor, at, details FROM quarantine_audit WHERE quarantine_id = $1 ORDER BY at, id',
    [id],
  );
  return rows;
}

export interface ReleaseScope {
  /**
   * Release to this recipient only (a user's own release); it must be one of the entry's
   * recipients (QuarantineNotFoundError otherwise). Without it: to every recipient still held.
   */
  recipient?: string;
}

/**
 * Hands a held message to the normal pipeline (as a local message to its recipients), exactly
 * once: the spool id is derived from the entry (and the recipient, for a user's own release), the
 * entry is locked while released, and a second release finds it released and returns the same
 * spool id (the caller hands that to routing again, which is harmless: routing and delivery are
 * idempotent per spool id). A release to one recipient leaves the others held; an admin release
 * after it delivers to the rest only. The entry stays (marked released) until it expires, for the
 * audit trail.
 */
export async function releaseQuarantined(
  pool: Pool,
  id: string,
  actor: string,
  scope: ReleaseScope = {},
): Promise<{ spoolId: string; alreadyReleased: boolean }> {
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<Row & { body_id: number; envelope: Record<string, unknown> }>(
      `SELECT ${columns}, body_id, envelope FROM quarantine_messages WHERE id = $1 FOR UPDATE`,
      [id],
    );
    const row = rows[0];
    if (!row) throw new QuarantineNotFoundError(id);
    const own =
      scope.recipient === undefined
        ? undefined
        : row.recipients.find((r) => r.toLowerCase() === scope.recipient?.toLowerCase());
    if (scope.recipient !== undefined && own === undefined) throw new QuarantineNotFoundError(id);
    if (row.released_at && row.release_spool_id)
      return { spoolId: row.release_spool_id, alreadyReleased: true };
    const held = row.recipients.filter((r) => !row.released_to.includes(r.toLowerCase()));
    if (own !== undefined && !held.includes(own))
      return { spoolId: recipientReleaseSpoolId(id, own), alreadyReleased: true };
    const to = own === undefined ? held : [own];
    const spoolId = own === undefined ? releaseSpoolId(id) : recipientReleaseSpoolId(id, own);
    await insertAcceptedMessage(client, {
      spoolId,
      mailFrom: row.mail_from,
      recipients: to.map((address) => ({ address })),
      source: 'local',
      ...(row.client_address ? { clientAddress: row.client_address } : {}),
      envelope: { ...row.envelope, placement: 'inbox', releasedFromQuarantine: id },
      // A copy: the entry keeps its own body until it expires.
      body: readBody(pool, row.body_id),
      sweepAfterMs: 10_000,
    });
    const releasedTo = [...row.released_to, ...to.map((r) => r.toLowerCase())];
    const everyone = row.recipients.every((r) => releasedTo.includes(r.toLowerCase()));
    await client.query(
      `UPDATE quarantine_messages SET released_to = $4,
         released_at = CASE WHEN $5 THEN now() END, released_by = CASE WHEN $5 THEN $2 END,
         release_spool_id = CASE WHEN $5 THEN $3::uuid END
       WHERE id = $1`,
      [id, actor, spoolId, releasedTo, everyone],
    );
    await audit(client, id, 'release', actor, { spoolId, recipients: to });
    return { spoolId, alreadyReleased: false };
  });
}

/**
 * Deletes an entry (its body is collected later); audited. With a recipient (a user's own
 * delete), only that recipient is taken off the entry; the entry goes when nobody is left.
 */
export async function deleteQuarantined(
  pool: Pool,
  id: string,
  actor: string,
  scope: ReleaseScope = {},
): Promise<void> {
  await withTransaction(pool, async (client) => {
    if (scope.recipient !== undefined) {
      const { rows } = await client.query<{ recipients: string[]; released_to: string[] }>(
        `UPDATE quarantine_messages SET recipients = ARRAY(SELECT r FROM unnest(recipients) r WHERE lower(r) <> lower($2))
         WHERE id = $1 AND lower($2) = ANY (SELECT lower(r) FROM unnest(recipients) r) RETURNING recipients, released_to`,
        [id, scope.recipient],
      );
      const left = rows[0];
      if (!left) throw new QuarantineNotFoundError(id);
      if (left.recipients.length === 0)
        await client.query('DELETE FROM quarantine_messages WHERE id = $1', [id]);
      else if (left.recipients.every((r) => left.released_to.includes(r.toLowerCase())))
        // Everyone left had it released: the entry is released as a whole (by their own releases,
        // each with its spool message; the last one is named).
        await client.query(
          `UPDATE quarantine_messages SET released_at = now(), released_by = $2, release_spool_id = $3
           WHERE id = $1 AND released_at IS NULL`,
          [id, actor, recipientReleaseSpoolId(id, left.released_to.at(-1) ?? '')],
        );
      await audit(client, id, 'delete', actor, { recipient: scope.recipient });
      return;
    }
    const { rowCount } = await client.query('DELETE FROM quarantine_messages WHERE id = $1', [id]);
    if (!rowCount) throw new QuarantineNotFoundError(id);
    await audit(client, id, 'delete', actor);
  });
}

/** A user's release refused (a kind only admins release); audited so the admin sees the request. */
export async function refuseUserRelease(pool: Pool, id: string, actor: string, kind: string): Promise<void> {
  await audit(pool, id, 'release-refused', actor, { kind });
}

/**
 * The expiry sweep: deletes every entry past its retention, a batch (one short transaction) at a
 * time until a batch comes back short; audited as 'expire'. One batch per pass would fall behind
 * for good once more than a batch expired per sweep interval.
 */
export async function expireQuarantine(pool: Pool, batchSize = 500): Promise<number> {
  let total = 0;
  for (;;) {
    const { rows } = await pool.query<{ n: number }>(
      `WITH expired AS (
         SELECT id FROM quarantine_messages WHERE expires_at <= now()
         ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED
       ), gone AS (
         DELETE FROM quarantine_messages q USING expired e WHERE q.id = e.id RETURNING q.id
       ), logged AS (
         INSERT INTO quarantine_audit (quarantine_id, action, actor) SELECT id, 'expire', 'system' FROM gone
       )
       SELECT count(*)::int AS n FROM gone`,
      [batchSize],
    );
    const n = rows[0]?.n ?? 0;
    total += n;
    if (n < batchSize) return total;
  }
}
