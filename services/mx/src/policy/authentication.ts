import { Readable } from 'node:stream';
import { authenticate } from 'mailauth';
import type { DnsResolve } from './dns-resolver.js';

export interface AuthenticationInput {
  message: AsyncIterable<Buffer>;
  ip: string;
  helo: string;
  mailFrom: string;
  /** Our authserv-id (RFC 8601): the MX host name. */
  authservId: string;
}

export interface AuthenticationOutcome {
  /** Authentication-Results (and Received-SPF) fields to prepend, CRLF-terminated. */
  headers: string;
  spf: string;
  dkim: string[];
  dmarc: string;
  arc: string;
  /** The sender domain's DMARC policy for a failing message (after pct/testing): reject, quarantine or none. */
  dmarcPolicy: 'reject' | 'quarantine' | 'none';
  dmarcDomain?: string;
}

/** SPF, DKIM, DMARC and ARC for one message (mailauth), with DNS through the injected resolver. */
export async function authenticateMessage(
  input: AuthenticationInput,
  resolve: DnsResolve,
): Promise<AuthenticationOutcome> {
  const result = await authenticate(Readable.from(input.message), {
    ip: input.ip.replace(/^::ffff:/, ''),
    helo: input.helo,
    sender: input.mailFrom,
    mta: input.authservId,
    resolver: resolve,
    disableBimi: true,
  });
  const dmarc = result.dmarc || undefined;
  const dmarcResult = dmarc ? dmarc.status.result : 'none';
  const failing = dmarcResult === 'fail' && dmarc && !dmarc.testMode;
  const policy =
    failing && (dmarc.policy === 'reject' || dmarc.policy === 'quarantine') ? dmarc.policy : 'none';
  const headers = result.headers.endsWith('\r\n')
    ? result.headers
    : `${result.headers.replace(/\r?\n$/, '')}\r\n`;
  return {
    headers: headers.replace(/\r?\n/g, '\r\n'),
    spf: result.spf ? result.spf.status.result : 'none',
    dkim: (result.dkim.results ?? []).map((r) => `${r.signingDomain ?? '?'}:${r.status.result}`),
    dmarc: dmarcResult,
    arc: result.arc ? result.arc.status.result : 'none',
    dmarcPolicy: policy,
    ...(dmarc ? { dmarcDomain: dmarc.domain } : {}),
  };
}
