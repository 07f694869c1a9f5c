import type { Pool, PoolClient } from '@hermod/db';

type Db = Pool | PoolClient;

/** Streams bytes [start, end) of a stored body, reading only the chunks that overlap the range. */
export async function* readBodyRange(
  db: Db,
  bodyId: number,
  start: number,
  end: number,
  knownChunkSize?: number,
): AsyncGenerator<Buffer> {
  if (end <= start) return;
  const chunkSize =
    knownChunkSize ??
    (await db.query<{ chunk_size: number }>('SELECT chunk_size FROM message_bodies WHERE id = $1', [bodyId]))
      .rows[0]?.chunk_size;
  if (!chunkSize) return;
  let seq = Math.floor(start / chunkSize);
  const lastSeq = Math.floor((end - 1) / chunkSize);
  while (seq <= lastSeq) {
    const { rows } = await db.query<{ seq: number; data: Buffer }>({
      name: 'mail-store-read-body-range',
      text: 'SELECT seq, data FROM message_body_chunks WHERE body_id = $1 AND seq >= $2 AND seq <= $3 ORDER BY seq LIMIT 4',
      values: [bodyId, seq, lastSeq],
    });
    if (rows.length === 0) return;
    for (const row of rows) {
      const base = row.seq * chunkSize;
      const from = Math.max(0, start - base);
      const to = Math.min(row.data.length, end - base);
      if (to > from) yield row.data.subarray(from, to);
      seq = row.seq + 1;
    }
  }
}

/** The cached parse of a body (IMAP BODYSTRUCTURE/ENVELOPE source), if a reader stored one. */
export async function loadBodyStructure<T>(db: Db, bodyId: number): Promise<T | undefined> {
  const { rows } = await db.query<{ structure: T | null }>(
    'SELECT structure FROM message_bodies WHERE id = $1',
    [bodyId],
  );
  return rows[0]?.structure ?? undefined;
}

export async function saveBodyStructure(
  db: Db,
  bodyId: number,
  headerSize: number,
  structure: unknown,
): Promise<void> {
  await db.query({
    name: 'mail-store-save-body-structure',
    text: 'UPDATE message_bodies SET structure = $2, header_size = $3 WHERE id = $1',
    values: [bodyId, JSON.stringify(structure), headerSize],
  });
}

/** The cached parses of several bodies in one round trip (bodies without one are absent). */
export async function loadBodyStructures<T>(db: Db, bodyIds: readonly number[]): Promise<Map<number, T>> {
  const out = new Map<number, T>();
  if (bodyIds.length === 0) return out;
  const { rows } = await db.query<{ id: string; structure: T }>({
    name: 'mail-store-load-structures',
    text: 'SELECT id, structure FROM message_bodies WHERE id = ANY ($1::bigint[]) AND structure IS NOT NULL',
    values: [[...new Set(bodyIds)]],
  });
  for (const row of rows) out.set(Number(row.id), row.structure);
  return out;
}

/**
 * The first bytes of several bodies in one round trip (top-level headers for SEARCH and SORT);
 * only prefixes that lie within a body's first chunk are read, longer ones are absent.
 */
export async function readBodyPrefixes(
  db: Db,
  prefixes: ReadonlyArray<{ bodyId: number; end: number }>,
): Promise<Map<number, Buffer>> {
  const out = new Map<number, Buffer>();
  if (prefixes.length === 0) return out;
  const { rows } = await db.query<{ body_id: string; data: Buffer }>({
    name: 'mail-store-read-prefixes',
    text: `SELECT c.body_id, substring(c.data FROM 1 FOR p.len) AS data
     FROM unnest($1::bigint[], $2::int[]) AS p(body_id, len)
     JOIN message_body_chunks c ON c.body_id = p.body_id AND c.seq = 0
     WHERE octet_length(c.data) >= p.len`,
    values: [prefixes.map((p) => p.bodyId), prefixes.map((p) => p.end)],
  });
  for (const row of rows) out.set(Number(row.body_id), row.data);
  return out;
}
