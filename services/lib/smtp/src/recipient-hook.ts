import type { Logger } from '@hermod/logging';
import type { routingV1 } from '@hermod/proto';
import type { SMTPServerAddress, SMTPServerOptions, SMTPServerSession } from 'smtp-server';
import { sessionRecipientRefusal } from './envelope-rules.js';
import type { RecipientRoutes } from './recipient-routes.js';
import type { RecordRefusal } from './refusals.js';
import { answerRecipient, type ValidateRecipient } from './routing-recipient-check.js';

/** What RCPT TO uses of a receiving service (msa, mx). */
export interface RecipientHookDeps {
  validateRecipient: ValidateRecipient;
  /** Routing's local destinations of accepted recipients, for routing at accept time. */
  recipientRoutes: RecipientRoutes;
  refused: RecordRefusal;
  logger: Logger;
  /** Where RCPT TO:<Postmaster> goes (RFC 5321 4.5.1). */
  postmaster: string;
}

/**
 * RCPT TO, once for msa and mx: the session's own limits (sessionRecipientRefusal), then the
 * service's own check if it has one (msa: the account's recipient limits), then routing's decision,
 * asked at once (never a bounce later). An accepted recipient's route is remembered for routing at
 * accept time; a refusal is counted and logged with the recipient as routing canonicalised it.
 */
export function recipientHook(
  deps: RecipientHookDeps,
  options: {
    maxRecipients: number;
    channel: routingV1.Channel;
    /** Answers `callback` itself (a refusal) or calls `ask` to go on to routing. */
    beforeRouting?(
      address: SMTPServerAddress,
      session: SMTPServerSession,
      callback: (error?: Error | null) => void,
      ask: () => void,
    ): void;
  },
): NonNullable<SMTPServerOptions['onRcptTo']> {
  return (address, session, callback) => {
    const refusal = sessionRecipientRefusal(
      address,
      session,
      { maxRecipients: options.maxRecipients, postmaster: deps.postmaster },
      deps.refused,
    );
    if (refusal) {
      callback(refusal);
      return;
    }
    const sender = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
    const ask = () =>
      answerRecipient(
        deps.validateRecipient,
        { address: address.address, channel: options.channel, sender },
        callback,
        {
          logger: deps.logger,
          sessionId: session.id,
          onAccepted: (answer) => deps.recipientRoutes.remember(address, answer),
          onRefused: (code, answer, reason) =>
            deps.refused(session, reason, { code, recipient: answer.canonicalAddress || address.address }),
        },
      );
    if (options.beforeRouting) options.beforeRouting(address, session, callback, ask);
    else ask();
  };
}
