/**
 * Slows down and then locks out password guessing, per client IP and per username independently,
 * with the same behaviour whether the account exists or not.
 */
export class AuthThrottle {
  private readonly failures = new Map<string, { count: number; since: number }>();

  constructor(
    private readonly maxFailures: number,
    private readonly lockoutMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  private entry(key: string) {
    const e = this.failures.get(key);
    if (e && this.now() - e.since > this.lockoutMs) {
      this.failures.delete(key);
      return undefined;
    }
    return e;
  }

  /** Whether either key is currently locked out. */
  isLocked(ip: string, user: string): boolean {
    return (
      (this.entry(`ip:${ip}`)?.count ?? 0) >= this.maxFailures ||
      (this.entry(`user:${user}`)?.count ?? 0) >= this.maxFailures
    );
  }

  /** Delay before answering a failed attempt: grows with the failures seen (capped at 5 s). */
  recordFailure(ip: string, user: string): number {
    let worst = 0;
    for (const key of [`ip:${ip}`, `user:${user}`]) {
      const e = this.entry(key) ?? { count: 0, since: this.now() };
      e.count++;
      this.failures.set(key, e);
      worst = Math.max(worst, e.count);
    }
    if (this.failures.size > 100_000) this.failures.clear(); // bounded memory under a distributed attack
    return Math.min(5_000, 250 * 2 ** Math.min(worst - 1, 5));
  }

  recordSuccess(ip: string, user: string): void {
    this.failures.delete(`ip:${ip}`);
    this.failures.delete(`user:${user}`);
  }
}
