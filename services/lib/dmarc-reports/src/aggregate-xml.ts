import type { DmarcRecord } from './dmarc-record.js';
import type { AggregateRow } from './store.js';

export interface AggregateReport {
  orgName: string;
  email: string;
  reportId: string;
  /** Seconds since the epoch, [begin, end). */
  begin: number;
  end: number;
  policyDomain: string;
  policy: DmarcRecord;
  rows: AggregateRow[];
}

const escapeXml = (s: string) =>
  s.replace(
    /[<>&"']/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] ?? c,
  );

const el = (name: string, value: string | number) => `<${name}>${escapeXml(String(value))}</${name}>`;

const dkimResults = new Set(['none', 'pass', 'fail', 'policy', 'neutral', 'temperror', 'permerror']);
const spfResults = new Set(['none', 'neutral', 'pass', 'fail', 'softfail', 'temperror', 'permerror']);

/** The aggregate report document of RFC 7489 appendix C (`feedback`). */
export function aggregateReportXml(report: AggregateReport): string {
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>', '<feedback>', el('version', '1.0')];
  out.push(
    '<report_metadata>',
    el('org_name', report.orgName),
    el('email', report.email),
    el('report_id', report.reportId),
    `<date_range>${el('begin', report.begin)}${el('end', report.end - 1)}</date_range>`,
    '</report_metadata>',
  );
  const p = report.policy;
  out.push(
    '<policy_published>',
    el('domain', report.policyDomain),
    el('adkim', p.adkim),
    el('aspf', p.aspf),
    el('p', p.p),
    el('sp', p.sp),
    el('pct', p.pct),
    '</policy_published>',
  );
  for (const row of report.rows) {
    out.push(
      '<record>',
      '<row>',
      el('source_ip', row.sourceIp),
      el('count', row.count),
      '<policy_evaluated>',
      el('disposition', row.disposition),
      el('dkim', row.dkimAligned ? 'pass' : 'fail'),
      el('spf', row.spfAligned ? 'pass' : 'fail'),
      '</policy_evaluated>',
      '</row>',
      `<identifiers>${el('header_from', row.headerFrom)}</identifiers>`,
      '<auth_results>',
    );
    for (const d of row.dkim) {
      out.push(
        '<dkim>',
        el('domain', d.domain),
        ...(d.selector ? [el('selector', d.selector)] : []),
        el('result', dkimResults.has(d.result) ? d.result : 'permerror'),
        '</dkim>',
      );
    }
    out.push(
      '<spf>',
      el('domain', row.spfDomain),
      el('scope', row.spfScope),
      el('result', spfResults.has(row.spfResult) ? row.spfResult : 'permerror'),
      '</spf>',
      '</auth_results>',
      '</record>',
    );
  }
  out.push('</feedback>');
  return `${out.join('\n')}\n`;
}
