import { LRUCache } from 'lru-cache';
import type { DnsResolve } from './dns-resolver.js';

// Answers that are facts about the zone (records, no such name, no such type) may be cached;
// timeouts and server failures may not, or one hiccup would stick for the whole TTL.
const cacheableErrors = new Set(['ENOTFOUND', 'ENODATA']);

/**
 * A small answer cache in front of a resolver: SPF, DKIM, DMARC and DNSBL ask the same few names
 * for every message from a sender, and a local caching resolver cannot be assumed in a pod.
 * Concurrent identical questions share one lookup.
 */
export function cachingResolver(
  resolve: DnsResolve,
  ttlMs: number,
  maxEntries = 10_000,
  now: () => number = Date.now,
): DnsResolve {
  if (ttlMs <= 0) return resolve;
  const cache = new LRUCache<string, Promise<unknown>>({
    max: maxEntries,
    ttl: ttlMs,
    ttlResolution: 0,
    perf: { now },
  });
  return (name, rrtype) => {
    const key = `${rrtype} ${name.toLowerCase()}`;
    const hit = cache.get(key);
    if (hit) return hit;
    const answer = resolve(name, rrtype);
    cache.set(key, answer);
    answer.catch((error: unknown) => {
      if (!cacheableErrors.has((error as { code?: string }).code ?? '') && cache.peek(key) === answer)
        cache.delete(key);
    });
    return answer;
  };
}
