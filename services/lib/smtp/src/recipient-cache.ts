import { routingV1 } from '@hermod/proto';
import { LRUCache } from 'lru-cache';
import type { ValidateRecipient } from './routing-recipient-check.js';

/**
 * A small TTL cache with bounded size (lru-cache): entries expire after ttlMs, the least recently
 * used is dropped when full. A ttlMs of 0 turns caching off.
 */
export class RecipientCache<T extends {}> {
  private readonly entries: LRUCache<string, T> | undefined;

  constructor(ttlMs: number, maxEntries = 50_000, now: () => number = Date.now) {
    this.entries =
      ttlMs > 0
        ? new LRUCache<string, T>({ max: maxEntries, ttl: ttlMs, ttlResolution: 0, perf: { now } })
        : undefined;
  }

  get(key: string): T | undefined {
    return this.entries?.get(key);
  }

  /** Forgets every entry (the answers were given under a configuration that changed). */
  clear(): void {
    this.entries?.clear();
  }

  set(key: string, value: T): void {
    this.entries?.set(key, value);
  }
}

/**
 * ValidateRecipient with a short memory of acceptances: a burst of mail to the same mailbox costs
 * one routing call, not a gRPC round trip and a query per RCPT. Refusals are never cached, so a new
 * user works at once; a removed one is refused again within the TTL (mda fails a delivery to an
 * account that no longer exists). The receiver clears the cache when domain config or status
 * changes (onRoutingInputsChange), since an answer also names the local mailbox the message is
 * routed to at accept time. Keyed by channel and address; an answer that depends on the sender (a
 * group with a sender policy) is not remembered.
 */
export function cachedValidator(
  validate: ValidateRecipient,
  cache: RecipientCache<routingV1.ValidateRecipientResponse>,
): ValidateRecipient {
  return async (request) => {
    const key = `${request.channel} ${request.address}`;
    const cached = cache.get(key);
    if (cached) return cached;
    const answer = await validate(request);
    if (answer.verdict === routingV1.Verdict.VERDICT_ACCEPT && !answer.senderDependent)
      cache.set(key, answer);
    return answer;
  };
}
