import { type Pool, withTransaction } from '@hermod/db';
import type { Logger } from '@hermod/logging';
import type { DsnRecipient } from '../dsn/build-dsn.js';
import { type DsnSender, sendDsn } from '../dsn/send-dsn.js';
import { esmtpParameter } from './esmtp-parameter.js';
import type { QueueEntry } from './lease.js';
import { type FinalResult, isFinal, logFinal, recordFinal } from './record-final.js';

export interface AttemptResult {
  entry: QueueEntry;
  kind: 'delivered' | 'deferred' | 'failed';
  /** Remote reply or our own reason, one line. */
  reply: string;
  /** Enhanced status code (for DSNs). */
  status: string;
  host?: string;
  tls?: string;
  /**
   * Delivered to a remote that advertises DSN, with the recipient's NOTIFY and ORCPT passed on
   * (RFC 3461 section 5.2.1): notices are the remote's from here on, none of ours.
   */
  dsnPassedOn?: boolean;
  /** What a notice's Diagnostic-Code names when `reply` is our summary (give-up): the last reply. */
  diagnostic?: string;
}

export interface FinishDeps {
  pool: Pool;
  dsn: DsnSender;
  logger: Logger;
  reportingMta: string;
  retryScheduleMs: number[];
  /** Fixed retry interval for mail held as a backup MX (destination kind 'backup'). */
  backupRetryMs?: number;
  delayNoticeAfterMs: number;
  now?: () => Date;
}

export interface MessageContext {
  spoolId: string;
  receivedAt: Date;
  /** Envelope parameters of each recipient (NOTIFY, ORCPT). */
  recipientParameters: Map<number, Record<string, string>>;
  envelopeId?: string;
  originalHeaders: Buffer;
  /** RFC 3461 RET=FULL: the whole message (as received), returned in a failure notice. */
  originalMessage?: Buffer;
}

export const retryDelayMs = (schedule: number[], attempts: number): number =>
  schedule[Math.min(Math.max(attempts - 1, 0), schedule.length - 1)] ?? 3_600_000;

/**
 * The wait before the next attempt: the schedule's step, except for mail held for a domain's
 * primary MX (backup), retried at a short fixed interval so it is relayed soon after the primary
 * accepts again (never later than the schedule would).
 */
export function nextRetryDelayMs(
  deps: Pick<FinishDeps, 'retryScheduleMs' | 'backupRetryMs'>,
  entry: Pick<QueueEntry, 'attempts' | 'destination'>,
): number {
  const scheduled = retryDelayMs(deps.retryScheduleMs, entry.attempts + 1);
  return entry.destination?.kind === 'backup' && deps.backupRetryMs !== undefined
    ? Math.min(scheduled, deps.backupRetryMs)
    : scheduled;
}

/**
 * RFC 3461 section 4.1: whether the recipient's NOTIFY asks for this notice. Without NOTIFY, as
 * the RFC's default: failures and delays, never success.
 */
function notifies(
  parameters: Record<string, string> | undefined,
  what: 'FAILURE' | 'DELAY' | 'SUCCESS',
): boolean {
  const notify = esmtpParameter(parameters, 'NOTIFY');
  if (!notify) return what !== 'SUCCESS';
  const list = notify.toUpperCase().split(',');
  return !list.includes('NEVER') && list.includes(what);
}

/**
 * RFC 3461 section 5.2.2: a recipient with NOTIFY=SUCCESS delivered to a remote that took the
 * message without taking over its notices gets an "Action: relayed" notice from us.
 */
export function wantsRelayedNotice(r: AttemptResult, message: MessageContext): boolean {
  return (
    r.kind === 'delivered' &&
    !r.dsnPassedOn &&
    notifies(message.recipientParameters.get(r.entry.rcptIndex), 'SUCCESS')
  );
}

const orcpt = (parameters: Record<string, string> | undefined): string | undefined =>
  esmtpParameter(parameters, 'ORCPT');

/**
 * Records one attempt's results for recipients of one message: delivered and failed recipients
 * leave the queue and reach their final spool state; deferred ones get their next attempt time
 * (or give up past their lifetime). At most one failure notice per recipient (keyed), one delay
 * notice per recipient (flagged).
 */
export async function finishAttempt(
  deps: FinishDeps,
  message: MessageContext,
  results: AttemptResult[],
): Promise<AttemptResult[]> {
  const now = deps.now?.() ?? new Date();
  const final: FinalResult[] = [];
  const deferred: AttemptResult[] = [];
  for (const r of results) {
    if (isFinal(r)) final.push(r);
    else if (r.entry.expiresAt.getTime() <= now.getTime()) {
      final.push({
        ...r,
        kind: 'failed',
        status: r.status.replace(/^4/, '5'),
        reply: `gave up after ${r.entry.attempts + 1} attempts; last: ${r.reply}`,
        diagnostic: r.diagnostic ?? r.reply,
      });
    } else deferred.push(r);
  }

  const toNotify = final.filter(
    (r) => r.kind === 'failed' && notifies(message.recipientParameters.get(r.entry.rcptIndex), 'FAILURE'),
  );
  await notify(deps, message, toNotify, 'failed', now);
  await notify(
    deps,
    message,
    final.filter((r) => wantsRelayedNotice(r, message)),
    'relayed',
    now,
  );
  const delayNotices = deferred.filter(
    (r) =>
      !r.entry.delayNotified &&
      now.getTime() - r.entry.queuedAt.getTime() >= deps.delayNoticeAfterMs &&
      notifies(message.recipientParameters.get(r.entry.rcptIndex), 'DELAY'),
  );
  await notify(deps, message, delayNotices, 'delayed', now);
  const delayed = new Set(delayNotices.map((r) => r.entry.rcptIndex));

  await withTransaction(deps.pool, async (client) => {
    await recordFinal(client, [{ spoolId: message.spoolId, results: final }], now);
    for (const r of deferred) {
      const waitMs = nextRetryDelayMs(deps, r.entry);
      await client.query(
        `UPDATE outbound_queue SET state = CASE WHEN state = 'held' THEN 'held' ELSE 'deferred' END,
           attempts = attempts + 1,
           next_attempt_at = LEAST($3::timestamptz + make_interval(secs => $4), GREATEST(expires_at, $3::timestamptz)),
           last_reply = $5, last_host = $6, last_tls = $7, delay_notified = delay_notified OR $8,
           lease_owner = NULL, lease_expires_at = NULL
         WHERE spool_id = $1 AND rcpt_index = $2`,
        [
          message.spoolId,
          r.entry.rcptIndex,
          now,
          waitMs / 1000,
          r.reply,
          r.host ?? null,
          r.tls ?? null,
          delayed.has(r.entry.rcptIndex),
        ],
      );
    }
  });
  for (const r of final) logFinal(deps.logger, message.spoolId, r);
  return [...final, ...deferred];
}

/** One notice per envelope sender (forwarded copies carry their own SRS sender); none to the null sender. */
async function notify(
  deps: FinishDeps,
  message: MessageContext,
  results: AttemptResult[],
  action: DsnRecipient['action'],
  now: Date,
): Promise<void> {
  const bySender = new Map<string, AttemptResult[]>();
  for (const r of results)
    if (r.entry.mailFrom !== '')
      bySender.set(r.entry.mailFrom, [...(bySender.get(r.entry.mailFrom) ?? []), r]);
  for (const [sender, list] of bySender) {
    const indexes = list.map((r) => r.entry.rcptIndex).sort((a, b) => a - b);
    await sendDsn(deps.dsn, `${message.spoolId}:${action}:${indexes.join(',')}`, {
      reportingMta: deps.reportingMta,
      to: sender,
      ...(message.envelopeId ? { originalEnvelopeId: message.envelopeId } : {}),
      arrivalDate: message.receivedAt,
      originalHeaders: message.originalHeaders,
      ...(action === 'failed' && message.originalMessage ? { originalMessage: message.originalMessage } : {}),
      recipients: list.map((r) => dsnRecipient(r, message, action, now)),
      now,
    });
  }
}

function dsnRecipient(
  r: AttemptResult,
  message: MessageContext,
  action: DsnRecipient['action'],
  now: Date,
): DsnRecipient {
  const original = orcpt(message.recipientParameters.get(r.entry.rcptIndex));
  const diagnostic = r.diagnostic ?? r.reply;
  return {
    address: r.entry.recipient,
    ...(original ? { originalRecipient: original } : {}),
    action,
    status: action === 'delayed' ? r.status.replace(/^5/, '4') : r.status,
    diagnostic: /^\d{3}\b/.test(diagnostic) ? `smtp; ${diagnostic}` : `x-hermod; ${diagnostic}`,
    // RFC 3464 section 2.3.5: a host name ("mx.example.org[192.0.2.1]:25" is how we log it).
    ...(r.host ? { remoteMta: r.host.replace(/\[.*$/, '') } : {}),
    lastAttemptAt: now,
    ...(action === 'delayed' ? { willRetryUntil: r.entry.expiresAt } : {}),
  };
}
