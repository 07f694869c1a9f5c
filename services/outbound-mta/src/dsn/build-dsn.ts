import { randomBytes } from 'node:crypto';

export interface DsnRecipient {
  address: string;
  /** ORCPT parameter as received ("rfc822;user@example.org"), if any. */
  originalRecipient?: string;
  action: 'failed' | 'delayed';
  /** Enhanced status code, e.g. 5.1.1. */
  status: string;
  /** The remote's reply ("smtp; 550 5.1.1 no such user") or our own reason. */
  diagnostic?: string;
  remoteMta?: string;
  lastAttemptAt?: Date;
  /** delayed only: when we stop trying. */
  willRetryUntil?: Date;
}

export interface DsnInput {
  reportingMta: string;
  /** The original envelope sender; the notice goes there. */
  to: string;
  originalEnvelopeId?: string;
  arrivalDate: Date;
  /** The original message's header block (up to the blank line). */
  originalHeaders: Buffer;
  recipients: DsnRecipient[];
  now?: Date;
}

const rfc5322Date = (d: Date): string => d.toUTCString().replace(/GMT$/, '+0000');

// Values that go into header fields are single lines; anything else is cut off at the first break.
const oneLine = (s: string): string => s.replace(/[\r\n].*$/s, '').replace(/[^\x20-\x7e]/g, '?');

/**
 * An RFC 3464 delivery status notification: multipart/report with a human-readable part, the
 * message/delivery-status part and the original headers (text/rfc822-headers). CRLF throughout.
 */
export function buildDsn(input: DsnInput): Buffer {
  const now = input.now ?? new Date();
  const boundary = `hermod-dsn-${randomBytes(12).toString('hex')}`;
  const failed = input.recipients.some((r) => r.action === 'failed');
  const subject = failed ? 'Undelivered Mail Returned to Sender' : 'Delayed Mail (still being retried)';
  const reporting = oneLine(input.reportingMta);
  const lines: string[] = [
    `From: Mail Delivery System <MAILER-DAEMON@${reporting}>`,
    `To: <${oneLine(input.to)}>`,
    `Subject: ${subject}`,
    `Date: ${rfc5322Date(now)}`,
    `Message-ID: <dsn.${randomBytes(10).toString('hex')}@${reporting}>`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
    '',
    'This is a MIME-encapsulated message.',
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=us-ascii',
    'Content-Description: Notification',
    '',
    `This is the mail system at host ${reporting}.`,
    '',
    failed
      ? 'Your message could not be delivered to one or more recipients. It is attached below.'
      : 'Your message has not been delivered to one or more recipients yet. The mail system will keep trying; you do not need to send it again.',
    '',
    ...input.recipients.map(
      (r) =>
        `<${oneLine(r.address)}>: ${oneLine(r.diagnostic ?? r.status)}${r.action === 'delayed' ? ' (still trying)' : ''}`,
    ),
    '',
    `--${boundary}`,
    'Content-Type: message/delivery-status',
    'Content-Description: Delivery report',
    '',
    `Reporting-MTA: dns; ${reporting}`,
    ...(input.originalEnvelopeId ? [`Original-Envelope-Id: ${oneLine(input.originalEnvelopeId)}`] : []),
    `Arrival-Date: ${rfc5322Date(input.arrivalDate)}`,
  ];
  for (const r of input.recipients) {
    lines.push('');
    if (r.originalRecipient) lines.push(`Original-Recipient: ${oneLine(r.originalRecipient)}`);
    lines.push(
      `Final-Recipient: rfc822; ${oneLine(r.address)}`,
      `Action: ${r.action}`,
      `Status: ${r.status}`,
    );
    if (r.remoteMta) lines.push(`Remote-MTA: dns; ${oneLine(r.remoteMta)}`);
    if (r.diagnostic) lines.push(`Diagnostic-Code: ${oneLine(r.diagnostic)}`);
    if (r.lastAttemptAt) lines.push(`Last-Attempt-Date: ${rfc5322Date(r.lastAttemptAt)}`);
    if (r.willRetryUntil) lines.push(`Will-Retry-Until: ${rfc5322Date(r.willRetryUntil)}`);
  }
  lines.push(
    '',
    `--${boundary}`,
    'Content-Type: text/rfc822-headers',
    'Content-Description: Undelivered Message Headers',
    '',
  );
  const headers = normalizeCrlf(input.originalHeaders)
    .toString('latin1')
    .replace(/(\r\n)+$/, '');
  return Buffer.concat([
    Buffer.from(`${lines.join('\r\n')}\r\n`, 'latin1'),
    Buffer.from(`${headers}\r\n\r\n--${boundary}--\r\n`, 'latin1'),
  ]);
}

/** Every line break becomes CRLF (bare CR and bare LF included), and the data ends with one. */
export function normalizeCrlf(data: Buffer): Buffer {
  const text = data.toString('latin1').replace(/\r\n|\r|\n/g, '\r\n');
  return Buffer.from(text.endsWith('\r\n') ? text : `${text}\r\n`, 'latin1');
}

/** The header block of a message (without the separating blank line). */
export function headerBlock(message: Buffer): Buffer {
  const end = message.indexOf('\r\n\r\n');
  if (end >= 0) return message.subarray(0, end + 2);
  const lf = message.indexOf('\n\n');
  return lf >= 0 ? message.subarray(0, lf + 1) : message;
}
