import type { LoginGuard } from '../session/session.js';

export interface LoginGuardOptions {
  /** Delay after the first failure; doubles with each further failure up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Failures (per IP or per username) within windowMs after which logins are refused for lockoutMs. */
  lockoutThreshold: number;
  windowMs: number;
  lockoutMs: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

interface Counter {
  failures: number;
  first: number;
  lockedUntil: number;
}

/**
 * Growing delays and temporary lockout after failed logins, counted per client IP and per username.
 * Unknown usernames are counted exactly like known ones, so the replies reveal nothing.
 */
export class MemoryLoginGuard implements LoginGuard {
  private readonly counters = new Map<string, Counter>();
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: LoginGuardOptions) {
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  private counter(key: string): Counter | undefined {
    const c = this.counters.get(key);
    if (c && this.now() - c.first > this.options.windowMs && this.now() > c.lockedUntil) {
      this.counters.delete(key);
      return undefined;
    }
    return c;
  }

  async check(ip: string, username: string): Promise<boolean> {
    const now = this.now();
    for (const key of [`ip:${ip}`, `user:${username.toLowerCase()}`]) {
      const c = this.counter(key);
      if (c && c.lockedUntil > now) return false;
    }
    return true;
  }

  async failed(ip: string, username: string): Promise<void> {
    let worst = 0;
    for (const key of [`ip:${ip}`, `user:${username.toLowerCase()}`]) {
      let c = this.counter(key);
      if (!c) {
        c = { failures: 0, first: this.now(), lockedUntil: 0 };
        this.counters.set(key, c);
      }
      c.failures++;
      if (c.failures >= this.options.lockoutThreshold) c.lockedUntil = this.now() + this.options.lockoutMs;
      worst = Math.max(worst, c.failures);
    }
    if (this.counters.size > 100_000) this.prune();
    await this.sleep(Math.min(this.options.maxDelayMs, this.options.baseDelayMs * 2 ** (worst - 1)));
  }

  succeeded(_ip: string, username: string): void {
    this.counters.delete(`user:${username.toLowerCase()}`);
  }

  private prune(): void {
    for (const key of [...this.counters.keys()]) this.counter(key);
  }
}
