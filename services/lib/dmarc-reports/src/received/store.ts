import type { Pool, PoolClient } from '@hermod/db';
import type { FoundReport } from './find-reports.js';
import type { ReceivedRecord } from './types.js';

type Db = Pool | PoolClient;

/**
 * Stores the reports found in one delivered message. The key is the spool id and the attachment's
 * position, so a message delivered again stores nothing new; returns the reports stored now.
 */
export async function storeReceivedReports(
  db: Db,
  spoolId: string,
  found: FoundReport[],
): Promise<FoundReport[]> {
  const stored: FoundReport[] = [];
  for (const f of found) {
    const r = f.report;
    const { rows } = await db.query<{ id: string }>(
      `WITH report AS (
         INSERT INTO received_reports (kind, source_key, org_name, contact, report_id, policy_domain, begin_at, end_at, policy)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb)
         ON CONFLICT (source_key) DO NOTHING RETURNING id),
       records AS (
         INSERT INTO received_report_records (report, line, source_ip, result, disposition, count, details)
         SELECT report.id, e.line, e.rec->>'sourceIp', e.rec->>'result', e.rec->>'disposition',
                (e.rec->>'count')::bigint, e.rec->'details'
         FROM report CROSS JOIN jsonb_array_elements($10::jsonb) WITH ORDINALITY AS e(rec, line))
       SELECT id FROM report`,
      [
        r.kind,
        `${spoolId}/${f.part}`,
        r.orgName,
        r.contact,
        r.reportId,
        r.policyDomain,
        r.begin,
        r.end,
        JSON.stringify(r.policy),
        JSON.stringify(r.records),
      ],
    );
    if (rows.length > 0) stored.push(f);
  }
  return stored;
}

export interface ReceivedReportSummary {
  id: number;
  kind: 'dmarc' | 'tlsrpt';
  orgName: string;
  reportId: string;
  policyDomain: string;
  begin: Date;
  end: Date;
  receivedAt: Date;
  records: number;
  /** DMARC: messages that passed / failed DMARC; TLS-RPT: successful / failed sessions. */
  passed: number;
  failed: number;
}

export interface ReceivedReportFilter {
  domain?: string;
  /** Reports whose period ends at or after this moment. */
  since?: Date;
  kind?: 'dmarc' | 'tlsrpt';
  limit: number;
}

interface SummaryRow {
  id: string;
  kind: 'dmarc' | 'tlsrpt';
  org_name: string;
  report_id: string;
  policy_domain: string;
  begin_at: Date;
  end_at: Date;
  received_at: Date;
  records: number;
  passed: string;
  failed: string;
}

const summarySelect = `SELECT r.id, r.contact, r.policy, r.kind, r.org_name, r.report_id, r.policy_domain, r.begin_at, r.end_at, r.received_at,
    (SELECT count(*)::int FROM received_report_records x WHERE x.report = r.id) AS records,
    (SELECT COALESCE(sum(x.count), 0) FROM received_report_records x
       WHERE x.report = r.id AND x.result IN ('pass', 'successful')) AS passed,
    (SELECT COALESCE(sum(x.count), 0) FROM received_report_records x
       WHERE x.report = r.id AND x.result NOT IN ('pass', 'successful')) AS failed
  FROM received_reports r`;

const summary = (r: SummaryRow): ReceivedReportSummary => ({
  id: Number(r.id),
  kind: r.kind,
  orgName: r.org_name,
  reportId: r.report_id,
  policyDomain: r.policy_domain,
  begin: r.begin_at,
  end: r.end_at,
  receivedAt: r.received_at,
  records: r.records,
  passed: Number(r.passed),
  failed: Number(r.failed),
});

/** Received reports, newest period first, with their totals. */
export async function listReceivedReports(
  db: Db,
  filter: ReceivedReportFilter,
): Promise<ReceivedReportSummary[]> {
  const { rows } = await db.query<SummaryRow>(
    `${summarySelect}
     WHERE ($1::text IS NULL OR r.policy_domain = lower($1)) AND ($2::timestamptz IS NULL OR r.end_at >= $2)
       AND ($3::text IS NULL OR r.kind = $3)
     ORDER BY r.end_at DESC, r.id DESC LIMIT $4`,
    [filter.domain ?? null, filter.since ?? null, filter.kind ?? null, filter.limit],
  );
  return rows.map(summary);
}

export interface ReceivedReportDetail extends ReceivedReportSummary {
  contact: string;
  policy: Record<string, unknown>;
  lines: ReceivedRecord[];
}

/** One received report with its lines; undefined when there is no such id. */
export async function showReceivedReport(db: Db, id: number): Promise<ReceivedReportDetail | undefined> {
  const { rows } = await db.query<SummaryRow & { contact: string; policy: Record<string, unknown> }>(
    `${summarySelect} WHERE r.id = $1`,
    [id],
  );
  const row = rows[0];
  if (!row) return undefined;
  const lines = await db.query<{
    source_ip: string;
    result: string;
    disposition: string;
    count: string;
    details: Record<string, unknown>;
  }>(
    'SELECT source_ip, result, disposition, count, details FROM received_report_records WHERE report = $1 ORDER BY line',
    [id],
  );
  return {
    ...summary(row),
    contact: row.contact,
    policy: row.policy,
    lines: lines.rows.map((l) => ({
      sourceIp: l.source_ip,
      result: l.result,
      disposition: l.disposition,
      count: Number(l.count),
      details: l.details,
    })),
  };
}
