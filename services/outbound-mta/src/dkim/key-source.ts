import { type DomainConfigValue, readDkimKey } from '@hermod/domain-config';
import type { KV } from 'nats';
import type { DkimSigningKey } from './dkim-sign.js';

/**
 * The signing key of a sending domain, from live domain config (selector, keyRef) and the DKIM key
 * bucket; cached briefly so a busy queue does not read the bucket per message, and a rotated key
 * is picked up within ttlMs.
 */
export function dkimKeySource(
  config: (domain: string) => DomainConfigValue | undefined,
  bucket: () => Promise<KV>,
  ttlMs = 60_000,
  now: () => number = Date.now,
): (domain: string) => Promise<DkimSigningKey | undefined> {
  const cache = new Map<string, { at: number; key: DkimSigningKey | undefined }>();
  return async (domain) => {
    const dkim = config(domain)?.dkim;
    if (!dkim) return undefined;
    const cacheKey = `${domain}|${dkim.keyRef}`;
    const hit = cache.get(cacheKey);
    if (hit && now() - hit.at < ttlMs) return hit.key;
    const stored = await readDkimKey(await bucket(), dkim.keyRef);
    const key = stored
      ? {
          domain: stored.domain,
          selector: stored.selector,
          algorithm: stored.algorithm,
          privateKeyPem: stored.privateKeyPem,
        }
      : undefined;
    cache.set(cacheKey, { at: now(), key });
    return key;
  };
}
