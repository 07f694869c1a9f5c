import { rfc5322Date } from './rfc5322-date.js';

export interface ReceivedHeaderInput {
  helo: string;
  clientAddress: string;
  clientHostname?: string;
  byHost: string;
  /** ESMTP, ESMTPS, ESMTPA, ESMTPSA (RFC 3848). */
  protocol: string;
  id: string;
  /** Only when there is a single recipient, so the header does not disclose Bcc recipients. */
  recipient?: string;
  tls?: string;
  date: Date;
}

// Values that become header text: anything but visible ASCII is dropped so a client cannot inject headers.
const clean = (s: string) => s.replace(/[^\x21-\x7e]/g, '').slice(0, 255) || 'unknown';

/** The trace header (RFC 5321 §4.4) a receiver prepends, folded, ending in CRLF. */
export function receivedHeader(input: ReceivedHeaderInput): string {
  const from = `from ${clean(input.helo)} (${input.clientHostname ? `${clean(input.clientHostname)} ` : ''}[${clean(input.clientAddress)}])`;
  const by = `by ${clean(input.byHost)} (Hermod) with ${clean(input.protocol)} id ${clean(input.id)}`;
  const tls = input.tls ? `\r\n\t(${input.tls.replace(/[^\x20-\x7e]/g, '').slice(0, 200)})` : '';
  const rcpt = input.recipient ? `\r\n\tfor <${clean(input.recipient)}>` : '';
  return `Received: ${from}\r\n\t${by}${tls}${rcpt};\r\n\t${rfc5322Date(input.date)}\r\n`;
}
