import { status } from '@grpc/grpc-js';
import type { routingV1 } from '@hermod/proto';
import { type RoutingLookups, routeRecipient } from '../route-recipient.js';

type Handler = routingV1.RoutingServiceServer['explainRoute'];

/** Routing as a submission would see it, with the rule that matched (for `hermod route explain`). */
export function explainRouteHandler(lookups: RoutingLookups): Handler {
  return (call, callback) => {
    routeRecipient(call.request.address, 'submission', lookups)
      .then((decision) => {
        const domain = decision.canonical.split('@')[1] ?? '';
        const config = lookups.domain(domain);
        const destinations =
          decision.kind === 'local'
            ? [`mailbox:${decision.canonical}/${decision.mailbox}`]
            : decision.kind === 'remote'
              ? [`smtp:${decision.domain}`]
              : [];
        callback(null, {
          canonicalAddress: decision.canonical,
          domain,
          exchanger: config?.exchanger ?? '',
          effectiveExchanger: config?.exchanger ?? 'remote',
          rule: decision.rule,
          destinations,
          explanation:
            decision.kind === 'reject'
              ? `${decision.code} ${decision.enhanced} ${decision.message}`
              : decision.kind === 'local'
                ? `delivered to the local mailbox of ${decision.canonical}`
                : `relayed to the mail exchanger of ${decision.domain}`,
        });
      })
      .catch((error: unknown) => callback({ code: status.UNAVAILABLE, message: (error as Error).message }));
  };
}
