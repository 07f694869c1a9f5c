import { routingV1 } from '@hermod/proto';
import type { ValidateRecipient } from './routing-recipient-check.js';

/**
 * A small TTL map with bounded size: entries expire after ttlMs, and the oldest insertion is dropped
 * when full (a Map keeps insertion order). A ttlMs of 0 turns caching off.
 */
export class RecipientCache<T> {
  private readonly entries = new Map<string, { value: T; expires: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 50_000,
    private readonly now: () => number = Date.now,
  ) {}

  get(key: string): T | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expires <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  /** Forgets every entry (the answers were given under a configuration that changed). */
  clear(): void {
    this.entries.clear();
  }

  set(key: string, value: T): void {
    if (this.ttlMs <= 0) return;
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, { value, expires: this.now() + this.ttlMs });
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
