import { AddressError, parseAddress } from '@hermod/address';
import type { DomainConfigValue } from '@hermod/domain-config';

/** Where one recipient goes. Rejections carry the SMTP reply to give at RCPT time. */
export type RouteDecision =
  | { kind: 'local'; canonical: string; accountId: number; mailbox: string; rule: string }
  | { kind: 'remote'; canonical: string; domain: string; rule: string }
  | { kind: 'reject'; canonical: string; code: number; enhanced: string; message: string; rule: string };

export type Channel = 'submission' | 'inbound';

/** What routing needs to know; injected so decisions are testable without a database. */
export interface RoutingLookups {
  domain(name: string): DomainConfigValue | undefined;
  /** The account that owns address (primary or alias), if any. */
  accountFor(address: string): Promise<{ id: number; address: string } | undefined>;
}

/**
 * Decides where a recipient goes from the live domain config. Mail for a domain we do not serve goes
 * out (submission) or is refused (inbound: no open relay).
 */
export async function routeRecipient(
  address: string,
  channel: Channel,
  lookups: RoutingLookups,
): Promise<RouteDecision> {
  let parsed: ReturnType<typeof parseAddress>;
  try {
    parsed = parseAddress(address);
  } catch (error) {
    const relayHack =
      error instanceof AddressError &&
      ['routing-characters', 'source-route', 'address-literal'].includes(error.code);
    return {
      kind: 'reject',
      canonical: address,
      code: relayHack ? 550 : 501,
      enhanced: relayHack ? '5.7.1' : '5.1.3',
      message: relayHack ? 'Relaying denied' : `Bad recipient address syntax: ${(error as Error).message}`,
      rule: 'syntax',
    };
  }
  const config = lookups.domain(parsed.domain);
  if (!config) {
    if (channel === 'inbound')
      return {
        kind: 'reject',
        canonical: parsed.canonical,
        code: 550,
        enhanced: '5.7.1',
        message: 'Relaying denied',
        rule: 'not-served',
      };
    return { kind: 'remote', canonical: parsed.canonical, domain: parsed.domain, rule: 'not-served' };
  }
  if (config.exchanger === 'remote') {
    if (channel === 'inbound')
      return {
        kind: 'reject',
        canonical: parsed.canonical,
        code: 550,
        enhanced: '5.7.1',
        message: 'Relaying denied',
        rule: 'remote-domain',
      };
    return { kind: 'remote', canonical: parsed.canonical, domain: parsed.domain, rule: 'remote-domain' };
  }
  if (config.exchanger !== 'local') {
    // backup and auto are decided by the full routing engine; until then refuse softly rather than guess.
    return {
      kind: 'reject',
      canonical: parsed.canonical,
      code: 451,
      enhanced: '4.3.0',
      message: `Exchanger mode ${config.exchanger} is not available yet`,
      rule: `${config.exchanger}-domain`,
    };
  }
  const account = await lookups.accountFor(parsed.canonical);
  if (!account)
    return {
      kind: 'reject',
      canonical: parsed.canonical,
      code: 550,
      enhanced: '5.1.1',
      message: 'No such user here',
      rule: 'unknown-user',
    };
  return {
    kind: 'local',
    canonical: parsed.canonical,
    accountId: account.id,
    mailbox: 'INBOX',
    rule: 'account',
  };
}
