import { parseAddress } from '@hermod/address';
import type { Disposition } from '@hermod/smtp';
import {
  acceptPipeline,
  headerAddresses,
  receivedProtocol,
  rfc5322Date,
  sessionReceivedHeader,
  smtpError,
} from '@hermod/smtp';
import type { SMTPServerOptions } from 'smtp-server';
import type { MsaDeps } from '../deps.js';
import { checkOutboundSpam } from '../policy/outbound-filter.js';
import { suspendedReply } from '../sending-suspension.js';
import { type SessionUser, transactionState } from '../session-user.js';

/** Every address of the From field must belong to the authenticated user (553 5.7.1 otherwise). */
async function checkFromHeader(
  deps: MsaDeps,
  user: SessionUser | undefined,
  from: string[] | undefined,
): Promise<void> {
  if (!user) return;
  const addresses = (from ?? []).flatMap(headerAddresses);
  for (const address of addresses) {
    let canonical: string;
    try {
      canonical = parseAddress(address).canonical;
    } catch {
      throw smtpError(553, '5.7.1', `From header address <${address}> is not valid`);
    }
    if (!(await deps.accounts.maySendAs(user.accountId, canonical)))
      throw smtpError(553, '5.7.1', `From header address <${canonical}> not owned by user ${user.address}`);
  }
}

/**
 * End of DATA through the shared accept pipeline (@hermod/smtp): msa's Received (with the
 * authenticated protocol), Message-ID and Date when missing, the From field owned by the user,
 * malware scanned while the message arrives and Rspamd's outbound check: infected or spam is
 * refused (554 5.7.1), counted, logged and reported against the account.
 */
export function onData(deps: MsaDeps): NonNullable<SMTPServerOptions['onData']> {
  const { config } = deps;
  return acceptPipeline<Disposition>({
    service: 'msa',
    maxMessageBytes: config.MSA_MAX_MESSAGE_BYTES,
    bareLineEndings: 'normalise',
    logger: deps.logger,
    refused: (session, reason, details) => deps.refused(session, reason, details),
    metrics: deps.metrics,
    recipientRoutes: deps.recipientRoutes,
    accept: (input) => deps.accept(input),
    received: (session, spoolId, now) =>
      sessionReceivedHeader(session, {
        host: config.MSA_HOSTNAME,
        protocol: receivedProtocol(session, !!session.user),
        id: spoolId,
        date: now,
      }),
    append: (header, spoolId, now) =>
      (header.names.has('message-id') ? '' : `Message-ID: <${spoolId}@${config.MSA_HOSTNAME}>\r\n`) +
      (header.names.has('date') ? '' : `Date: ${rfc5322Date(now)}\r\n`),
    check: (prepared, session) => {
      // Suspended during this transaction (by its own recipients): the message is not accepted.
      if (transactionState(session.envelope)?.suspended) {
        deps.refused(session, 'account-suspended', { code: 550 });
        throw suspendedReply();
      }
      return checkFromHeader(deps, session.user as SessionUser | undefined, prepared.values.get('from'));
    },
    ...(deps.scanMalware ? { scan: deps.scanMalware } : {}),
    decide: ({ session, body, spoolId, mailFrom, helo }) =>
      checkOutboundSpam(deps.outbound, { session, spoolId, mailFrom, helo, message: body.source() }),
    dispose: (verdict) => verdict,
    accountId: (session) => (session.user as SessionUser | undefined)?.accountId,
    addToEnvelope: (envelope, session) => {
      const user = session.user as SessionUser | undefined;
      if (user) envelope.authenticatedAs = user.address;
    },
  });
}
