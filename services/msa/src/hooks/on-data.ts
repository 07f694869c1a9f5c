import { parseAddress } from '@hermod/address';
import {
  acceptPipeline,
  applyPolicyRules,
  headerAddresses,
  type PolicyOutcome,
  receivedProtocol,
  rfc5322Date,
  sessionReceivedHeader,
  smtpError,
} from '@hermod/smtp';
import type { SMTPServerOptions } from 'smtp-server';
import type { MsaDeps } from '../deps.js';
import type { SessionUser } from '../session-user.js';

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
    if (!(await deps.accounts.ownsAddress(user.accountId, canonical)))
      throw smtpError(553, '5.7.1', `From header address <${canonical}> not owned by user ${user.address}`);
  }
}

const domainOf = (address: string) => address.slice(address.lastIndexOf('@') + 1).toLowerCase();

async function* bufferSource(data: Buffer): AsyncGenerator<Buffer> {
  yield data;
}

async function* withPrefix(prefix: string, source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  if (prefix) yield Buffer.from(prefix, 'latin1');
  yield* source;
}

/**
 * End of DATA through the shared accept pipeline (@hermod/smtp): msa's Received (with the
 * authenticated protocol), Message-ID and Date when missing, and the From field owned by the user.
 */
export function onData(deps: MsaDeps): NonNullable<SMTPServerOptions['onData']> {
  const { config } = deps;
  const { policy } = deps;
  return acceptPipeline<PolicyOutcome>({
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
    check: (prepared, session) =>
      checkFromHeader(deps, session.user as SessionUser | undefined, prepared.values.get('from')),
    ...(policy
      ? {
          decide: async ({ session, body, mailFrom }) => {
            const user = session.user as SessionUser | undefined;
            const outcome = await applyPolicyRules(
              policy,
              {
                direction: 'outbound',
                message: () => body.source(),
                ip: session.remoteAddress,
                mailFrom,
                recipients: session.envelope.rcptTo.map((r) => r.address),
                ...(user ? { senderDomain: domainOf(user.address) } : {}),
              },
              { maxBytes: config.POLICY_MAX_MESSAGE_BYTES, budgetMs: config.POLICY_TIME_BUDGET_MS },
            );
            if (outcome.decision.matched.length > 0)
              deps.logger.info(
                { sessionId: session.id, rules: outcome.decision.matched },
                'policy rules matched',
              );
            if (outcome.quarantine)
              // No quarantine store in this build: refused, never silently held or lost.
              throw smtpError(
                550,
                '5.7.1',
                `Message refused by policy: ${outcome.quarantine.reason} (policy rule ${outcome.quarantine.rule})`,
              );
            return outcome;
          },
          folder: (outcome: PolicyOutcome) => outcome.folder,
          recipientChanges: (outcome: PolicyOutcome) =>
            outcome.add.length > 0 || outcome.replace
              ? { add: outcome.add, ...(outcome.replace ? { replace: outcome.replace } : {}) }
              : undefined,
          storedBody: (source: AsyncIterable<Buffer>, outcome: PolicyOutcome | undefined) =>
            withPrefix(outcome?.headers ?? '', outcome?.stripped ? bufferSource(outcome.stripped) : source),
        }
      : {}),
    accountId: (session) => (session.user as SessionUser | undefined)?.accountId,
    addToEnvelope: (envelope, session) => {
      const user = session.user as SessionUser | undefined;
      if (user) envelope.authenticatedAs = user.address;
    },
  });
}
