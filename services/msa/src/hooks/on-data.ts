import { domainOfAddress, parseAddress } from '@hermod/address';
import type { Disposition } from '@hermod/smtp';
import {
  acceptPipeline,
  applyPolicyRules,
  bufferSource,
  headerAddresses,
  type PolicyOutcome,
  rfc5322Date,
  smtpError,
  withPrefix,
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

/** The spam check's disposition and, when it accepts, what the policy rules decided. */
interface MsaVerdict {
  disposition: Disposition;
  policy?: PolicyOutcome;
}

/**
 * End of DATA through the shared accept pipeline (@hermod/smtp): msa's Received (with the
 * authenticated protocol), Message-ID and Date when missing, the From field owned by the user,
 * malware scanned while the message arrives and Rspamd's outbound check: infected or spam is
 * refused (554 5.7.1), counted, logged and reported against the account.
 */
export function onData(deps: MsaDeps): NonNullable<SMTPServerOptions['onData']> {
  const { config } = deps;
  const { policy } = deps;
  return acceptPipeline<MsaVerdict>({
    service: 'msa',
    deps,
    hostname: config.MSA_HOSTNAME,
    maxMessageBytes: config.MSA_MAX_MESSAGE_BYTES,
    bareLineEndings: 'normalise',
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
    decide: async ({ session, body, spoolId, mailFrom, helo }) => {
      const spam = await checkOutboundSpam(deps.outbound, {
        session,
        spoolId,
        mailFrom,
        helo,
        message: body.source(),
      });
      if (spam.action !== 'accept' || !policy) return { disposition: spam };
      const user = session.user as SessionUser | undefined;
      const outcome = await applyPolicyRules(
        policy,
        {
          direction: 'outbound',
          message: () => body.source(),
          ip: session.remoteAddress,
          mailFrom,
          recipients: session.envelope.rcptTo.map((r) => r.address),
          ...(user ? { senderDomain: domainOfAddress(user.address) } : {}),
        },
        { maxBytes: config.POLICY_MAX_MESSAGE_BYTES, budgetMs: config.POLICY_TIME_BUDGET_MS },
      );
      if (outcome.decision.matched.length > 0)
        deps.logger.info(
          { sessionId: session.id, spoolId, rules: outcome.decision.matched },
          'policy rules matched',
        );
      // msa holds no quarantine: the pipeline refuses a quarantined submission (554 5.7.1).
      const disposition: Disposition = outcome.quarantine
        ? {
            action: 'quarantine',
            kind: 'policy',
            reason: outcome.quarantine.reason,
            rule: outcome.quarantine.rule,
          }
        : spam;
      return { disposition, policy: outcome };
    },
    dispose: (verdict) => verdict.disposition,
    folder: (verdict) => verdict.policy?.folder,
    recipientChanges: ({ policy: outcome }) =>
      outcome && (outcome.add.length > 0 || outcome.replace)
        ? { add: outcome.add, ...(outcome.replace ? { replace: outcome.replace } : {}) }
        : undefined,
    storedBody: (source, verdict) =>
      withPrefix(
        verdict?.policy?.headers ?? '',
        verdict?.policy?.stripped ? bufferSource(verdict.policy.stripped) : source,
      ),
    accountId: (session) => (session.user as SessionUser | undefined)?.accountId,
    addToEnvelope: (envelope, session) => {
      const user = session.user as SessionUser | undefined;
      if (user) envelope.authenticatedAs = user.address;
    },
  });
}
