import { reportMail } from './report-message.js';

export interface TlsReportMessageInput {
  from: string;
  to: string;
  organizationName: string;
  policyDomain: string;
  reportId: string;
  begin: number;
  end: number;
  /** The gzipped JSON report. */
  gzipped: Buffer;
  date?: Date;
}

/** RFC 8460 section 5.1: `<sender>!<policy-domain>!<begin>!<end>!<id>.json.gz`. */
export const tlsReportFilename = (input: TlsReportMessageInput) =>
  `${input.organizationName}!${input.policyDomain}!${input.begin}!${input.end - 1}!${input.reportId}.json.gz`;

/**
 * The report mail of RFC 8460 section 5.3: multipart/report with report-type="tlsrpt", a text part
 * and the report as application/tlsrpt+gzip; TLS-Report-Domain and TLS-Report-Submitter fields.
 * outbound-mta DKIM-signs it with the From domain's key as it does all mail (section 5.3 asks for it).
 */
export function tlsReportMessage(input: TlsReportMessageInput): Buffer {
  return reportMail({
    kind: 'tlsrpt',
    from: input.from,
    to: input.to,
    subject: `Report Domain: ${input.policyDomain} Submitter: ${input.organizationName} Report-ID: <${input.reportId}>`,
    reportId: input.reportId,
    fields: [`TLS-Report-Domain: ${input.policyDomain}`, `TLS-Report-Submitter: ${input.organizationName}`],
    multipart: 'multipart/report; report-type="tlsrpt"',
    text: `This is an aggregate TLS report (RFC 8460) for ${input.policyDomain} from ${input.organizationName}.`,
    attachment: {
      contentType: 'application/tlsrpt+gzip',
      filename: tlsReportFilename(input),
      data: input.gzipped,
    },
    date: input.date,
  });
}
