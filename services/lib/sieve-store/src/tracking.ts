import type { Queryable } from './script-store.js';

/**
 * Claims the right to send a vacation response (RFC 5230 4.2): true, and remembered for `seconds`,
 * when no response to this sender under this handle was sent within the period; false otherwise.
 * Check and record are one statement, so two deliveries at once send one reply.
 */
export async function claimVacationResponse(
  db: Queryable,
  accountId: number,
  handle: string,
  sender: string,
  seconds: number,
  now: Date = new Date(),
): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO sieve_tracking (account_id, kind, key, expires_at)
     VALUES ($1, 'vacation', $2, $3::timestamptz + make_interval(secs => $4))
     ON CONFLICT (account_id, kind, key) DO UPDATE SET expires_at = EXCLUDED.expires_at
       WHERE sieve_tracking.expires_at <= $3::timestamptz`,
    [accountId, `${handle.length}:${handle}:${sender.toLowerCase()}`, now, seconds],
  );
  return (rowCount ?? 0) > 0;
}

/**
 * Counts one automatic reply (vacation, reject notice) of the account in the current hour: true while
 * the account is within `perHour`, false once it would exceed it (nothing is counted then).
 */
export async function countAutoReply(
  db: Queryable,
  accountId: number,
  perHour: number,
  now: Date = new Date(),
): Promise<boolean> {
  const hour = Math.floor(now.getTime() / 3_600_000);
  const { rowCount } = await db.query(
    `INSERT INTO sieve_tracking (account_id, kind, key, count, expires_at)
     VALUES ($1, 'replies', $2, 1, to_timestamp($3))
     ON CONFLICT (account_id, kind, key) DO UPDATE SET count = sieve_tracking.count + 1
       WHERE sieve_tracking.count < $4`,
    [accountId, String(hour), (hour + 1) * 3600, perHour],
  );
  return (rowCount ?? 0) > 0 && perHour > 0;
}

/** Which of these duplicate ids (RFC 7352) the account has seen and not yet forgotten. */
export async function seenDuplicates(
  db: Queryable,
  accountId: number,
  ids: string[],
  now: Date = new Date(),
): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const { rows } = await db.query<{ key: string }>(
    `SELECT key FROM sieve_tracking
     WHERE account_id = $1 AND kind = 'duplicate' AND key = ANY($2::text[]) AND expires_at > $3`,
    [accountId, ids, now],
  );
  return new Set(rows.map((r) => r.key));
}

/** Records duplicate ids once their message was delivered, each for its own lifetime. */
export async function recordDuplicates(
  db: Queryable,
  accountId: number,
  entries: Array<{ id: string; seconds: number }>,
  now: Date = new Date(),
): Promise<void> {
  await recordDuplicatesOf(
    db,
    entries.map((e) => ({ accountId, ...e })),
    now,
  );
}

/**
 * recordDuplicates for several accounts in one statement (a delivery batch's); an id given twice for
 * the same account is recorded once, with the lifetime given last.
 */
export async function recordDuplicatesOf(
  db: Queryable,
  entries: Array<{ accountId: number; id: string; seconds: number }>,
  now: Date = new Date(),
): Promise<void> {
  const unique = [...new Map(entries.map((e) => [`${e.accountId}\u0000${e.id}`, e])).values()].sort(
    (a, b) => a.accountId - b.accountId || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
  if (unique.length === 0) return;
  await db.query(
    `INSERT INTO sieve_tracking (account_id, kind, key, expires_at)
     SELECT e.account_id, 'duplicate', e.id, $4::timestamptz + make_interval(secs => e.seconds)
     FROM unnest($1::bigint[], $2::text[], $3::float8[]) WITH ORDINALITY AS e(account_id, id, seconds, n)
     ORDER BY e.n
     ON CONFLICT (account_id, kind, key) DO UPDATE SET expires_at = EXCLUDED.expires_at`,
    [unique.map((e) => e.accountId), unique.map((e) => e.id), unique.map((e) => e.seconds), now],
  );
}

/** Forgets expired tracking rows; returns how many went. */
export async function pruneTracking(db: Queryable, now: Date = new Date()): Promise<number> {
  const { rowCount } = await db.query('DELETE FROM sieve_tracking WHERE expires_at <= $1', [now]);
  return rowCount ?? 0;
}
