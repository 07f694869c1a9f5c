import { type DomainConfigValue, readDkimKey } from '@hermod/domain-config';
import { LRUCache } from 'lru-cache';
import type { KV } from 'nats';
import type { DkimSigningKey } from './dkim-sign.js';

/**
 * The signing key of a sending domain, from live domain config (selector, keyRef) and the DKIM key
 * bucket; cached briefly (lru-cache, bounded) so a busy queue does not read the bucket per message,
 * and a rotated key is picked up within ttlMs.
 */
export function dkimKeySource(
  config: (domain: string) => DomainConfigValue | undefined,
  bucket: () => Promise<KV>,
  ttlMs = 60_000,
  now: () => number = Date.now,
  maxEntries = 10_000,
): (domain: string) => Promise<DkimSigningKey | undefined> {
  const cache = new LRUCache<string, { key: DkimSigningKey | undefined }>({
    max: maxEntries,
    ttl: Math.max(1, ttlMs),
    ttlResolution: 0,
    perf: { now },
  });
  return async (domain) => {
    const dkim = config(domain)?.dkim;
    if (!dkim) return undefined;
    const cacheKey = `${domain}|${dkim.keyRef}`;
    const hit = ttlMs > 0 ? cache.get(cacheKey) : undefined;
    if (hit) return hit.key;
    const stored = await readDkimKey(await bucket(), dkim.keyRef);
    const key = stored
      ? {
          domain: stored.domain,
          selector: stored.selector,
          algorithm: stored.algorithm,
          privateKeyPem: stored.privateKeyPem,
        }
      : undefined;
    cache.set(cacheKey, { key });
    return key;
  };
}
