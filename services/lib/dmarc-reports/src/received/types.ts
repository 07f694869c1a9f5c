/** Why a report could not be read; `reason` is a small fixed set (a metric label). */
export type ReportFailureReason = 'too-large' | 'decompress' | 'malformed' | 'invalid';

export class ReportParseError extends Error {
  readonly code = 'REPORT_PARSE';
  constructor(
    readonly reason: ReportFailureReason,
    message: string,
  ) {
    super(message);
    this.name = 'ReportParseError';
  }
}

/** Limits of reading one report; every size is checked before or while the bytes are produced. */
export interface ReportLimits {
  /** Largest report file after decompression (XML or JSON), in bytes. */
  maxReportBytes: number;
  /** Most records (DMARC rows, TLS-RPT policy results) one report may carry. */
  maxRecords: number;
}

export const defaultReportLimits: ReportLimits = { maxReportBytes: 10 * 1024 * 1024, maxRecords: 10_000 };

/** One line of a received report: a DMARC row or a TLS-RPT result of one policy. */
export interface ReceivedRecord {
  /** DMARC: the row's source IP; TLS-RPT: the receiving IP of a failure ('' when not given). */
  sourceIp: string;
  /** DMARC: `pass` or `fail` (DMARC passes when the aligned DKIM or SPF result passes); TLS-RPT: `successful` or the result type (RFC 8460 section 4.3). */
  result: string;
  /** DMARC: the disposition applied (none, quarantine, reject); TLS-RPT: ''. */
  disposition: string;
  /** Messages (DMARC) or sessions (TLS-RPT). */
  count: number;
  details: Record<string, unknown>;
}

export interface ReceivedReport {
  kind: 'dmarc' | 'tlsrpt';
  orgName: string;
  /** DMARC report_metadata email; TLS-RPT contact-info. */
  contact: string;
  reportId: string;
  policyDomain: string;
  begin: Date;
  end: Date;
  /** DMARC: policy_published; TLS-RPT: the policies (type, domain, strings, mx hosts). */
  policy: Record<string, unknown>;
  records: ReceivedRecord[];
}
