import type { Pool } from '@hermod/db';

/** Sizes of bodies on the POP3 wire (migration 107), by body id: only those computed before. */
export async function loadPop3Sizes(pool: Pool, bodyIds: readonly number[]): Promise<Map<number, number>> {
  const { rows } = await pool.query<{ body_id: string; size: string }>(
    'SELECT body_id, size FROM pop3_body_sizes WHERE body_id = ANY($1::bigint[])',
    [bodyIds],
  );
  return new Map(rows.map((r) => [Number(r.body_id), Number(r.size)]));
}

/** Records computed POP3 wire sizes (a body another session recorded meanwhile keeps its row). */
export async function savePop3Sizes(pool: Pool, sizes: ReadonlyMap<number, number>): Promise<void> {
  if (sizes.size === 0) return;
  await pool.query(
    `INSERT INTO pop3_body_sizes (body_id, size)
     SELECT * FROM unnest($1::bigint[], $2::bigint[])
     ON CONFLICT (body_id) DO NOTHING`,
    [[...sizes.keys()], [...sizes.values()]],
  );
}
