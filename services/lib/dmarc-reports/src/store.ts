import type { Pool } from '@hermod/db';

/** One DMARC evaluation of a received message, as the MX saw it. */
export interface DmarcEvaluation {
  policyDomain: string;
  policyRecord: string;
  headerFrom: string;
  sourceIp: string;
  spfDomain: string;
  spfScope: 'mfrom' | 'helo';
  spfResult: string;
  dkim: Array<{ domain: string; selector?: string; result: string }>;
  dkimAligned: boolean;
  spfAligned: boolean;
  disposition: 'none' | 'quarantine' | 'reject';
}

/** Writes evaluations in one statement. */
export async function recordDmarcEvaluations(pool: Pool, rows: readonly DmarcEvaluation[]): Promise<void> {
  if (rows.length === 0) return;
  await pool.query(
    `INSERT INTO dmarc_evaluations (policy_domain, policy_record, header_from, source_ip, spf_domain, spf_scope,
       spf_result, dkim, dkim_aligned, spf_aligned, disposition)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::inet[], $5::text[], $6::text[], $7::text[],
       $8::jsonb[], $9::boolean[], $10::boolean[], $11::text[])`,
    [
      rows.map((r) => r.policyDomain.toLowerCase()),
      rows.map((r) => r.policyRecord),
      rows.map((r) => r.headerFrom.toLowerCase()),
      rows.map((r) => r.sourceIp.replace(/^::ffff:/, '')),
      rows.map((r) => r.spfDomain.toLowerCase()),
      rows.map((r) => r.spfScope),
      rows.map((r) => r.spfResult),
      rows.map((r) => JSON.stringify(r.dkim)),
      rows.map((r) => r.dkimAligned),
      rows.map((r) => r.spfAligned),
      rows.map((r) => r.disposition),
    ],
  );
}

/** A report to build: a policy domain's evaluations in one closed period [begin, end). */
export interface DueReport {
  policyDomain: string;
  /** Seconds since the epoch. */
  begin: number;
  end: number;
}

/** Periods (aligned to periodSeconds since the epoch) that have ended and still hold evaluations. */
export async function dueDmarcReports(pool: Pool, periodSeconds: number, limit = 100): Promise<DueReport[]> {
  const { rows } = await pool.query<{ policy_domain: string; period: string }>(
    `SELECT policy_domain, floor(extract(epoch FROM evaluated_at) / $1)::bigint AS period
     FROM dmarc_evaluations
     WHERE evaluated_at < to_timestamp(floor(extract(epoch FROM now()) / $1) * $1)
     GROUP BY 1, 2 ORDER BY 2, 1 LIMIT $2`,
    [periodSeconds, limit],
  );
  return rows.map((r) => ({
    policyDomain: r.policy_domain,
    begin: Number(r.period) * periodSeconds,
    end: (Number(r.period) + 1) * periodSeconds,
  }));
}

/** Evaluations of one report summed into rows: equal facts counted once (RFC 7489 `count`). */
export interface AggregateRow {
  sourceIp: string;
  count: number;
  disposition: DmarcEvaluation['disposition'];
  dkimAligned: boolean;
  spfAligned: boolean;
  headerFrom: string;
  spfDomain: string;
  spfScope: DmarcEvaluation['spfScope'];
  spfResult: string;
  dkim: DmarcEvaluation['dkim'];
}

export interface AggregateData {
  /** The most recent record text seen in the period (policy_published). */
  policyRecord: string;
  rows: AggregateRow[];
}

const periodWhere =
  'policy_domain = $1 AND evaluated_at >= to_timestamp($2) AND evaluated_at < to_timestamp($3)';

export async function loadDmarcAggregate(pool: Pool, due: DueReport): Promise<AggregateData | undefined> {
  const args = [due.policyDomain, due.begin, due.end];
  const latest = await pool.query<{ policy_record: string }>(
    `SELECT policy_record FROM dmarc_evaluations WHERE ${periodWhere} ORDER BY evaluated_at DESC, id DESC LIMIT 1`,
    args,
  );
  const policyRecord = latest.rows[0]?.policy_record;
  if (policyRecord === undefined) return undefined;
  const { rows } = await pool.query<{
    source_ip: string;
    count: number;
    disposition: DmarcEvaluation['disposition'];
    dkim_aligned: boolean;
    spf_aligned: boolean;
    header_from: string;
    spf_domain: string;
    spf_scope: DmarcEvaluation['spfScope'];
    spf_result: string;
    dkim: DmarcEvaluation['dkim'];
  }>(
    `SELECT host(source_ip) AS source_ip, count(*)::int AS count, disposition, dkim_aligned, spf_aligned,
            header_from, spf_domain, spf_scope, spf_result, dkim
     FROM dmarc_evaluations WHERE ${periodWhere}
     GROUP BY source_ip, disposition, dkim_aligned, spf_aligned, header_from, spf_domain, spf_scope, spf_result, dkim
     ORDER BY source_ip, header_from`,
    args,
  );
  return {
    policyRecord,
    rows: rows.map((r) => ({
      sourceIp: r.source_ip,
      count: r.count,
      disposition: r.disposition,
      dkimAligned: r.dkim_aligned,
      spfAligned: r.spf_aligned,
      headerFrom: r.header_from,
      spfDomain: r.spf_domain,
      spfScope: r.spf_scope,
      spfResult: r.spf_result,
      dkim: r.dkim,
    })),
  };
}

/** Drops a period's evaluations once its report is in the spool (or was not wanted). */
export async function deleteDmarcEvaluations(pool: Pool, due: DueReport): Promise<number> {
  const { rowCount } = await pool.query(`DELETE FROM dmarc_evaluations WHERE ${periodWhere}`, [
    due.policyDomain,
    due.begin,
    due.end,
  ]);
  return rowCount ?? 0;
}
