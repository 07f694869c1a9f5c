import { routingV1 } from '@hermod/proto';
import type { ValidateRecipient } from '@hermod/smtp';

/**
 * Remembers recipients routing accepted, for a short time, so a busy sender's RCPT for the same
 * mailbox does not cost a gRPC round trip and a database query every time. Only acceptances are
 * cached (a refusal is always asked again, so a new user works at once); an account removed
 * within the TTL is caught by routing after acceptance.
 */
export class RecipientCache {
  private readonly accepted = new Map<string, number>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 50_000,
    private readonly now: () => number = Date.now,
  ) {}

  has(address: string): boolean {
    if (this.ttlMs <= 0) return false;
    const until = this.accepted.get(address);
    if (until === undefined) return false;
    if (until > this.now()) return true;
    this.accepted.delete(address);
    return false;
  }

  remember(address: string): void {
    if (this.ttlMs <= 0) return;
    if (this.accepted.size >= this.maxEntries)
      this.accepted.delete(this.accepted.keys().next().value as string);
    this.accepted.set(address, this.now() + this.ttlMs);
  }
}

/** ValidateRecipient with the cache in front (keyed by the canonical address; the sender does not change routing). */
export function cachedValidator(validate: ValidateRecipient, cache: RecipientCache): ValidateRecipient {
  return async (request) => {
    if (cache.has(request.address))
      return {
        verdict: routingV1.Verdict.VERDICT_ACCEPT,
        smtpCode: 250,
        enhancedCode: '2.1.5',
        message: 'OK',
        destination: 'cached',
        canonicalAddress: request.address,
      };
    const answer = await validate(request);
    if (answer.verdict === routingV1.Verdict.VERDICT_ACCEPT) cache.remember(request.address);
    return answer;
  };
}
