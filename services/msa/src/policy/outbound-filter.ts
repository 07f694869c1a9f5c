import {
  type MalwareVerdict,
  type RspamdClient,
  RspamdUnavailableError,
  type RspamdVerdict,
} from '@hermod/content-scan';
import type { Logger } from '@hermod/logging';
import type { Disposition } from '@hermod/smtp';
import type { SMTPServerSession } from 'smtp-server';
import type { SessionUser } from '../session-user.js';

/** A submission refused for its content: what the account sent. */
export interface SendingAbuseEvent {
  accountId: number;
  address: string;
  kind: 'malware' | 'spam';
  /** The signature, or the spam score and symbols. */
  detail: string;
  spoolId: string;
}

/**
 * Where msa reports an account that submitted malware or spam, to throttle or suspend its
 * sending (the account-security limits own that decision).
 */
export interface SendingAbuseHook {
  report(event: SendingAbuseEvent): Promise<void>;
}

export interface OutboundFilterDeps {
  logger: Logger;
  rspamd?: RspamdClient;
  /** Rspamd unreachable: open = accept unchecked, tempfail = 451 4.7.1. */
  rspamdFailMode: 'open' | 'tempfail';
  hostname: string;
  /** Counts refused submissions by reason (malware, spam). */
  refusedContent: { inc(labels: { reason: 'malware' | 'spam' }): void };
  sendingAbuse?: SendingAbuseHook;
}

/**
 * Counts, logs and reports (to the sending-abuse hook) a refused submission. A failing hook is
 * logged, never a reason to accept the message.
 */
async function reportAbuse(
  deps: OutboundFilterDeps,
  session: SMTPServerSession,
  event: Omit<SendingAbuseEvent, 'accountId' | 'address'>,
): Promise<void> {
  const user = session.user as SessionUser | undefined;
  deps.refusedContent.inc({ reason: event.kind });
  deps.logger.warn(
    { sessionId: session.id, accountId: user?.accountId, user: user?.address, ...event },
    `submission refused: ${event.kind}`,
  );
  if (!user || !deps.sendingAbuse) return;
  try {
    await deps.sendingAbuse.report({ ...event, accountId: user.accountId, address: user.address });
  } catch (error) {
    deps.logger.error({ err: error, accountId: user.accountId }, 'sending-abuse hook failed');
  }
}

/** The malware scan's observer in msa: an infected submission is counted, logged and reported. */
export function observeSubmissionMalware(deps: OutboundFilterDeps) {
  return (verdict: MalwareVerdict, spoolId: string, session: SMTPServerSession): void => {
    if (verdict.status !== 'infected') return;
    void reportAbuse(deps, session, { kind: 'malware', detail: verdict.signature, spoolId });
  };
}

/**
 * Rspamd's check of a submission (the `User` header tells Rspamd it is outbound mail from an
 * authenticated user): reject refuses it (554 5.7.1) and reports the account; soft reject asks
 * to try later; anything else is accepted, with nothing added to the mail that leaves.
 */
export async function checkOutboundSpam(
  deps: OutboundFilterDeps,
  input: {
    session: SMTPServerSession;
    spoolId: string;
    mailFrom: string;
    helo: string;
    message: AsyncIterable<Buffer>;
  },
): Promise<Disposition> {
  if (!deps.rspamd) return { action: 'accept' };
  const user = input.session.user as SessionUser | undefined;
  let verdict: RspamdVerdict;
  try {
    verdict = await deps.rspamd.scan({
      ip: input.session.remoteAddress,
      helo: input.helo,
      mailFrom: input.mailFrom,
      recipients: input.session.envelope.rcptTo.map((r) => r.address),
      hostname: deps.hostname,
      queueId: input.spoolId,
      ...(user ? { user: user.address } : {}),
      message: input.message,
    });
  } catch (error) {
    if (!(error instanceof RspamdUnavailableError)) throw error;
    deps.logger.warn({ err: error, spoolId: input.spoolId }, 'rspamd unavailable for a submission');
    if (deps.rspamdFailMode === 'open') return { action: 'accept' };
    return {
      action: 'tempfail',
      code: 451,
      status: '4.7.1',
      text: 'Content scanner unavailable, try again later',
      reason: 'rspamd-unavailable',
    };
  }
  if (verdict.action === 'reject') {
    await reportAbuse(deps, input.session, {
      kind: 'spam',
      detail: `score ${verdict.score.toFixed(2)} ${verdict.symbols.slice(0, 20).join(',')}`,
      spoolId: input.spoolId,
    });
    return {
      action: 'reject',
      code: 554,
      status: '5.7.1',
      text: `Message refused as spam (score ${verdict.score.toFixed(1)})`,
      reason: 'spam',
    };
  }
  if (verdict.action === 'soft reject')
    return { action: 'tempfail', code: 451, status: '4.7.1', text: 'Try again later', reason: 'greylist' };
  return { action: 'accept' };
}
