import { isIPv4, isIPv6 } from 'node:net';
import type { DnsResolve } from './dns-resolver.js';

export interface DnsblListing {
  zone: string;
  /** The 127.0.0.x answer, which lists encode the reason in. */
  answer: string;
}

/** The reversed-nibble or reversed-octet query name of an address in a DNSBL zone (RFC 5782). */
export function dnsblQueryName(ip: string, zone: string): string | undefined {
  const plain = ip.startsWith('::ffff:') && isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
  if (isIPv4(plain)) return `${plain.split('.').reverse().join('.')}.${zone}`;
  if (!isIPv6(plain)) return undefined;
  const groups = plain.split('::');
  const head = groups[0] ? groups[0].split(':') : [];
  const tail = groups[1] ? groups[1].split(':') : [];
  const missing = groups.length === 2 ? 8 - head.length - tail.length : 0;
  const full = [...head, ...Array<string>(missing).fill('0'), ...tail]
    .map((g) => g.padStart(4, '0'))
    .join('');
  return `${full.split('').reverse().join('.')}.${zone}`;
}

/**
 * Looks the client up in every zone at once; the first listing found is returned. A lookup failure
 * (timeout, SERVFAIL) counts as not listed: a broken list must not stop all mail.
 */
export async function checkDnsbl(
  ip: string,
  zones: string[],
  resolve: DnsResolve,
): Promise<DnsblListing | undefined> {
  const answers = await Promise.all(
    zones.map(async (zone) => {
      const name = dnsblQueryName(ip, zone);
      if (!name) return undefined;
      try {
        const records = (await resolve(name, 'A')) as string[];
        // Only 127.0.0.0/8 answers are listings (RFC 5782 §2.1); anything else is a broken or hijacked zone.
        const hit = records.find((a) => a.startsWith('127.'));
        return hit ? { zone, answer: hit } : undefined;
      } catch {
        return undefined;
      }
    }),
  );
  return answers.find((a) => a !== undefined);
}
