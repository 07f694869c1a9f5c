import { isIPv4, isIPv6 } from 'node:net';
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

/**
 * An address as the appendix C schema's IPAddress type takes it: IPv4 dot-decimal, or IPv6 as all
 * eight colon-separated groups (the schema's pattern knows no `::` and no embedded IPv4).
 * IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`, a dual-stack socket's view) are the IPv4 address.
 */
export function reportSourceIp(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped && isIPv4(mapped[1]!)) return mapped[1]!;
  if (!isIPv6(address)) return address;
  let text = address.toLowerCase();
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups =
    tail === undefined
      ? left
      : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return groups.map((g) => g.replace(/^0+(?=.)/, '')).join(':');
}

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
    el('fo', p.fo),
    '</policy_published>',
  );
  for (const row of report.rows) {
    out.push(
      '<record>',
      '<row>',
      el('source_ip', reportSourceIp(row.sourceIp)),
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
