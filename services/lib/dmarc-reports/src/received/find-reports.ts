import PostalMime from 'postal-mime';
import { parseAggregateReport } from './parse-aggregate.js';
import { parseTlsReport } from './parse-tlsrpt.js';
import {
  type ReceivedReport,
  type ReportFailureReason,
  type ReportLimits,
  ReportParseError,
} from './types.js';
import { unpackReport } from './unpack.js';

const tlsTypes = new Set(['application/tlsrpt+gzip', 'application/tlsrpt+json']);
const dmarcTypes = new Set([
  'application/gzip',
  'application/x-gzip',
  'application/zip',
  'application/x-zip',
  'application/x-zip-compressed',
  'text/xml',
  'application/xml',
]);
const dmarcNames = /\.(xml|xml\.gz|gz|zip)$/i;

export interface FoundReport {
  /** Position of the part among the message's attachments: with the spool id, the report's identity. */
  part: number;
  report: ReceivedReport;
}

export interface ReportFailure {
  part: number;
  kind: 'dmarc' | 'tlsrpt';
  reason: ReportFailureReason;
  message: string;
}

export interface ExaminedMessage {
  reports: FoundReport[];
  failures: ReportFailure[];
}

/**
 * The DMARC aggregate (RFC 7489 section 7.2.1.1: XML, gzip or zip attachment) and TLS-RPT
 * (RFC 8460 section 5.3: `application/tlsrpt+gzip` or `+json`, usually in a `multipart/report;
 * report-type="tlsrpt"`) reports a message carries, each parsed within the limits. A message with
 * no such part gives nothing; a part that looks like a report and cannot be read is a failure.
 */
export async function examineMessage(raw: Uint8Array, limits: ReportLimits): Promise<ExaminedMessage> {
  const found: ExaminedMessage = { reports: [], failures: [] };
  let email: Awaited<ReturnType<typeof PostalMime.parse>>;
  try {
    email = await PostalMime.parse(raw, {
      maxNestingDepth: 16,
      maxPartCount: 200,
      maxHeadersSize: 256 * 1024,
    });
  } catch (error) {
    found.failures.push({ part: 0, kind: 'dmarc', reason: 'malformed', message: (error as Error).message });
    return found;
  }
  const contentType = email.headers.find((h) => h.key === 'content-type')?.value ?? '';
  const tlsReport =
    /^\s*multipart\/report\b/i.test(contentType) && /report-type\s*=\s*"?tlsrpt"?/i.test(contentType);
  for (const [part, attachment] of email.attachments.entries()) {
    const type = attachment.mimeType.toLowerCase();
    const kind = tlsTypes.has(type)
      ? 'tlsrpt'
      : dmarcTypes.has(type) || dmarcNames.test(attachment.filename ?? '')
        ? 'dmarc'
        : undefined;
    if (!kind) continue;
    // In a TLS report message, only the report part counts (other parts are the human-readable text).
    if (tlsReport && kind !== 'tlsrpt') continue;
    const content = attachment.content;
    const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : new Uint8Array(content);
    try {
      const file = await unpackReport(bytes, limits);
      found.reports.push({
        part,
        report: kind === 'tlsrpt' ? parseTlsReport(file, limits) : await parseAggregateReport(file, limits),
      });
    } catch (error) {
      if (!(error instanceof ReportParseError)) throw error;
      found.failures.push({ part, kind, reason: error.reason, message: error.message });
    }
  }
  return found;
}
