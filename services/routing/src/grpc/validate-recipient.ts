import { status } from '@grpc/grpc-js';
import { routingV1 } from '@hermod/proto';
import { type RoutingLookups, routeRecipient } from '../route-recipient.js';

type Handler = routingV1.RoutingServiceServer['validateRecipient'];

/** RCPT-time check: accept, or the exact SMTP reply to refuse with. */
export function validateRecipientHandler(lookups: RoutingLookups): Handler {
  return (call, callback) => {
    const { address, channel, sender } = call.request;
    if (channel === routingV1.Channel.CHANNEL_UNSPECIFIED || channel === routingV1.Channel.UNRECOGNIZED) {
      callback({ code: status.INVALID_ARGUMENT, message: 'channel is required' });
      return;
    }
    routeRecipient(
      address,
      channel === routingV1.Channel.CHANNEL_INBOUND ? 'inbound' : 'submission',
      lookups,
      sender,
    )
      .then((decision) => {
        if (decision.kind === 'reject') {
          const verdict =
            decision.code < 500
              ? routingV1.Verdict.VERDICT_TEMPORARY_FAILURE
              : decision.enhanced === '5.1.1'
                ? routingV1.Verdict.VERDICT_UNKNOWN_USER
                : decision.enhanced === '5.7.1'
                  ? routingV1.Verdict.VERDICT_RELAY_DENIED
                  : decision.enhanced === '5.7.2'
                    ? routingV1.Verdict.VERDICT_SENDER_REFUSED
                    : routingV1.Verdict.VERDICT_BAD_ADDRESS;
          callback(null, {
            verdict,
            smtpCode: decision.code,
            enhancedCode: decision.enhanced,
            message: decision.message,
            destination: '',
            canonicalAddress: decision.canonical,
            localRoute: undefined,
            senderDependent: false,
          });
          return;
        }
        const kinds = [...new Set(decision.targets.map((t) => t.kind))];
        const [only] = decision.targets;
        callback(null, {
          verdict: routingV1.Verdict.VERDICT_ACCEPT,
          smtpCode: 250,
          enhancedCode: '2.1.5',
          message: 'OK',
          destination: kinds.join(','),
          canonicalAddress: decision.canonical,
          // One local mailbox: the receiver may route at accept time (the routing stage's own rule).
          localRoute:
            decision.targets.length === 1 && only?.kind === 'local'
              ? { accountId: only.accountId, mailbox: only.mailbox, rule: decision.rule, tag: only.tag ?? '' }
              : undefined,
          senderDependent: decision.senderDependent ?? false,
        });
      })
      .catch((error: unknown) => callback({ code: status.UNAVAILABLE, message: (error as Error).message }));
  };
}
