import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';

export interface ReportMessageInput {
  from: string;
  to: string;
  orgName: string;
  policyDomain: string;
  reportId: string;
  begin: number;
  end: number;
  xml: string;
  date?: Date;
}

const wrap = (b64: string) => b64.replace(/.{1,76}/g, '$&\r\n');

/**
 * A report mail: headers, a text part and the gzipped report as a base64 attachment, in one
 * multipart body (`multipart/mixed` for DMARC, `multipart/report; report-type="tlsrpt"` for TLS-RPT).
 */
export function reportMail(input: {
  /** Names the MIME boundary (`hermod-<kind>-<random>`). */
  kind: 'dmarc' | 'tlsrpt';
  from: string;
  to: string;
  subject: string;
  reportId: string;
  /** Extra header fields ("Name: value"). */
  fields?: string[];
  /** The multipart type and its parameters, without the boundary. */
  multipart: string;
  text: string;
  attachment: { contentType: string; filename: string; data: Buffer };
  date?: Date | undefined;
}): Buffer {
  const boundary = `hermod-${input.kind}-${randomBytes(12).toString('hex')}`;
  const fromDomain = input.from.split('@')[1] ?? 'localhost';
  const filename = input.attachment.filename.replace(/[^A-Za-z0-9!._-]/g, '_');
  const lines = [
    `From: ${input.from}`,
    `To: ${input.to}`,
    `Subject: ${input.subject}`,
    `Date: ${(input.date ?? new Date()).toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <${input.reportId}@${fromDomain}>`,
    ...(input.fields ?? []),
    'MIME-Version: 1.0',
    `Content-Type: ${input.multipart}; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    '',
    input.text,
    '',
    `--${boundary}`,
    `Content-Type: ${input.attachment.contentType}`,
    `Content-Disposition: attachment; filename="${filename}"`,
    'Content-Transfer-Encoding: base64',
    '',
  ];
  return Buffer.from(
    `${lines.join('\r\n')}\r\n${wrap(input.attachment.data.toString('base64'))}--${boundary}--\r\n`,
    'utf8',
  );
}

/**
 * The report mail of RFC 7489 section 7.2.1.1: subject naming domain, submitter and report id, the
 * XML gzipped as `<org>!<domain>!<begin>!<end>!<id>.xml.gz` (application/gzip, base64).
 */
export function dmarcReportMessage(input: ReportMessageInput): Buffer {
  const filename = `${input.orgName}!${input.policyDomain}!${input.begin}!${input.end - 1}!${input.reportId}.xml.gz`;
  return reportMail({
    kind: 'dmarc',
    from: input.from,
    to: input.to,
    subject: `Report Domain: ${input.policyDomain} Submitter: ${input.orgName} Report-ID: <${input.reportId}>`,
    reportId: input.reportId,
    multipart: 'multipart/mixed',
    text: `DMARC aggregate report for ${input.policyDomain} from ${input.orgName}.`,
    attachment: {
      contentType: `application/gzip; name="${filename.replace(/[^A-Za-z0-9!._-]/g, '_')}"`,
      filename,
      data: gzipSync(Buffer.from(input.xml, 'utf8')),
    },
    date: input.date,
  });
}
