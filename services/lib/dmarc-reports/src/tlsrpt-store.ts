import type { Pool } from '@hermod/db';
import { periodStart } from './report-pass.js';

/** The policy a TLS session was held under (RFC 8460 section 4.4 `policy`). */
export interface TlsPolicyDescription {
  type: 'tlsa' | 'sts' | 'no-policy-found';
  /** The policy as published: TLSA records in presentation form, or the MTA-STS policy's lines. */
  strings: string[];
  /** MTA-STS: the policy's mx patterns. */
  mxHosts: string[];
}

/** Sessions of one kind, counted by outbound-mta: a success when resultType is undefined. */
export interface TlsSessionCount {
  policyDomain: string;
  policy: TlsPolicyDescription;
  resultType?: string | undefined;
  receivingMxHostname?: string | undefined;
  receivingIp?: string | undefined;
  at: Date;
  sessions: number;
}

/** Adds session counts (one statement; rows of the same key and period add up). */
export async function recordTlsSessions(
  pool: Pool,
  rows: readonly TlsSessionCount[],
  periodSeconds: number,
): Promise<void> {
  if (rows.length === 0) return;
  await pool.query(
    `INSERT INTO tls_report_counts AS t (policy_domain, period_start, policy_type, policy_strings, mx_hosts,
       result_type, receiving_mx_hostname, receiving_ip, sessions)
     SELECT d, to_timestamp(p), pt, ps, mx, rt, host, ip, sum(n) FROM unnest($1::text[], $2::bigint[], $3::text[],
       $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bigint[]) AS u(d, p, pt, ps, mx, rt, host, ip, n)
     GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
     ON CONFLICT (policy_domain, period_start, policy_type, policy_strings, mx_hosts, result_type,
       receiving_mx_hostname, receiving_ip) DO UPDATE SET sessions = t.sessions + excluded.sessions`,
    [
      rows.map((r) => r.policyDomain.toLowerCase()),
      rows.map((r) => periodStart(r.at, periodSeconds)),
      rows.map((r) => r.policy.type),
      rows.map((r) => JSON.stringify(r.policy.strings)),
      rows.map((r) => JSON.stringify(r.policy.mxHosts)),
      rows.map((r) => r.resultType ?? ''),
      rows.map((r) => r.receivingMxHostname ?? ''),
      rows.map((r) => r.receivingIp ?? ''),
      rows.map((r) => r.sessions),
    ],
  );
}

/** A TLS report to build: a policy domain's counts in one ended period [begin, end) (epoch seconds). */
export interface DueTlsReport {
  policyDomain: string;
  begin: number;
  end: number;
}

export async function dueTlsReports(pool: Pool, periodSeconds: number, limit = 100): Promise<DueTlsReport[]> {
  const { rows } = await pool.query<{ policy_domain: string; begin: string }>(
    `SELECT policy_domain, extract(epoch FROM period_start)::bigint AS begin FROM tls_report_counts
     WHERE period_start + make_interval(secs => $1) <= now()
     GROUP BY 1, 2 ORDER BY 2, 1 LIMIT $2`,
    [periodSeconds, limit],
  );
  return rows.map((r) => ({
    policyDomain: r.policy_domain,
    begin: Number(r.begin),
    end: Number(r.begin) + periodSeconds,
  }));
}

/** One policy's counts in a period: successes, and failures by kind. */
export interface TlsPolicyCounts {
  policy: TlsPolicyDescription;
  successes: number;
  failures: Array<{ resultType: string; receivingMxHostname: string; receivingIp: string; sessions: number }>;
}

export async function loadTlsReport(pool: Pool, due: DueTlsReport): Promise<TlsPolicyCounts[]> {
  const { rows } = await pool.query<{
    policy_type: TlsPolicyDescription['type'];
    policy_strings: string;
    mx_hosts: string;
    result_type: string;
    receiving_mx_hostname: string;
    receiving_ip: string;
    sessions: string;
  }>(
    `SELECT policy_type, policy_strings, mx_hosts, result_type, receiving_mx_hostname, receiving_ip, sessions
     FROM tls_report_counts WHERE policy_domain = $1 AND period_start = to_timestamp($2)
     ORDER BY policy_type, policy_strings, mx_hosts, result_type, receiving_mx_hostname, receiving_ip`,
    [due.policyDomain, due.begin],
  );
  const policies = new Map<string, TlsPolicyCounts>();
  for (const r of rows) {
    const key = `${r.policy_type}|${r.policy_strings}|${r.mx_hosts}`;
    let entry = policies.get(key);
    if (!entry) {
      entry = {
        policy: {
          type: r.policy_type,
          strings: JSON.parse(r.policy_strings),
          mxHosts: JSON.parse(r.mx_hosts),
        },
        successes: 0,
        failures: [],
      };
      policies.set(key, entry);
    }
    if (r.result_type === '') entry.successes += Number(r.sessions);
    else
      entry.failures.push({
        resultType: r.result_type,
        receivingMxHostname: r.receiving_mx_hostname,
        receivingIp: r.receiving_ip,
        sessions: Number(r.sessions),
      });
  }
  return [...policies.values()];
}

export async function deleteTlsReport(pool: Pool, due: DueTlsReport): Promise<void> {
  await pool.query(
    'DELETE FROM tls_report_counts WHERE policy_domain = $1 AND period_start = to_timestamp($2)',
    [due.policyDomain, due.begin],
  );
}
