/**
 * RFC 8689 (SMTP Require TLS Option) for outbound relay: the one home of its rules.
 *
 * A message received with the REQUIRETLS MAIL FROM parameter (msa and mx accept it only over TLS;
 * smtp-server records it in the envelope's `mailFromArgs`) is relayed only over TLS whose
 * certificate was verified under a policy (MTA-STS enforce or DANE, as section 4.2.1 asks) to a server that advertises REQUIRETLS, with the parameter
 * passed on. Otherwise it is returned with 5.7.30 at once: retrying cannot change the policy or
 * the remote's extensions in a useful time, and section 4.2.1 says not to fall back.
 */

import { esmtpParameter } from '../queue/esmtp-parameter.js';

/** True when the spooled MAIL FROM parameters carry REQUIRETLS. */
export function requiresTls(mailFromArgs: Record<string, string>): boolean {
  return esmtpParameter(mailFromArgs, 'REQUIRETLS') !== undefined;
}

/** What the session offers that REQUIRETLS depends on. */
export interface RequireTlsSession {
  /** TLS is up and the certificate was verified against the host under a policy. */
  verifiedTls: boolean;
  /** The remote listed REQUIRETLS in its EHLO reply (after STARTTLS). */
  offersRequireTls: boolean;
}

/** The permanent failure for a REQUIRETLS message on this session, or undefined when it may go. */
export function requireTlsRefusal(
  session: RequireTlsSession,
  host: string,
): { status: string; reply: string } | undefined {
  if (!session.verifiedTls)
    return {
      status: '5.7.30',
      reply: `REQUIRETLS support required: no verified TLS to ${host} (no MTA-STS enforce policy or DANE TLSA records, or the certificate was not checked)`,
    };
  if (!session.offersRequireTls)
    return { status: '5.7.30', reply: `REQUIRETLS support required: ${host} does not offer REQUIRETLS` };
  return undefined;
}

/**
 * Section 5: a message with the header field `TLS-Required: No` asks that the recipient's TLS
 * policy (MTA-STS, a domain's TLS requirement) be ignored for it; TLS is still used when offered.
 * REQUIRETLS on MAIL FROM wins over the header (section 3: the header is then ignored).
 */
export function ignoresTlsPolicy(headers: Buffer, requireTls: boolean): boolean {
  if (requireTls) return false;
  const text = headers.toString('latin1').replace(/\r\n[ \t]+/g, ' ');
  return /^tls-required:[ \t]*no[ \t]*$/im.test(text);
}
