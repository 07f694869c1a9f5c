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
 * The report mail of RFC 7489 section 7.2.1.1: subject naming domain, submitter and report id, the
 * XML gzipped as `<org>!<domain>!<begin>!<end>!<id>.xml.gz` (application/gzip, base64).
 */
export function dmarcReportMessage(input: ReportMessageInput): Buffer {
  const boundary = `hermod-dmarc-${randomBytes(12).toString('hex')}`;
  const fromDomain = input.from.split('@')[1] ?? 'localhost';
  const filename =
    `${input.orgName}!${input.policyDomain}!${input.begin}!${input.end - 1}!${input.reportId}.xml.gz`.replace(
      /[^A-Za-z0-9!._-]/g,
      '_',
    );
  const lines = [
    `From: ${input.from}`,
    `To: ${input.to}`,
    `Subject: Report Domain: ${input.policyDomain} Submitter: ${input.orgName} Report-ID: <${input.reportId}>`,
    `Date: ${(input.date ?? new Date()).toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <${input.reportId}@${fromDomain}>`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    '',
    `DMARC aggregate report for ${input.policyDomain} from ${input.orgName}.`,
    '',
    `--${boundary}`,
    `Content-Type: application/gzip; name="${filename}"`,
    `Content-Disposition: attachment; filename="${filename}"`,
    'Content-Transfer-Encoding: base64',
    '',
  ];
  const attachment = wrap(gzipSync(Buffer.from(input.xml, 'utf8')).toString('base64'));
  return Buffer.from(`${lines.join('\r\n')}\r\n${attachment}--${boundary}--\r\n`, 'utf8');
}
