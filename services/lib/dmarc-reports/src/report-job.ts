import type { Pool } from '@hermod/db';
import { aggregateReportXml } from './aggregate-xml.js';
import { parseDmarcRecord, ruaAuthorised, type TxtLookup } from './dmarc-record.js';
import { dmarcReportMessage } from './report-message.js';
import { deleteDmarcEvaluations, dueDmarcReports, loadDmarcAggregate } from './store.js';

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

export interface DmarcPassResult {
  reports: number;
  sent: number;
  /** rua addresses refused by the external-destination check. */
  unauthorised: number;
}

/** The current DMARC record of a domain, or undefined (none, or not DMARC). */
async function currentRecord(domain: string, lookup: TxtLookup) {
  let texts: string[];
  try {
    texts = (await lookup(`_dmarc.${domain}`)).map((parts) => parts.join(''));
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ENOTFOUND' || code === 'ENODATA') return undefined;
    throw error;
  }
  return texts.map(parseDmarcRecord).find((r) => r !== undefined);
}

/**
 * One pass: every ended period with evaluations becomes one XML report per policy domain, sent to
 * each authorised rua address of the domain's current record; the period's evaluations are then
 * deleted. A DNS failure leaves the period for the next pass.
 */
export async function runDmarcReportPass(deps: DmarcReporterDeps): Promise<DmarcPassResult> {
  const result: DmarcPassResult = { reports: 0, sent: 0, unauthorised: 0 };
  for (const due of await dueDmarcReports(deps.pool, deps.periodSeconds)) {
    const data = await loadDmarcAggregate(deps.pool, due);
    const current = await currentRecord(due.policyDomain, deps.resolveTxt);
    const published = parseDmarcRecord(data?.policyRecord ?? '') ?? current;
    if (data && published && current && current.rua.length > 0) {
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
      result.reports += 1;
      for (const to of current.rua) {
        const ruaDomain = to.split('@')[1] ?? '';
        if (!(await ruaAuthorised(due.policyDomain, ruaDomain, deps.resolveTxt))) {
          result.unauthorised += 1;
          continue;
        }
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
        result.sent += 1;
      }
    }
    await deleteDmarcEvaluations(deps.pool, due);
  }
  return result;
}
