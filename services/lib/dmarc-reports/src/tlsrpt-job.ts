import { gzipSync } from 'node:zlib';
import type { Pool } from '@hermod/db';
import type { TxtLookup } from './dmarc-record.js';
import { type ReportPassResult, runReportPass } from './report-pass.js';
import { tlsReportJson } from './tlsrpt-json.js';
import { tlsReportMessage } from './tlsrpt-message.js';
import { currentTlsRptRecord } from './tlsrpt-record.js';
import { type DueTlsReport, deleteTlsReport, dueTlsReports, loadTlsReport } from './tlsrpt-store.js';

export interface TlsReporterDeps {
  pool: Pool;
  /** TXT lookups of `_smtp._tls.<domain>`. */
  resolveTxt: TxtLookup;
  /** Puts a report mail into the outbound path; `key` names it (a retried pass sends it once). */
  inject: (key: string, message: { mailFrom: string; to: string; body: Buffer }) => Promise<void>;
  /** POSTs the gzipped report (application/tlsrpt+gzip) to an https: rua; throws when refused. */
  post: (url: string, gzipped: Buffer) => Promise<void>;
  organizationName: string;
  /** From and envelope sender of report mail, and the report's contact-info. */
  from: string;
  periodSeconds: number;
}

/**
 * One pass of the shared report rule: every ended period becomes one RFC 8460 report per policy
 * domain that publishes a TLS-RPT policy, mailed (multipart/report, through the outbound queue)
 * and POSTed to its rua URIs. A refused POST counts as refused; the period is dropped after it.
 */
export function runTlsReportPass(deps: TlsReporterDeps): Promise<ReportPassResult> {
  return runReportPass<DueTlsReport, { gzipped: Buffer; reportId: string }>({
    due: () => dueTlsReports(deps.pool, deps.periodSeconds),
    async build(due) {
      const record = await currentTlsRptRecord(due.policyDomain, deps.resolveTxt);
      if (!record) return undefined;
      const policies = await loadTlsReport(deps.pool, due);
      if (policies.length === 0) return undefined;
      const reportId = `${due.policyDomain}.${due.begin}.${deps.periodSeconds}@${deps.from.split('@')[1] ?? ''}`;
      const json = tlsReportJson({
        organizationName: deps.organizationName,
        contactInfo: deps.from,
        reportId,
        policyDomain: due.policyDomain,
        begin: due.begin,
        end: due.end,
        policies,
      });
      return { report: { gzipped: gzipSync(Buffer.from(json, 'utf8')), reportId }, destinations: record.rua };
    },
    async deliver({ gzipped, reportId }, uri, due) {
      if (/^https:/i.test(uri)) {
        try {
          await deps.post(uri, gzipped);
          return true;
        } catch {
          return false;
        }
      }
      const to = decodeURIComponent(uri.slice('mailto:'.length));
      const body = tlsReportMessage({
        from: deps.from,
        to,
        organizationName: deps.organizationName,
        policyDomain: due.policyDomain,
        reportId,
        begin: due.begin,
        end: due.end,
        gzipped,
      });
      await deps.inject(`tls-report:${reportId}:${to.toLowerCase()}`, { mailFrom: deps.from, to, body });
      return true;
    },
    done: (due) => deleteTlsReport(deps.pool, due),
  });
}
