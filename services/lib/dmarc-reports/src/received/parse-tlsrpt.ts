import { type ReceivedRecord, type ReceivedReport, type ReportLimits, ReportParseError } from './types.js';

// biome-ignore lint/suspicious/noExplicitAny: parsed JSON is walked and checked field by field
type Node = any;

function str(value: Node, what: string): string {
  if (typeof value !== 'string' || value === '')
    throw new ReportParseError('invalid', `TLS report without ${what}`);
  return value;
}

function count(value: Node, what: string): number {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new ReportParseError('invalid', `TLS report: ${what} is not a count`);
  return value;
}

function date(value: Node, what: string): Date {
  const d = new Date(str(value, what));
  if (Number.isNaN(d.getTime()))
    throw new ReportParseError('invalid', `TLS report: ${what} is not a date-time`);
  return d;
}

/**
 * An RFC 8460 section 4.4 report: per policy one `successful` record with the successful sessions
 * and one record per failure detail; failures the details do not account for become one record of
 * result `unspecified`, so the records always add up to the summary.
 */
export function parseTlsReport(json: Buffer, limits: ReportLimits): ReceivedReport {
  let report: Node;
  try {
    report = JSON.parse(json.toString('utf8').replace(/^\uFEFF/, ''));
  } catch (error) {
    throw new ReportParseError('malformed', `JSON: ${(error as Error).message}`);
  }
  if (!report || typeof report !== 'object' || !Array.isArray(report.policies))
    throw new ReportParseError('invalid', 'no policies: not a TLS report');
  const records: ReceivedRecord[] = [];
  const policies = report.policies.map((entry: Node, i: number) => {
    const policy: Node = entry?.policy ?? {};
    const policyDomain = str(policy['policy-domain'], `a policy-domain in policy ${i + 1}`).toLowerCase();
    const policyType = str(policy['policy-type'], `a policy-type in policy ${i + 1}`);
    const successes = count(
      entry?.summary?.['total-successful-session-count'],
      'total-successful-session-count',
    );
    const failures = count(entry?.summary?.['total-failure-session-count'], 'total-failure-session-count');
    const base = { policyDomain, policyType };
    if (successes > 0)
      records.push({ sourceIp: '', result: 'successful', disposition: '', count: successes, details: base });
    let detailed = 0;
    for (const f of entry['failure-details'] ?? []) {
      const sessions = count(f?.['failed-session-count'], 'failed-session-count');
      detailed += sessions;
      records.push({
        sourceIp: typeof f['receiving-ip'] === 'string' ? f['receiving-ip'] : '',
        result: str(f['result-type'], 'a result-type'),
        disposition: '',
        count: sessions,
        details: {
          ...base,
          ...(typeof f['receiving-mx-hostname'] === 'string'
            ? { receivingMx: f['receiving-mx-hostname'] }
            : {}),
          ...(typeof f['failure-reason-code'] === 'string' ? { reasonCode: f['failure-reason-code'] } : {}),
        },
      });
    }
    if (failures > detailed)
      records.push({
        sourceIp: '',
        result: 'unspecified',
        disposition: '',
        count: failures - detailed,
        details: base,
      });
    if (records.length > limits.maxRecords)
      throw new ReportParseError('too-large', `over ${limits.maxRecords} records`);
    return {
      type: policyType,
      domain: policyDomain,
      ...(Array.isArray(policy['policy-string']) ? { strings: policy['policy-string'] } : {}),
      ...(Array.isArray(policy['mx-host']) ? { mxHosts: policy['mx-host'] } : {}),
    };
  });
  const range: Node = report['date-range'] ?? {};
  return {
    kind: 'tlsrpt',
    orgName: str(report['organization-name'], 'organization-name'),
    contact: typeof report['contact-info'] === 'string' ? report['contact-info'] : '',
    reportId: str(report['report-id'], 'report-id'),
    policyDomain: policies[0]?.domain ?? '',
    begin: date(range['start-datetime'], 'start-datetime'),
    end: date(range['end-datetime'], 'end-datetime'),
    policy: { policies },
    records,
  };
}
