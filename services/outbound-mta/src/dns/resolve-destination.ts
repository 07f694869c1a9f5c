import { isIP } from 'node:net';
import type { DaneStatus } from '../tls/dane.js';

/** The part of node:dns/promises Resolver the outbound MTA uses (injected; tests fake or point it at a test server). */
export interface DnsResolver {
  resolveMx(name: string): Promise<Array<{ exchange: string; priority: number }>>;
  resolve4(name: string): Promise<string[]>;
  resolve6(name: string): Promise<string[]>;
  resolveTxt(name: string): Promise<string[][]>;
}

export interface RelayHostOverride {
  host: string;
  port?: number;
  preference?: number;
  requireTls?: boolean;
}

export interface TargetHost {
  /** The MX (or override) host name: used for SNI, certificate checks and MTA-STS matching. */
  name: string;
  addresses: string[];
  port: number;
  preference: number;
  requireTls: boolean;
  /** True when the host came from DNS MX records (MTA-STS applies), false for overrides and implicit MX. */
  fromMx: boolean;
  /** DANE (RFC 7672) for this host, when looked up (hosts from MX records, DANE enabled). */
  dane?: DaneStatus;
}

/** Resolution failed: permanent (null MX, no such domain) bounces; temporary retries later. */
export class DestinationError extends Error {
  constructor(
    readonly code: 'NULL_MX' | 'NO_SUCH_DOMAIN' | 'NO_ADDRESS' | 'DNS_TEMPORARY' | 'DANE_LOOKUP',
    readonly permanent: boolean,
    readonly status: string,
    message: string,
    /** The hosts concerned (DANE_LOOKUP: those whose lookups failed), for TLS reports. */
    readonly hosts: string[] = [],
  ) {
    super(message);
    this.name = 'DestinationError';
  }
}

const dnsCode = (error: unknown): string => (error as { code?: string }).code ?? '';
const notFound = (error: unknown) => dnsCode(error) === 'ENOTFOUND';
const noData = (error: unknown) => ['ENODATA', 'ENOTFOUND'].includes(dnsCode(error));

/** Orders by preference and shuffles hosts of equal preference (RFC 5321 §5.1). */
export function orderByPreference<T extends { preference: number }>(
  items: T[],
  random: () => number = Math.random,
): T[] {
  const keyed = items.map((item) => ({ item, tiebreak: random() }));
  keyed.sort((a, b) => a.item.preference - b.item.preference || a.tiebreak - b.tiebreak);
  return keyed.map((k) => k.item);
}

async function addressesOf(resolver: DnsResolver, host: string): Promise<string[]> {
  const literal = host.replace(/^\[|\]$/g, '');
  if (isIP(literal)) return [literal];
  const results = await Promise.allSettled([resolver.resolve4(host), resolver.resolve6(host)]);
  const found = results.flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
  if (found.length > 0) return found;
  const temporary = results.find((r) => r.status === 'rejected' && !noData(r.reason));
  if (temporary && temporary.status === 'rejected')
    throw new DestinationError(
      'DNS_TEMPORARY',
      false,
      '4.4.3',
      `address lookup for ${host} failed: ${dnsCode(temporary.reason)}`,
    );
  return [];
}

/**
 * Where mail for `domain` goes: overrides when given, else MX records in preference order (equal
 * preferences shuffled), else the implicit MX (the domain's own A/AAAA). A null MX (RFC 7505) or a
 * domain that does not exist is permanent; DNS trouble is temporary. Hosts in `exclude` (our own MX
 * names, for backup relaying) are dropped.
 */
export async function resolveDestination(options: {
  resolver: DnsResolver;
  domain: string;
  smtpPort: number;
  overrides?: RelayHostOverride[];
  exclude?: string[];
  random?: () => number;
}): Promise<TargetHost[]> {
  const { resolver, domain, smtpPort } = options;
  const exclude = new Set((options.exclude ?? []).map((h) => h.toLowerCase().replace(/\.$/, '')));
  const withAddresses = async (
    hosts: Array<{ name: string; port: number; preference: number; requireTls: boolean; fromMx: boolean }>,
    none = new DestinationError(
      'NO_ADDRESS',
      false,
      '4.4.4',
      `no address found for the mail hosts of ${domain}`,
    ),
  ): Promise<TargetHost[]> => {
    const out: TargetHost[] = [];
    let temporary: unknown;
    for (const h of hosts) {
      try {
        const addresses = await addressesOf(resolver, h.name);
        if (addresses.length > 0) out.push({ ...h, addresses });
      } catch (error) {
        temporary = error;
      }
    }
    if (out.length === 0 && temporary) throw temporary;
    if (out.length === 0) throw none;
    return out;
  };

  if (options.overrides && options.overrides.length > 0) {
    const ordered = orderByPreference(
      options.overrides.map((o) => ({
        name: o.host.toLowerCase(),
        port: o.port ?? smtpPort,
        preference: o.preference ?? 10,
        requireTls: o.requireTls ?? false,
        fromMx: false,
      })),
      options.random,
    );
    return withAddresses(ordered);
  }

  let records: Array<{ exchange: string; priority: number }>;
  try {
    records = await resolver.resolveMx(domain);
  } catch (error) {
    if (notFound(error))
      throw new DestinationError('NO_SUCH_DOMAIN', true, '5.1.2', `domain ${domain} does not exist`);
    if (!noData(error))
      throw new DestinationError(
        'DNS_TEMPORARY',
        false,
        '4.4.3',
        `MX lookup for ${domain} failed: ${dnsCode(error)}`,
      );
    records = [];
  }
  if (records.some((r) => r.exchange === '' || r.exchange === '.'))
    throw new DestinationError('NULL_MX', true, '5.1.10', `${domain} does not accept mail (null MX)`);
  if (records.length === 0) {
    const implicit = await withAddresses([
      { name: domain, port: smtpPort, preference: 0, requireTls: false, fromMx: false },
    ]).catch((error: unknown) => {
      if (error instanceof DestinationError && error.code === 'NO_ADDRESS')
        throw new DestinationError('NO_SUCH_DOMAIN', true, '5.1.2', `${domain} has no MX and no address`);
      throw error;
    });
    return implicit;
  }
  const ordered = orderByPreference(
    records
      .map((r) => ({
        name: r.exchange.toLowerCase().replace(/\.$/, ''),
        port: smtpPort,
        preference: r.priority,
        requireTls: false,
        fromMx: true,
      }))
      .filter((r) => !exclude.has(r.name)),
    options.random,
  );
  if (ordered.length === 0)
    throw new DestinationError('NO_ADDRESS', false, '4.4.4', `every MX of ${domain} is one of our own hosts`);
  // RFC 5321 section 5.1: an MX's data is a domain name (an IP address there is not used), and MX
  // records none of which is usable are an error, reported at once (Postfix and Exim alike).
  const noUsableMx = new DestinationError(
    'NO_ADDRESS',
    true,
    '5.4.4',
    `no usable MX for ${domain}: ${ordered.map((h) => h.name).join(', ')} (an MX must name a host that has an address)`,
  );
  const named = ordered.filter((h) => !isIP(h.name.replace(/^\[|\]$/g, '')));
  if (named.length === 0) throw noUsableMx;
  return withAddresses(named, noUsableMx);
}
