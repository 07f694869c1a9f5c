import { createHash } from 'node:crypto';
import type { Pool, PoolClient } from '@hermod/db';

/** Chunks of this size bound the memory a writer or reader needs for one message. */
export const BODY_CHUNK_SIZE = 256 * 1024;

export interface StoredBody {
  bodyId: number;
  size: number;
  sha256: Buffer;
}

/**
 * Writes a message body from a stream of buffers into chunks inside the caller's transaction;
 * at most one chunk is held in memory at a time.
 */
export async function writeBody(
  client: PoolClient,
  source: AsyncIterable<Buffer> | Iterable<Buffer>,
): Promise<StoredBody> {
  const small = Array.isArray(source) ? oneChunkBody(source as Buffer[]) : undefined;
  if (small) return writeOneChunkBody(client, small);
  const { rows } = await client.query<{ id: number }>(
    "INSERT INTO message_bodies (size, sha256, chunk_size) VALUES (0, '\\x', $1) RETURNING id",
    [BODY_CHUNK_SIZE],
  );
  const bodyId = rows[0]!.id;
  const hash = createHash('sha256');
  let size = 0;
  let seq = 0;
  let pending: Buffer[] = [];
  let pendingLength = 0;
  const flush = async (final: boolean) => {
    while (pendingLength >= BODY_CHUNK_SIZE || (final && pendingLength > 0)) {
      const all = Buffer.concat(pending, pendingLength);
      const chunk = all.subarray(0, Math.min(BODY_CHUNK_SIZE, all.length));
      const rest = all.subarray(chunk.length);
      await client.query('INSERT INTO message_body_chunks (body_id, seq, data) VALUES ($1, $2, $3)', [
        bodyId,
        seq++,
        chunk,
      ]);
      pending = rest.length > 0 ? [Buffer.from(rest)] : [];
      pendingLength = rest.length;
    }
  };
  for await (const buffer of source) {
    hash.update(buffer);
    size += buffer.length;
    pending.push(buffer);
    pendingLength += buffer.length;
    if (pendingLength >= BODY_CHUNK_SIZE) await flush(false);
  }
  await flush(true);
  const sha256 = hash.digest();
  await client.query('UPDATE message_bodies SET size = $2, sha256 = $3 WHERE id = $1', [
    bodyId,
    size,
    sha256,
  ]);
  return { bodyId, size, sha256 };
}

/** A body in memory that fits one chunk (most messages), with its size and hash; undefined if larger. */
export function oneChunkBody(buffers: Buffer[]): { data: Buffer; size: number; sha256: Buffer } | undefined {
  const size = buffers.reduce((n, b) => n + b.length, 0);
  if (size > BODY_CHUNK_SIZE) return undefined;
  const data = buffers.length === 1 ? buffers[0]! : Buffer.concat(buffers, size);
  return { data, size, sha256: createHash('sha256').update(data).digest() };
}

/** The arguments of message_body_store (migration 076) for a one-chunk body, from $first on. */
export const oneChunkBodyArgs = (body: { data: Buffer; size: number; sha256: Buffer }) => [
  body.size,
  body.sha256,
  BODY_CHUNK_SIZE,
  body.data,
];

/** Row and chunk of a one-chunk body in one statement (message_body_store, migration 076). */
async function writeOneChunkBody(
  client: PoolClient,
  body: { data: Buffer; size: number; sha256: Buffer },
): Promise<StoredBody> {
  const { rows } = await client.query<{ id: number }>({
    name: 'mail-store-write-small-body',
    text: 'SELECT message_body_store($1, $2, $3, $4) AS id',
    values: oneChunkBodyArgs(body),
  });
  return { bodyId: rows[0]!.id, size: body.size, sha256: body.sha256 };
}

/**
 * Several whole bodies in one round trip, for a caller that holds them in memory anyway (mda's
 * filters read each message of a batch whole); bodies that do not exist are absent.
 */
export async function readBodies(
  db: Pool | PoolClient,
  bodyIds: readonly number[],
): Promise<Map<number, Buffer>> {
  if (bodyIds.length === 0) return new Map();
  const { rows } = await db.query<{ body_id: string; data: Buffer }>({
    name: 'mail-store-read-bodies',
    text: bodyChunksSql('$1'),
    values: [[...new Set(bodyIds)]],
  });
  return joinBodyChunks(rows.map((r) => ({ bodyId: Number(r.body_id), data: r.data })));
}

/** The chunks of message_body_chunks for these bodies, as SQL over the bigint[] parameter `param`. */
export const bodyChunksSql = (param: string): string =>
  `SELECT body_id, seq, data FROM message_body_chunks WHERE body_id = ANY(${param}::bigint[]) ORDER BY body_id, seq`;

/**
 * Like bodyChunksSql, but of each message only its header section (up to and with the first empty
 * line, CRLF or LF) when the first chunk holds it, as chunk 0; a message whose first chunk has no
 * empty line comes whole. For a reader that needs header fields only (a Sieve script that tests no
 * body): a small part of the bytes, with the same columns and order.
 */
export const bodyHeaderChunksSql = (param: string): string =>
  `WITH first AS MATERIALIZED (
     SELECT body_id, data, LEAST(NULLIF(position('\\x0d0a0d0a'::bytea IN data), 0) + 3,
                                 NULLIF(position('\\x0a0a'::bytea IN data), 0) + 1) AS cut
     FROM message_body_chunks WHERE body_id = ANY(${param}::bigint[]) AND seq = 0)
   SELECT body_id, 0 AS seq, substring(data FROM 1 FOR cut) AS data FROM first WHERE cut IS NOT NULL
   UNION ALL
   SELECT c.body_id, c.seq, c.data FROM message_body_chunks c JOIN first f ON f.body_id = c.body_id AND f.cut IS NULL
   ORDER BY body_id, seq`;

/** Bodies from their chunks, given in order (bodyChunksSql's), by body id. */
export function joinBodyChunks(chunks: Iterable<{ bodyId: number; data: Buffer }>): Map<number, Buffer> {
  const parts = new Map<number, Buffer[]>();
  for (const { bodyId, data } of chunks) {
    const list = parts.get(bodyId) ?? [];
    list.push(data);
    parts.set(bodyId, list);
  }
  const out = new Map<number, Buffer>();
  for (const [id, list] of parts) out.set(id, list.length === 1 ? list[0]! : Buffer.concat(list));
  return out;
}

/** Streams a stored body chunk by chunk. */
export async function* readBody(pool: Pool | PoolClient, bodyId: number): AsyncGenerator<Buffer> {
  let seq = 0;
  for (;;) {
    const { rows } = await pool.query<{ data: Buffer }>({
      name: 'mail-store-read-body',
      text: 'SELECT data FROM message_body_chunks WHERE body_id = $1 AND seq >= $2 ORDER BY seq LIMIT 4',
      values: [bodyId, seq],
    });
    for (const row of rows) {
      yield row.data;
      seq++;
    }
    if (rows.length < 4) return;
  }
}
