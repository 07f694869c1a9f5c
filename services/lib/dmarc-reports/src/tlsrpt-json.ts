import type { TlsPolicyCounts } from './tlsrpt-store.js';

export interface TlsReportInput {
  organizationName: string;
  contactInfo: string;
  reportId: string;
  policyDomain: string;
  /** Epoch seconds; the range is [begin, end). */
  begin: number;
  end: number;
  policies: TlsPolicyCounts[];
}

const iso = (seconds: number) => new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The JSON report of RFC 8460 section 4.4 (field names and nesting as the RFC gives them). */
export function tlsReportJson(input: TlsReportInput): string {
  return JSON.stringify({
    'organization-name': input.organizationName,
    'date-range': { 'start-datetime': iso(input.begin), 'end-datetime': iso(input.end) },
    'contact-info': input.contactInfo,
    'report-id': input.reportId,
    policies: input.policies.map((p) => ({
      policy: {
        'policy-type': p.policy.type,
        ...(p.policy.strings.length > 0 ? { 'policy-string': p.policy.strings } : {}),
        'policy-domain': input.policyDomain,
        ...(p.policy.mxHosts.length > 0 ? { 'mx-host': p.policy.mxHosts } : {}),
      },
      summary: {
        'total-successful-session-count': p.successes,
        'total-failure-session-count': p.failures.reduce((n, f) => n + f.sessions, 0),
      },
      ...(p.failures.length > 0
        ? {
            'failure-details': p.failures.map((f) => ({
              'result-type': f.resultType,
              ...(f.receivingMxHostname ? { 'receiving-mx-hostname': f.receivingMxHostname } : {}),
              ...(f.receivingIp ? { 'receiving-ip': f.receivingIp } : {}),
              'failed-session-count': f.sessions,
            })),
          }
        : {}),
    })),
  });
}
