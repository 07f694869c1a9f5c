import type { Pool } from '@hermod/db';
import { aggregateReportXml } from './aggregate-xml.js';
import { parseDmarcRecord, publishedTexts, ruaAuthorised, type TxtLookup } from './dmarc-record.js';
import { dmarcReportMessage } from './report-message.js';
import { type ReportPassResult, runReportPass } from './report-pass.js';
import { type DueReport, deleteDmarcEvaluations, dueDmarcReports, loadDmarcAggregate } from './store.js';

export interface DmarcReporterDeps {
  pool: Pool;
  /** TXT lookups: the domain's current DMARC record (rua) and the external-destination check. */
  resolveTxt: TxtLookup;
  /**
   * Puts a message into the outbound path; `key` names it, so a retried pass for the same report
   * and address never sends a second one.
   */
  inject: (key: string, message: { mailFrom: string; to: string; body: Buffer }) => Promise<void>;
  /** Our identity in reports: org_name, and the From (and envelope sender) of report mail. */
  orgName: string;
  from: string;
  periodSeconds: number;
}

export type DmarcPassResult = ReportPassResult;

/** The current DMARC record of a domain, or undefined (none, or not DMARC). */
async function currentRecord(domain: string, lookup: TxtLookup) {
  return (await publishedTexts(`_dmarc.${domain}`, lookup))
    .map(parseDmarcRecord)
    .find((r) => r !== undefined);
}

/**
 * One pass (the shared rule of report-pass.ts): every ended period with evaluations becomes one
 * XML report per policy domain, sent to each authorised rua address of the domain's current
 * record (refused: not authorised by `_report._dmarc`).
 */
export function runDmarcReportPass(deps: DmarcReporterDeps): Promise<DmarcPassResult> {
  return runReportPass<DueReport, { xml: string; reportId: string }>({
    due: () => dueDmarcReports(deps.pool, deps.periodSeconds),
    async build(due) {
      const data = await loadDmarcAggregate(deps.pool, due);
      const current = await currentRecord(due.policyDomain, deps.resolveTxt);
      const published = parseDmarcRecord(data?.policyRecord ?? '') ?? current;
      if (!data || !published || !current || current.rua.length === 0) return undefined;
      const reportId = `${due.policyDomain}.${due.begin}.${deps.periodSeconds}`;
      const xml = aggregateReportXml({
        orgName: deps.orgName,
        email: deps.from,
        reportId,
        begin: due.begin,
        end: due.end,
        policyDomain: due.policyDomain,
        policy: published,
        rows: data.rows,
      });
      return { report: { xml, reportId }, destinations: current.rua };
    },
    async deliver({ xml, reportId }, to, due) {
      const ruaDomain = to.split('@')[1] ?? '';
      if (!(await ruaAuthorised(due.policyDomain, ruaDomain, deps.resolveTxt))) return false;
      const body = dmarcReportMessage({
        from: deps.from,
        to,
        orgName: deps.orgName,
        policyDomain: due.policyDomain,
        reportId,
        begin: due.begin,
        end: due.end,
        xml,
      });
      await deps.inject(`dmarc-report:${reportId}:${to.toLowerCase()}`, { mailFrom: deps.from, to, body });
      return true;
    },
    done: async (due) => {
      await deleteDmarcEvaluations(deps.pool, due);
    },
  });
}
