import { status } from '@grpc/grpc-js';
import { domainOfAddress } from '@hermod/address';
import type { routingV1 } from '@hermod/proto';
import {
  type RelayHost,
  type RouteDecision,
  type RouteTarget,
  type RoutingLookups,
  routeRecipient,
} from '../route-recipient.js';

type Handler = routingV1.RoutingServiceServer['explainRoute'];

const via = (hosts: RelayHost[], domain: string) =>
  hosts.length > 0 ? hosts.map((h) => `${h.host}:${h.port}`).join(',') : `MX of ${domain}`;

function describeTarget(t: RouteTarget): string {
  switch (t.kind) {
    case 'local':
      return `mailbox:${t.address}/${t.mailbox}${t.tag ? ` (tag ${t.tag})` : ''}`;
    case 'remote':
      return `${t.forwarded ? 'forward' : 'smtp'}:${t.address} via ${via(t.relayHosts, t.domain)}${t.forwarded ? ' (SRS sender)' : ''}`;
    case 'backup':
      return `hold:${t.address} relay to ${via(t.relayHosts, t.domain)} within ${t.maxHoldSeconds}s`;
  }
}

function explanation(decision: RouteDecision, reason: string | undefined): string {
  const why = reason ? ` (auto: ${reason})` : '';
  if (decision.kind === 'reject') return `${decision.code} ${decision.enhanced} ${decision.message}${why}`;
  const kinds = new Set(decision.targets.map((t) => t.kind));
  const what =
    kinds.size === 1 && kinds.has('local')
      ? 'delivered to local mailboxes'
      : kinds.size === 1 && kinds.has('backup')
        ? 'held here and relayed to the primary MX'
        : kinds.has('local')
          ? 'delivered locally and relayed'
          : 'relayed to another mail exchanger';
  return `${what} by rule ${decision.rule}${why}`;
}

const unservedNote =
  'the domain is not served here: this is how authenticated submission routes it (mail for it from outside is refused)';

/**
 * How an address is routed right now, with the rule that matched (for `hermod route explain`): as
 * mail arriving from outside for domains we accept (local, backup), as submission otherwise.
 */
export function explainRouteHandler(lookups: RoutingLookups): Handler {
  return (call, callback) => {
    const address = call.request.address;
    const domain = domainOfAddress(address);
    const config = lookups.domain(domain);
    const auto = config?.exchanger === 'auto' ? lookups.autoExchanger?.(domain) : undefined;
    const effective = config?.exchanger === 'auto' ? auto?.effective : config?.exchanger;
    const channel = effective === 'local' || effective === 'backup' ? 'inbound' : 'submission';
    if (address.startsWith('@')) {
      // The domain as a whole: its mode, and that a recipient decides the rule.
      callback(null, {
        canonicalAddress: address.toLowerCase(),
        domain,
        exchanger: config?.exchanger ?? '',
        effectiveExchanger: effective ?? '',
        rule: config ? 'domain' : 'not-served',
        destinations: [],
        explanation: config
          ? `served here in ${config.exchanger} mode; name a recipient (user@${domain}) to see the rule that applies to it`
          : unservedNote,
      });
      return;
    }
    routeRecipient(address, channel, lookups)
      .then((decision) => {
        callback(null, {
          canonicalAddress: decision.canonical,
          domain: decision.canonical.slice(decision.canonical.lastIndexOf('@') + 1),
          exchanger: decision.exchanger,
          effectiveExchanger: decision.effectiveExchanger,
          rule: decision.rule,
          destinations: decision.kind === 'deliver' ? decision.targets.map(describeTarget) : [],
          explanation: `${explanation(decision, auto?.reason)}${config ? '' : `; ${unservedNote}`}`,
        });
      })
      .catch((error: unknown) => callback({ code: status.UNAVAILABLE, message: (error as Error).message }));
  };
}
