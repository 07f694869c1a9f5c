import { promises as dns } from 'node:dns';

/** The resolver shape mailauth and the DNSBL check take: records of one type for one name. */
export type DnsResolve = (name: string, rrtype: string) => Promise<unknown>;

/**
 * A resolver bound to the configured servers (host:port), or the system's when none are given, so
 * tests and deployments can point SPF/DKIM/DMARC/DNSBL lookups at a DNS server of their choosing.
 */
export function createDnsResolver(servers: string[], timeoutMs: number): DnsResolve {
  const resolver = new dns.Resolver({ timeout: timeoutMs, tries: 2 });
  if (servers.length > 0) resolver.setServers(servers);
  return (name, rrtype) => resolver.resolve(name, rrtype);
}
