import { randomBytes } from 'node:crypto';

export interface DsnRecipient {
  address: string;
  /** ORCPT parameter as received ("rfc822;user@example.org"), if any. */
  originalRecipient?: string;
  /** RFC 3464 section 2.3.3; 'relayed' when a remote without DSN took the message under NOTIFY=SUCCESS. */
  action: 'failed' | 'delayed' | 'relayed';
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
  /**
   * The whole original message, returned as message/rfc822 instead of its headers (RFC 3461
   * section 4.3: RET=FULL, failure notices only).
   */
  originalMessage?: Buffer | undefined;
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
  const delayed = !failed && input.recipients.some((r) => r.action === 'delayed');
  const subject = failed
    ? 'Undelivered Mail Returned to Sender'
    : delayed
      ? 'Delayed Mail (still being retried)'
      : 'Successful Mail Delivery Report';
  const whole = failed ? input.originalMessage : undefined;
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
      ? `Your message could not be delivered to one or more recipients. ${whole ? 'It is' : 'Its headers are'} attached below.`
      : delayed
        ? 'Your message has not been delivered to one or more recipients yet. The mail system will keep trying; you do not need to send it again.'
        : 'Your message was relayed to the recipients below, whose mail system does not send delivery notices: no further notice will follow.',
    '',
    ...input.recipients.map(
      (r) =>
        `<${oneLine(r.address)}>: ${oneLine(r.diagnostic ?? r.status)}${r.action === 'delayed' ? ' (still trying)' : r.action === 'relayed' ? ' (relayed)' : ''}`,
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
  const returned = whole ? normalizeCrlf(whole) : input.originalHeaders;
  lines.push(
    '',
    `--${boundary}`,
    ...(whole
      ? [
          'Content-Type: message/rfc822',
          'Content-Description: Undelivered Message',
          // RFC 2046 section 5.2.1: 7bit, 8bit or binary only; 8bit when the message has such bytes.
          ...(whole.some((b) => b > 0x7f) ? ['Content-Transfer-Encoding: 8bit'] : []),
        ]
      : [
          'Content-Type: text/rfc822-headers',
          `Content-Description: ${failed ? 'Undelivered ' : ''}Message Headers`,
        ]),
    '',
  );
  // The header block ends with its blank line; a whole message ends with its own last line break
  // (the CRLF before the closing delimiter belongs to the delimiter).
  const body = whole
    ? returned.toString('latin1')
    : `${normalizeCrlf(returned)
        .toString('latin1')
        .replace(/(\r\n)+$/, '')}\r\n\r\n`;
  return Buffer.concat([
    Buffer.from(`${lines.join('\r\n')}\r\n`, 'latin1'),
    Buffer.from(`${body}--${boundary}--\r\n`, 'latin1'),
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
