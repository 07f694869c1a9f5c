import { parseAddress } from '@hermod/address';
import type { RecordRefusal } from './refusals.js';
import { type SmtpReplyError, smtpError } from './smtp-reply.js';

/**
 * RFC 6531: an address with non-ASCII characters needs the SMTPUTF8 parameter on MAIL FROM
 * (553 5.6.7 otherwise, section 3.5), and whatever it is must be UTF-8. smtp-server decodes command
 * lines as UTF-8, so bytes that are not UTF-8 arrive as U+FFFD.
 */
export function envelopeEncodingError(
  address: string,
  smtpUtf8: boolean,
  role: 'sender' | 'recipient',
): SmtpReplyError | undefined {
  if (address.includes('\ufffd')) return smtpError(553, '5.6.7', `The ${role} address is not valid UTF-8`);
  if (!smtpUtf8 && /[^\x00-\x7f]/.test(address))
    return smtpError(553, '5.6.7', `A non-ASCII ${role} address requires the SMTPUTF8 parameter`);
  return undefined;
}

/**
 * The `with` keyword of the Received field: UTF8SMTP, UTF8SMTPS, UTF8SMTPA, UTF8SMTPSA for an
 * SMTPUTF8 transaction (RFC 6531 section 4.3), ESMTP, ESMTPS, ESMTPA, ESMTPSA otherwise (RFC 3848).
 */
export function receivedProtocol(
  session: { secure: boolean; envelope: { smtpUtf8?: boolean | undefined } },
  authenticated: boolean,
): string {
  return `${session.envelope.smtpUtf8 ? 'UTF8SMTP' : 'ESMTP'}${session.secure ? 'S' : ''}${authenticated ? 'A' : ''}`;
}

/**
 * RCPT TO:<Postmaster> without a domain must be accepted (RFC 5321 section 4.5.1): it is the
 * postmaster of this server, which is the configured address. The recipient is rewritten in place,
 * so the check, the spool and the delivery all see the full address.
 */
export function qualifyPostmaster(address: { address: string }, postmaster: string): void {
  if (/^postmaster$/i.test(address.address)) address.address = postmaster;
}

/**
 * The envelope rules of one RCPT before any lookup: <Postmaster> qualified, then its encoding.
 * Returns the refusal, if any.
 */
export function recipientEnvelopeError(
  address: { address: string },
  session: { envelope: { smtpUtf8?: boolean | undefined } },
  postmaster: string,
): SmtpReplyError | undefined {
  qualifyPostmaster(address, postmaster);
  return envelopeEncodingError(address.address, !!session.envelope.smtpUtf8, 'recipient');
}

/**
 * MAIL FROM's rules for a non-null sender, the same for mx and msa: its encoding
 * (envelopeEncodingError), then its syntax (553 5.1.7). Records the refusal and returns the reply
 * when the sender is refused.
 */
export function senderEnvelopeRefusal(
  address: { address: string },
  session: { id: string; envelope: { smtpUtf8?: boolean | undefined } },
  refused: RecordRefusal,
): SmtpReplyError | undefined {
  const encoding = envelopeEncodingError(address.address, !!session.envelope.smtpUtf8, 'sender');
  if (encoding) {
    refused(session, 'sender-encoding', { code: 553, sender: address.address });
    return encoding;
  }
  try {
    parseAddress(address.address);
    return undefined;
  } catch (error) {
    refused(session, 'sender', { code: 553, sender: address.address });
    return smtpError(553, '5.1.7', `Bad sender address syntax: ${(error as Error).message}`);
  }
}

/**
 * RCPT TO's checks of the session itself, the same for mx and msa, before routing is asked: the
 * recipient count (452 4.5.3), then recipientEnvelopeError. Records the refusal and returns the
 * reply when the recipient is refused here.
 */
export function sessionRecipientRefusal(
  address: { address: string },
  session: { id: string; envelope: { rcptTo: unknown[]; smtpUtf8?: boolean | undefined } },
  limits: { maxRecipients: number; postmaster: string },
  refused: RecordRefusal,
): SmtpReplyError | undefined {
  if (session.envelope.rcptTo.length >= limits.maxRecipients) {
    refused(session, 'recipient-limit', { code: 452 });
    return smtpError(452, '4.5.3', 'Too many recipients');
  }
  const encoding = recipientEnvelopeError(address, session, limits.postmaster);
  if (encoding) refused(session, 'recipient-encoding', { code: 553, recipient: address.address });
  return encoding;
}

/**
 * The postmaster address: the configured one, else postmaster@ the server's host name without its
 * first label (mx.example.com answers for postmaster@example.com).
 */
export function postmasterAddress(configured: string, hostname: string): string {
  if (configured) return configured;
  const labels = hostname.toLowerCase().split('.');
  return `postmaster@${labels.length > 2 ? labels.slice(1).join('.') : labels.join('.')}`;
}

/** The one wording of a message over the size limit, at MAIL (SIZE=) and at the end of DATA alike. */
export const messageTooBigText = (limit: number) => `Message size exceeds fixed limit of ${limit} bytes`;

export const messageTooBig = (limit: number): SmtpReplyError =>
  smtpError(552, '5.3.4', messageTooBigText(limit));
