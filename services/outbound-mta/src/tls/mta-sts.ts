import { request } from 'node:https';
import type { LookupFunction } from 'node:net';
import { parsePolicy, resolvePolicy } from 'mailauth/lib/mta-sts.js';
import type { DnsResolver } from '../dns/resolve-destination.js';

export interface MtaStsPolicy {
  mode: 'enforce' | 'testing' | 'none';
  mx: string[];
  maxAgeSeconds: number;
  id: string;
  fetchedAt: number;
}

/**
 * RFC 8461 §3.2 policy text -> policy, validated by mailauth's parser (version, mode, max_age up
 * to one year, mx required unless mode is none); undefined when invalid.
 */
export function parseMtaStsPolicy(text: string, id: string, now: number): MtaStsPolicy | undefined {
  let parsed: ReturnType<typeof parsePolicy>;
  try {
    parsed = parsePolicy(text);
  } catch {
    return undefined;
  }
  return { mode: parsed.mode, mx: parsed.mx ?? [], maxAgeSeconds: parsed.maxAge, id, fetchedAt: now };
}

/**
 * RFC 8461 §4.1: "mx.example.org" exactly, or "*.example.org" for one extra leftmost label. Ours,
 * not mailauth's validateMx: that one lets "*.example.org" match any depth ("a.b.example.org").
 */
export function mxMatchesPolicy(policy: MtaStsPolicy, host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, '');
  return policy.mx.some((pattern) =>
    pattern.startsWith('*.')
      ? name.endsWith(pattern.slice(1)) && !name.slice(0, -pattern.length + 1).includes('.')
      : name === pattern,
  );
}

export type PolicyFetcher = (domain: string) => Promise<string>;

/** A `lookup` for node:https that resolves names with our resolver (IPv4), not the system's. */
export function resolverLookup(resolver: DnsResolver): LookupFunction {
  return (hostname, lookupOptions, callback) => {
    resolver.resolve4(hostname).then(
      (addresses) => {
        const address = addresses[0];
        if (!address)
          return callback(
            Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }),
            '',
            4,
          );
        if (lookupOptions.all)
          return (callback as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(
            null,
            [{ address, family: 4 }],
          );
        callback(null, address, 4);
      },
      (error: NodeJS.ErrnoException) => callback(error, '', 4),
    );
  };
}

/**
 * Fetches https://mta-sts.<domain>/.well-known/mta-sts.txt: certificate checked, no redirects,
 * bounded size and time. The policy host is resolved with our own resolver; the port and extra CA
 * are configurable (tests serve the policy from loopback).
 */
export function httpsPolicyFetcher(options: {
  resolver: DnsResolver;
  port: number;
  ca?: Buffer | undefined;
  timeoutMs?: number;
}): PolicyFetcher {
  const lookup = resolverLookup(options.resolver);
  return (domain) =>
    new Promise((resolve, reject) => {
      const host = `mta-sts.${domain}`;
      const req = request(
        {
          host,
          port: options.port,
          path: '/.well-known/mta-sts.txt',
          method: 'GET',
          servername: host,
          lookup,
          ...(options.ca ? { ca: options.ca } : {}),
          timeout: options.timeoutMs ?? 10_000,
          headers: { 'user-agent': 'hermod-outbound-mta' },
        },
        (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            reject(new Error(`MTA-STS policy fetch for ${domain}: HTTP ${res.statusCode}`));
            return;
          }
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            body += chunk;
            if (body.length > 64 * 1024) req.destroy(new Error('MTA-STS policy larger than 64 KiB'));
          });
          res.on('end', () => resolve(body));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error('MTA-STS policy fetch timed out')));
      req.on('error', reject);
      req.end();
    });
}

/**
 * MTA-STS policies by domain: the _mta-sts TXT record's id decides whether a cached policy is
 * current; a fetch failure keeps the cached policy until it expires (RFC 8461 §3.3, §5.1).
 * mailauth's getPolicy/fetchPolicy are not used: they fetch from port 443 with the system CAs
 * only and read the response without a size limit, and getPolicy refetches a policy that is
 * still valid; the clock here is injectable for tests.
 */
export class MtaStsCache {
  private readonly cache = new Map<string, MtaStsPolicy>();

  constructor(
    private readonly resolver: DnsResolver,
    private readonly fetchPolicy: PolicyFetcher,
    private readonly now: () => number = Date.now,
  ) {}

  async policyFor(domain: string): Promise<MtaStsPolicy | undefined> {
    const now = this.now();
    const cached = this.cache.get(domain);
    const valid = cached && now < cached.fetchedAt + cached.maxAgeSeconds * 1000 ? cached : undefined;
    let id: string | false;
    try {
      // mailauth reads the one v=STSv1 record's id (none: false; several: an error).
      id = await resolvePolicy(domain, {
        resolver: (name, rrtype) =>
          rrtype === 'TXT'
            ? this.resolver.resolveTxt(name)
            : Promise.reject(new Error(`unexpected ${rrtype} lookup for ${name}`)),
      });
    } catch {
      return valid;
    }
    if (!id) return valid;
    if (valid && valid.id === id) return valid;
    try {
      const policy = parseMtaStsPolicy(await this.fetchPolicy(domain), id, now);
      if (!policy) return valid;
      this.cache.set(domain, policy);
      return policy;
    } catch {
      return valid;
    }
  }
}
