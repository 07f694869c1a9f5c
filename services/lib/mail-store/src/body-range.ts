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
    const { rows } = await db.query<{ seq: number; data: Buffer }>(
      'SELECT seq, data FROM message_body_chunks WHERE body_id = $1 AND seq >= $2 AND seq <= $3 ORDER BY seq LIMIT 4',
      [bodyId, seq, lastSeq],
    );
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
  await db.query('UPDATE message_bodies SET structure = $2, header_size = $3 WHERE id = $1', [
    bodyId,
    JSON.stringify(structure),
    headerSize,
  ]);
}
