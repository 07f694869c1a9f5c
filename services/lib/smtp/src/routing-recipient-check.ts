import { credentials, Metadata } from '@grpc/grpc-js';
import { deadline, tracingClientInterceptor } from '@hermod/grpc';
import type { Logger } from '@hermod/logging';
import { routingV1 } from '@hermod/proto';
import type { RefusalReason } from './refusals.js';
import { smtpError } from './smtp-reply.js';

export type ValidateRecipient = (
  request: routingV1.ValidateRecipientRequest,
) => Promise<routingV1.ValidateRecipientResponse>;

/** A routing gRPC client and ValidateRecipient as a promise with a deadline per call. */
export function routingRecipientClient(
  address: string,
  timeoutMs: number,
): { validate: ValidateRecipient; close(): void } {
  const client = new routingV1.RoutingServiceClient(address, credentials.createInsecure(), {
    interceptors: [tracingClientInterceptor],
    // A restarted routing replica is asked again within about 2 s; grpc-js' default backoff (1 s
    // growing to 120 s) can hold RCPTs at 451 for seconds after routing is back.
    'grpc.initial_reconnect_backoff_ms': 250,
    'grpc.max_reconnect_backoff_ms': 2_000,
  });
  return {
    validate: (request) =>
      new Promise((resolve, reject) => {
        const until = deadline(timeoutMs);
        // Wait for the channel (within the deadline) rather than fail at once while it is in
        // reconnect backoff: right after a routing restart, routing is back before the channel is.
        client.waitForReady(until, (notReady) => {
          if (notReady) {
            reject(notReady);
            return;
          }
          client.validateRecipient(request, new Metadata(), { deadline: until }, (error, response) =>
            error ? reject(error) : resolve(response),
          );
        });
      }),
    close: () => client.close(),
  };
}

/**
 * The refusal reason (for the rejections metric) of routing's verdict at RCPT, the same in msa and
 * mx: relay (550 5.7.1), recipient-syntax (501 5.1.3), otherwise recipient.
 */
export function recipientRefusalReason(verdict: routingV1.Verdict): RefusalReason {
  if (verdict === routingV1.Verdict.VERDICT_RELAY_DENIED) return 'relay';
  if (verdict === routingV1.Verdict.VERDICT_BAD_ADDRESS) return 'recipient-syntax';
  return 'recipient';
}

/**
 * Asks routing about one RCPT and answers smtp-server's callback: accept, routing's own refusal,
 * or 451 4.4.3 when routing cannot be asked (never a guess).
 */
export function answerRecipient(
  validate: ValidateRecipient,
  request: routingV1.ValidateRecipientRequest,
  callback: (error?: Error | null) => void,
  context: {
    logger: Logger;
    sessionId: string;
    onAccepted?: (answer: routingV1.ValidateRecipientResponse) => void;
    /** A refusal, with its reason for the rejections metric (recipientRefusalReason). */
    onRefused?: (code: number, answer: routingV1.ValidateRecipientResponse, reason: RefusalReason) => void;
  },
): void {
  validate(request)
    .then((answer) => {
      if (answer.verdict === routingV1.Verdict.VERDICT_ACCEPT) {
        context.onAccepted?.(answer);
        callback();
        return;
      }
      context.onRefused?.(answer.smtpCode || 550, answer, recipientRefusalReason(answer.verdict));
      callback(
        smtpError(
          answer.smtpCode || 550,
          answer.enhancedCode || '5.1.1',
          answer.message || 'Recipient rejected',
        ),
      );
    })
    .catch((error: unknown) => {
      context.logger.warn({ err: error, sessionId: context.sessionId }, 'routing unavailable at RCPT');
      callback(smtpError(451, '4.4.3', 'Recipient check temporarily unavailable, try again later'));
    });
}
