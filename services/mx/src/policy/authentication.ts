import { Readable } from 'node:stream';
import type { DmarcEvaluation } from '@hermod/dmarc-reports';
import { authenticate } from 'mailauth';
import type { DnsResolve } from './dns-resolver.js';

export interface AuthenticationInput {
  message: AsyncIterable<Buffer>;
  /** Lower-cased names of the message's header fields: without a signature the body is not read. */
  fieldNames: ReadonlySet<string>;
  /**
   * The unfolded values of the From fields (Latin-1, as received) when the whole header block was
   * inspected (prepareMessage's summary): without a signature the message is then not read at all.
   */
  from?: readonly string[];
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
  /** What a DMARC aggregate report says of this message, when the From domain publishes DMARC. */
  dmarcEvaluation?: Omit<DmarcEvaluation, 'disposition'>;
}

/** Fields whose presence makes the body matter: DKIM and ARC sign it (body hash). */
const signatureFields = ['dkim-signature', 'arc-seal', 'arc-message-signature', 'arc-authentication-results'];

/** Whether a message with these (lower-cased) header field names needs its body verified. */
export const bodyMatters = (fieldNames: ReadonlySet<string>): boolean =>
  signatureFields.some((name) => fieldNames.has(name));

const blankLine = Buffer.from('\r\n\r\n');

/**
 * The header block and the blank line after it, without the body: with no signature and no seal
 * every result (SPF, DKIM none, DMARC, ARC none) is the same, and the body is not parsed for nothing.
 */
export async function* headerBlockOf(message: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  // The last 3 bytes already passed on, so a blank line split over chunks is found.
  let tail: Buffer = Buffer.alloc(0);
  for await (const chunk of message) {
    const window = Buffer.concat([tail, chunk]);
    const at = window.indexOf(blankLine);
    if (at >= 0) {
      yield chunk.subarray(0, at - tail.length + blankLine.length);
      return;
    }
    yield chunk;
    tail = window.subarray(Math.max(0, window.length - 3));
  }
}

/**
 * What mailauth reads of an unsigned message: with no DKIM-Signature and no ARC set, DKIM and ARC
 * are none whatever the fields, SPF comes from the envelope and DMARC from the From addresses, so
 * the From fields alone give the same results without parsing the rest (Received chains included).
 */
export function fromFieldsBlock(from: readonly string[]): Buffer {
  return Buffer.from(`${from.map((value) => `From: ${value}\r\n`).join('')}\r\n`, 'latin1');
}

async function concatenated(source: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of source) parts.push(chunk);
  return Buffer.concat(parts);
}

/**
 * A readable stream of one buffer. mailauth writes a Buffer input into its parser one chunk per
 * turn of the event loop (setImmediate before each write and before the end), so under load a
 * message would wait two turns for its checks; a stream it pipes, which ends in this turn.
 */
function oneBufferStream(buffer: Buffer): Readable {
  return new Readable({
    read() {
      this.push(buffer);
      this.push(null);
    },
  });
}

/**
 * SPF, DKIM, DMARC and ARC for one message (mailauth), with DNS through the injected resolver. An
 * unsigned message goes to mailauth as its From fields (or, when the header was too large to be
 * inspected whole, its header block) in one buffer (no stream pipeline to set up per message),
 * in a stream of its own so the checks finish in the turn they start in.
 */
export async function authenticateMessage(
  input: AuthenticationInput,
  resolve: DnsResolve,
): Promise<AuthenticationOutcome> {
  const source = bodyMatters(input.fieldNames)
    ? Readable.from(input.message)
    : oneBufferStream(
        input.from ? fromFieldsBlock(input.from) : await concatenated(headerBlockOf(input.message)),
      );
  const result = await authenticate(source, {
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
    ...(dmarc?.rr && dmarc.domain
      ? {
          dmarcEvaluation: {
            policyDomain: dmarc.domain,
            policyRecord: dmarc.rr,
            headerFrom: dmarc.status.header?.d ?? dmarc.domain,
            sourceIp: input.ip,
            spfDomain:
              (result.spf ? result.spf.domain : undefined) || input.mailFrom.split('@')[1] || input.helo,
            spfScope: input.mailFrom.includes('@') ? ('mfrom' as const) : ('helo' as const),
            spfResult: result.spf ? result.spf.status.result : 'none',
            dkim: (result.dkim.results ?? [])
              .filter((r) => r.signingDomain)
              .map((r) => ({
                domain: r.signingDomain ?? '',
                ...(r.selector ? { selector: r.selector } : {}),
                result: r.status.result,
              })),
            dkimAligned: Boolean(dmarc.alignment?.dkim?.result),
            spfAligned: Boolean(dmarc.alignment?.spf?.result),
          },
        }
      : {}),
  };
}
