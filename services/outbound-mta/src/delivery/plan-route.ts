import type { DomainConfigValue } from '@hermod/domain-config';
import type { SecureDnsQuery } from '../dns/dnssec-query.js';
import {
  DestinationError,
  type DnsResolver,
  type RelayHostOverride,
  resolveDestination,
  type TargetHost,
} from '../dns/resolve-destination.js';
import { daneStatus } from '../tls/dane.js';
import { type MtaStsCache, type MtaStsPolicy, mxMatchesPolicy } from '../tls/mta-sts.js';

export interface RoutePlan {
  hosts: TargetHost[];
  /** Encryption required for every host (domain setting or MTA-STS enforce). */
  requireTls: boolean;
  /** Certificate must match the host (MTA-STS enforce). */
  verifyTls: boolean;
  /** For logs and the recorded TLS outcome: 'mta-sts enforce', 'mta-sts testing', 'tls required'. */
  policy: string | undefined;
  /** The MTA-STS policy in force (enforce or testing), for TLS reports. */
  sts?: MtaStsPolicy | undefined;
  /** MX hosts left out because their DANE lookups failed (RFC 7672 section 2.2), for TLS reports. */
  daneLookupFailed?: string[];
}

/** The TLS policy label of one host of the plan: DANE is per host and wins over the domain's policy. */
export function hostPolicy(plan: RoutePlan, host: TargetHost): string | undefined {
  if (host.dane?.kind === 'dane') return 'dane';
  if (host.dane?.kind === 'unusable') return 'dane, no usable TLSA';
  return plan.policy;
}

/** How one session to a host is opened: certificate checked or not, STARTTLS used or not. */
export interface SessionMode {
  verifyTls: boolean;
  plaintext: boolean;
}

/**
 * The sessions to try, in order, at each address of a host, the next one after a TLS failure
 * only. Where TLS is required (domain or host setting, MTA-STS enforce, DANE) there is one.
 * Otherwise TLS is opportunistic (RFC 7435): after a failed handshake the same address again in
 * plaintext. Under MTA-STS testing (RFC 8461 section 5) a policy host is first validated as under
 * enforce, so that a failure is reported (RFC 8460), and then delivered to as without a policy.
 */
export function sessionModes(plan: RoutePlan, host: TargetHost): SessionMode[] {
  if (plan.requireTls || host.requireTls || (host.dane !== undefined && host.dane.kind !== 'none'))
    return [{ verifyTls: plan.verifyTls, plaintext: false }];
  const opportunistic = [
    { verifyTls: false, plaintext: false },
    { verifyTls: false, plaintext: true },
  ];
  return plan.sts?.mode === 'testing' && host.fromMx && mxMatchesPolicy(plan.sts, host.name)
    ? [{ verifyTls: true, plaintext: false }, ...opportunistic]
    : opportunistic;
}

const asOverrides = (value: unknown): RelayHostOverride[] =>
  Array.isArray(value)
    ? value.filter((h): h is RelayHostOverride => typeof (h as { host?: unknown })?.host === 'string')
    : [];

/**
 * Where and how to deliver mail for one destination: live domain config overrides ("deliver
 * example.org via these hosts") first, then the routing decision's relay hosts, then DNS; TLS
 * required from the domain config or the hosts; MTA-STS for hosts that came from MX records.
 */
export async function planRoute(options: {
  domain: string;
  destination: Record<string, unknown> | null;
  config: DomainConfigValue | undefined;
  resolver: DnsResolver;
  mtaSts: MtaStsCache;
  smtpPort: number;
  /** RFC 8689 `TLS-Required: No`: no MTA-STS, no domain TLS requirement (TLS still when offered). */
  ignoreTlsPolicy?: boolean;
  /** DANE (RFC 7672) through this validating resolver; off when undefined. */
  dane?: SecureDnsQuery | undefined;
}): Promise<RoutePlan> {
  const { domain, destination, config } = options;
  const live =
    config?.exchanger === 'remote' || config?.exchanger === 'backup' ? (config.remoteHosts ?? []) : [];
  const overrides = live.length > 0 ? live : asOverrides(destination?.relayHosts);
  const exclude = Array.isArray(destination?.excludeHosts)
    ? destination.excludeHosts.filter((h): h is string => typeof h === 'string')
    : [];
  let hosts = await resolveDestination({
    resolver: options.resolver,
    domain,
    smtpPort: options.smtpPort,
    overrides,
    exclude,
  });
  if (options.ignoreTlsPolicy)
    return { hosts, requireTls: false, verifyTls: false, policy: 'tls-required: no' };
  const query = options.dane;
  if (query)
    hosts = await Promise.all(
      hosts.map(async (h) => (h.fromMx ? { ...h, dane: await daneStatus(query, h.name, h.port) } : h)),
    );
  // A host whose TLSA lookup failed may be under attack (RFC 7672 section 2.2): never used.
  const daneFailed = hosts.filter((h) => h.dane?.kind === 'failed');
  hosts = hosts.filter((h) => h.dane?.kind !== 'failed');
  if (hosts.length === 0)
    throw new DestinationError(
      'DANE_LOOKUP',
      false,
      '4.7.5',
      `DANE: ${daneFailed.map((h) => (h.dane?.kind === 'failed' ? h.dane.reason : '')).join('; ')}`,
      daneFailed.map((h) => h.name),
    );
  const withDane = (h: TargetHost) => h.dane?.kind === 'dane' || h.dane?.kind === 'unusable';
  let requireTls = config?.tls.requireOutbound ?? false;
  let verifyTls = false;
  let policy: string | undefined = requireTls ? 'tls required' : undefined;
  // RFC 8461 section 2: MTA-STS is not applied to hosts that DANE covers.
  const sts = hosts.some((h) => h.fromMx && !withDane(h))
    ? await options.mtaSts.policyFor(domain)
    : undefined;
  if (sts?.mode === 'enforce') {
    hosts = hosts.filter((h) => withDane(h) || mxMatchesPolicy(sts, h.name));
    if (hosts.length === 0)
      throw new DestinationError(
        'NO_ADDRESS',
        false,
        '4.7.5',
        `no MX of ${domain} matches its MTA-STS policy`,
      );
    requireTls = true;
    verifyTls = true;
    policy = 'mta-sts enforce';
  } else if (sts?.mode === 'testing') policy = policy ?? 'mta-sts testing';
  return {
    hosts,
    requireTls,
    verifyTls,
    policy,
    sts: sts?.mode === 'enforce' || sts?.mode === 'testing' ? sts : undefined,
    daneLookupFailed: daneFailed.map((h) => h.name),
  };
}
