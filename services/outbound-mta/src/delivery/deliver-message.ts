import type { Pool } from '@hermod/db';
import { arcSeal } from '../dkim/arc-seal.js';
import { type DkimSigningKey, dkimSignature } from '../dkim/dkim-sign.js';
import { headerBlock, normalizeCrlf } from '../dsn/build-dsn.js';
import { esmtpParameter } from '../queue/esmtp-parameter.js';
import type { AttemptResult, MessageContext } from '../queue/finish.js';
import type { QueueEntry } from '../queue/lease.js';
import type { ReplyClassifier } from './classify.js';
import { DependencyError, LocalError, ReplyError } from './errors.js';
import { ignoresTlsPolicy, requiresTls, requireTlsRefusal } from './require-tls.js';
import type { DsnParameters, SmtpSession } from './smtp-session.js';

export interface PreparedMessage {
  context: MessageContext;
  /** CRLF-normalized bytes as they go on the wire (before dot-stuffing, which nodemailer does). */
  data: Buffer;
  eightBit: boolean;
  mailFrom: string;
  smtpUtf8: boolean;
  /** RFC 8689 REQUIRETLS was given on MAIL FROM when the message was received. */
  requireTls: boolean;
  /** RFC 8689 section 5: `TLS-Required: No`, the recipient's TLS policy is ignored for it. */
  ignoreTlsPolicy: boolean;
  /** RFC 3461 RET and ENVID as received, passed on to a remote that advertises DSN. */
  dsn: Pick<DsnParameters, 'ret' | 'envid'>;
}

const nonAscii = /[^\x00-\x7f]/;

const notifyValues = new Set(['NEVER', 'SUCCESS', 'FAILURE', 'DELAY']);

/**
 * A recipient's RFC 3461 NOTIFY and ORCPT for the RCPT command (values as received, xtext-decoded;
 * nodemailer encodes them). A NOTIFY that is not a valid list is left out rather than refused.
 */
export function recipientDsn(
  parameters: Record<string, string> | undefined,
): Pick<DsnParameters, 'notify' | 'orcpt'> {
  const notify = esmtpParameter(parameters, 'NOTIFY')?.toUpperCase();
  const list = notify?.split(',') ?? [];
  const valid =
    list.length > 0 &&
    list.every((n) => notifyValues.has(n)) &&
    (list.length === 1 || !list.includes('NEVER'));
  const orcpt = esmtpParameter(parameters, 'ORCPT');
  return {
    ...(valid && notify ? { notify } : {}),
    ...(orcpt?.includes(';') ? { orcpt } : {}),
  };
}

/** The domain of the first address in the From header (the DKIM signing domain). */
export function fromHeaderDomain(header: Buffer): string | undefined {
  const text = header.toString('utf8').replace(/\r\n[ \t]+/g, ' ');
  const from = /^from:(.*)$/im.exec(text)?.[1];
  const address = from ? (/<([^<>]*)>/.exec(from)?.[1] ?? from.trim()) : undefined;
  const at = address?.lastIndexOf('@') ?? -1;
  return address && at > 0
    ? address
        .slice(at + 1)
        .trim()
        .toLowerCase()
        .replace(/[>\s].*$/, '')
    : undefined;
}

/**
 * What an attempt needs of the spooled message, in one round trip: arrival time, envelope,
 * recipients' DSN parameters and the body's chunks (the body is held whole for signing anyway).
 */
async function loadForDelivery(
  pool: Pool,
  spoolId: string,
): Promise<
  | {
      receivedAt: Date;
      envelope: Record<string, unknown>;
      recipients: Array<{ rcptIndex: number; parameters: Record<string, string> }>;
      chunks: Buffer[];
    }
  | undefined
> {
  const { rows } = await pool.query<{
    received_at: Date;
    envelope: Record<string, unknown>;
    recipients: Array<{ rcptIndex: number; parameters: Record<string, string> }> | null;
    chunks: Buffer[] | null;
  }>(
    `SELECT s.received_at, s.envelope,
       (SELECT json_agg(json_build_object('rcptIndex', r.rcpt_index, 'parameters', r.parameters))
          FROM spool_recipients r WHERE r.spool_id = s.id) AS recipients,
       (SELECT array_agg(c.data ORDER BY c.seq) FROM message_body_chunks c WHERE c.body_id = s.body_id) AS chunks
     FROM spool_messages s WHERE s.id = $1`,
    [spoolId],
  );
  const m = rows[0];
  if (!m) return undefined;
  return {
    receivedAt: m.received_at,
    envelope: m.envelope,
    recipients: m.recipients ?? [],
    chunks: m.chunks ?? [],
  };
}

/**
 * The domain of ours that forwards this message, which ARC-seals it (RFC 8617): an alias or
 * catch-all to an external address (routing's `forward` destination), or a Sieve redirect (mda
 * records the redirecting recipient's domain in the envelope).
 */
export function forwardingDomain(
  destination: Record<string, unknown> | null,
  envelope: Record<string, unknown>,
): string | undefined {
  const domain =
    destination?.kind === 'forward'
      ? destination.forwardedFrom
      : envelope.sieve === 'redirect'
        ? envelope.forwardedFrom
        : undefined;
  return typeof domain === 'string' && domain !== '' ? domain : undefined;
}

/** The DKIM-Signature field; a key that cannot sign is a fault of ours (configuration), not of the message. */
function signWith(data: Buffer, key: DkimSigningKey): string {
  try {
    return dkimSignature(data, key);
  } catch (error) {
    throw new LocalError(
      `DKIM signing with ${key.selector}._domainkey.${key.domain} failed: ${String(error)}`,
      {
        cause: error,
      },
    );
  }
}

/** Loads the spooled message once per attempt: body bytes normalized to CRLF and DKIM-signed. */
export async function prepareMessage(
  pool: Pool,
  entries: QueueEntry[],
  dkimKey: (domain: string) => Promise<DkimSigningKey | undefined>,
): Promise<PreparedMessage | undefined> {
  const first = entries[0];
  if (!first) return undefined;
  const message = await loadForDelivery(pool, first.spoolId).catch((error: unknown) => {
    throw new DependencyError('database', `loading the message failed: ${String(error)}`, { cause: error });
  });
  if (!message) return undefined;
  // Bare CR and bare LF never leave this server: every line break goes out as CRLF.
  const unsigned = normalizeCrlf(Buffer.concat(message.chunks));
  let data = unsigned;
  const originalHeaders = headerBlock(data);
  const candidates = [fromHeaderDomain(originalHeaders), first.mailFrom.split('@').pop()?.toLowerCase()];
  for (const domain of candidates) {
    if (!domain) continue;
    const key = await dkimKey(domain).catch((error: unknown) => {
      throw new DependencyError('dkim-keys', `reading the DKIM key of ${domain} failed: ${String(error)}`, {
        cause: error,
      });
    });
    if (key) {
      data = Buffer.concat([Buffer.from(signWith(data, key), 'latin1'), data]);
      break;
    }
  }
  const forwardedFrom = forwardingDomain(first.destination, message.envelope);
  if (forwardedFrom) {
    const key = await dkimKey(forwardedFrom).catch((error: unknown) => {
      throw new DependencyError(
        'dkim-keys',
        `reading the DKIM key of ${forwardedFrom} failed: ${String(error)}`,
        {
          cause: error,
        },
      );
    });
    if (key)
      data = await arcSeal(data, key).catch((error: unknown) => {
        throw new LocalError(
          `ARC sealing with ${key.selector}._domainkey.${key.domain} failed: ${String(error)}`,
          {
            cause: error,
          },
        );
      });
  }
  const mailFromArgs = (message.envelope.mailFromArgs ?? {}) as Record<string, string>;
  const envid = esmtpParameter(mailFromArgs, 'ENVID');
  const ret = esmtpParameter(mailFromArgs, 'RET')?.toUpperCase();
  return {
    context: {
      spoolId: first.spoolId,
      receivedAt: message.receivedAt,
      recipientParameters: new Map(message.recipients.map((r) => [r.rcptIndex, r.parameters])),
      ...(envid ? { envelopeId: envid } : {}),
      originalHeaders,
      ...(ret === 'FULL' ? { originalMessage: unsigned } : {}),
    },
    dsn: {
      ...(ret === 'FULL' || ret === 'HDRS' ? { ret } : {}),
      ...(envid ? { envid } : {}),
    },
    data,
    eightBit: data.some((b) => b > 0x7f),
    mailFrom: first.mailFrom,
    smtpUtf8:
      nonAscii.test(first.mailFrom) ||
      entries.some((e) => nonAscii.test(e.recipient)) ||
      esmtpParameter(mailFromArgs, 'SMTPUTF8') !== undefined,
    requireTls: requiresTls(mailFromArgs),
    ignoreTlsPolicy: ignoresTlsPolicy(originalHeaders, requiresTls(mailFromArgs)),
  };
}

/**
 * One SMTP transaction for the recipients of one message at one destination, turned into one
 * result per recipient. A reply to the whole transaction (MAIL FROM or DATA refused) is classified
 * here; every other failure (network, TLS, protocol, local) is rethrown for the caller, which stops
 * using the session and decides by the failure's class.
 */
export async function deliverMessage(
  session: SmtpSession,
  message: PreparedMessage,
  entries: QueueEntry[],
  classify: ReplyClassifier,
  host: string,
): Promise<AttemptResult[]> {
  const tls = session.tlsOutcome;
  const all = (kind: AttemptResult['kind'], status: string, reply: string): AttemptResult[] =>
    entries.map((entry) => ({ entry, kind, status, reply, host, tls }));
  // A remote without SMTPUTF8 cannot take an internationalized address (RFC 6531 §3.2: bounce).
  // 8-bit content to a remote without 8BITMIME is bounced too, not downgraded: a 7-bit downgrade
  // means re-encoding every 8-bit MIME part (8-bit headers cannot be converted at all) and DKIM
  // signing again afterwards; RFC 6152 §3 allows returning the message instead, and servers
  // without 8BITMIME are practically extinct. A message above the remote's SIZE fails before MAIL.
  if (message.requireTls) {
    const refusal = requireTlsRefusal(
      { verifiedTls: session.verifiedTls, offersRequireTls: session.supports('REQUIRETLS') },
      host,
    );
    if (refusal) return all('failed', refusal.status, refusal.reply);
  }
  if (message.smtpUtf8 && !session.supports('SMTPUTF8'))
    return all(
      'failed',
      '5.6.7',
      `${host} does not support SMTPUTF8, required by the addresses of this message`,
    );
  if (message.eightBit && !session.supports('8BITMIME'))
    return all('failed', '5.6.3', `${host} does not support 8BITMIME and the message has 8-bit content`);
  if (session.maxSize > 0 && message.data.length > session.maxSize)
    return all(
      'failed',
      '5.3.4',
      `message size ${message.data.length} exceeds ${host}'s limit of ${session.maxSize}`,
    );

  // RFC 3461 section 5.2.1: to a remote that advertises DSN the parameters go on (RET and ENVID on
  // MAIL, each recipient's NOTIFY and ORCPT on its RCPT) and its notices replace ours. nodemailer
  // takes one NOTIFY/ORCPT per transaction, so recipients whose parameters differ go in separate
  // transactions of the same message (one in the usual case, where no recipient has any).
  const passOn = session.supports('DSN');
  const groups = new Map<string, { dsn: DsnParameters; entries: QueueEntry[] }>();
  for (const entry of entries) {
    const dsn: DsnParameters = passOn
      ? { ...message.dsn, ...recipientDsn(message.context.recipientParameters.get(entry.rcptIndex)) }
      : {};
    const key = JSON.stringify([dsn.notify, dsn.orcpt]);
    const group = groups.get(key) ?? { dsn, entries: [] };
    group.entries.push(entry);
    groups.set(key, group);
  }
  const results: AttemptResult[] = [];
  for (const group of groups.values()) {
    try {
      results.push(
        ...(await transaction(session, message, group.entries, group.dsn, passOn, classify, host)),
      );
    } catch (error) {
      // A failure after earlier transactions of this attempt were answered: theirs stand, the rest
      // (this group and those after it) are tried again with the session's failure as the reason.
      if (results.length === 0) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      results.push(
        ...unanswered(entries, results, '4.4.2', `connection to ${host} lost: ${reason}`, host, tls),
      );
      return results;
    }
  }
  return results;
}

/** One SMTP transaction for `entries`: one result per entry, or a thrown failure that is not a reply. */
async function transaction(
  session: SmtpSession,
  message: PreparedMessage,
  entries: QueueEntry[],
  dsn: DsnParameters,
  dsnPassedOn: boolean,
  classify: ReplyClassifier,
  host: string,
): Promise<AttemptResult[]> {
  const tls = session.tlsOutcome;
  const byAddress = new Map<string, QueueEntry[]>();
  for (const e of entries)
    byAddress.set(e.recipient.toLowerCase(), [...(byAddress.get(e.recipient.toLowerCase()) ?? []), e]);
  try {
    const sent = await session.send(
      message.mailFrom,
      [...new Set(entries.map((e) => e.recipient))],
      message.data,
      {
        eightBit: message.eightBit,
        requireTls: message.requireTls,
        smtpUtf8: message.smtpUtf8,
        dsn,
      },
    );
    const results: AttemptResult[] = [];
    for (const address of sent.accepted)
      for (const entry of byAddress.get(address.toLowerCase()) ?? [])
        results.push({
          entry,
          kind: 'delivered',
          status: '2.0.0',
          reply: sent.reply,
          host,
          tls,
          ...(dsnPassedOn ? { dsnPassedOn } : {}),
        });
    for (const r of sent.rejected) {
      const c = classify(r.code, r.reply);
      for (const entry of byAddress.get(r.recipient.toLowerCase()) ?? [])
        results.push({
          entry,
          kind: c.action === 'bounce' ? 'failed' : 'deferred',
          status: c.status,
          reply: r.reply,
          host,
          tls,
        });
    }
    if (sent.accepted.length === 0) await session.reset().catch(() => undefined);
    // Anything the server never answered for stays queued.
    results.push(...unanswered(entries, results, '4.4.0', 'no reply for this recipient', host, tls));
    return results;
  } catch (error) {
    if (error instanceof ReplyError) {
      const c = classify(error.replyCode, error.reply);
      await session.reset().catch(() => undefined);
      return entries.map((entry) => ({
        entry,
        kind: c.action === 'bounce' ? 'failed' : 'deferred',
        status: c.status,
        reply: error.reply,
        host,
        tls,
      }));
    }
    throw error;
  }
}

/** Deferred results for the entries that `results` does not answer. */
function unanswered(
  entries: QueueEntry[],
  results: AttemptResult[],
  status: string,
  reply: string,
  host: string,
  tls: string,
): AttemptResult[] {
  const answered = new Set(results.map((r) => r.entry));
  return entries
    .filter((entry) => !answered.has(entry))
    .map((entry) => ({ entry, kind: 'deferred', status, reply, host, tls }));
}
