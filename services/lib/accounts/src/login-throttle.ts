import type { Pool } from '@hermod/db';
import { LRUCache } from 'lru-cache';

/**
 * How failed logins are slowed down and locked out. The same policy object serves submission, IMAP
 * and POP3; the counters live in a LoginFailureStore (PostgreSQL in production, so that every
 * replica of every service counts against the same numbers).
 */
export interface LoginThrottlePolicy {
  /** Failures of one key (an account, or a client IP) after which it is locked for lockoutMs. */
  threshold: number;
  /** A key's failures are forgotten windowMs after its last failure (while it is not locked). */
  windowMs: number;
  lockoutMs: number;
  /** Delay before answering a failure: baseDelayMs doubled per further failure, up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
}

/** The counters behind the throttle, keyed by strings such as `ip:192.0.2.1` and `account:42`. */
export interface LoginFailureStore {
  /** The highest failure count among keys that have not expired, and whether any of them is locked. */
  state(
    keys: string[],
    now: number,
    policy: LoginThrottlePolicy,
  ): Promise<{ failures: number; locked: boolean }>;
  /** Counts one failure against every key; returns the highest count after it. */
  recordFailure(keys: string[], now: number, policy: LoginThrottlePolicy): Promise<number>;
  /** Forgets one key's failures. */
  clear(key: string): Promise<void>;
}

/**
 * The key of a client address: IPv4 (also IPv4-mapped IPv6) as is, IPv6 by its /64, the smallest
 * block one subscriber usually holds (so rotating through one's own /64 gives no extra attempts).
 */
export function clientKey(remoteAddress: string): string {
  const address = remoteAddress.startsWith('::ffff:') ? remoteAddress.slice(7) : remoteAddress;
  if (!address.includes(':')) return `ip:${address}`;
  const [head = '', tail = ''] = address.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = address.includes('::')
    ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right]
    : left;
  return `ip:${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

export class LoginThrottle {
  constructor(
    private readonly store: LoginFailureStore,
    readonly policy: LoginThrottlePolicy,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Whether a login for accountKey from remoteAddress may go on to the password check; failures is
   * the larger live count of the two (0: a success has nothing to clear).
   */
  async check(
    remoteAddress: string,
    accountKey: string,
  ): Promise<{ allowed: boolean; delayMs: number; failures: number }> {
    const { failures, locked } = await this.store.state(
      [clientKey(remoteAddress), accountKey],
      this.now(),
      this.policy,
    );
    return { allowed: !locked, delayMs: locked ? this.delay(failures) : 0, failures };
  }

  /** Counts a failed password against the client and the account; returns the delay before answering. */
  async failed(remoteAddress: string, accountKey: string): Promise<number> {
    const failures = await this.store.recordFailure(
      [clientKey(remoteAddress), accountKey],
      this.now(),
      this.policy,
    );
    return this.delay(failures);
  }

  /** A success clears the account's own count only: the client's failures against others remain. */
  succeeded(accountKey: string): Promise<void> {
    return this.store.clear(accountKey);
  }

  private delay(failures: number): number {
    if (failures <= 0 || this.policy.baseDelayMs === 0) return 0;
    return Math.min(this.policy.maxDelayMs, this.policy.baseDelayMs * 2 ** Math.min(failures - 1, 20));
  }
}

/** The expiry of a key after its failure number `failures`. */
const expiresAfter = (failures: number, now: number, policy: LoginThrottlePolicy) =>
  now + (failures >= policy.threshold ? policy.lockoutMs : policy.windowMs);

/**
 * Counters in one process, for tests and single-process tools. Bounded: past maxKeys the least
 * recently used key is evicted, one at a time, never all at once.
 */
export class MemoryLoginFailureStore implements LoginFailureStore {
  private readonly counters: LRUCache<string, { failures: number; expiresAt: number }>;

  constructor(maxKeys = 100_000) {
    this.counters = new LRUCache({ max: maxKeys });
  }

  private live(key: string, now: number) {
    const c = this.counters.get(key);
    return c && c.expiresAt > now ? c : undefined;
  }

  async state(keys: string[], now: number, policy: LoginThrottlePolicy) {
    let failures = 0;
    for (const key of keys) failures = Math.max(failures, this.live(key, now)?.failures ?? 0);
    return { failures, locked: failures >= policy.threshold };
  }

  async recordFailure(keys: string[], now: number, policy: LoginThrottlePolicy): Promise<number> {
    let worst = 0;
    for (const key of keys) {
      const failures = (this.live(key, now)?.failures ?? 0) + 1;
      this.counters.set(key, { failures, expiresAt: expiresAfter(failures, now, policy) });
      worst = Math.max(worst, failures);
    }
    return worst;
  }

  async clear(key: string): Promise<void> {
    this.counters.delete(key);
  }
}

/**
 * Counters in PostgreSQL (table login_failures), shared by every replica of msa and imap: one
 * upsert per failure, one indexed read per attempt. Expired rows are deleted by time, at most once
 * a minute, never by count.
 */
export class PostgresLoginFailureStore implements LoginFailureStore {
  private lastPrune = 0;

  constructor(
    private readonly pool: Pool,
    private readonly onPruneError: (error: unknown) => void = () => {},
  ) {}

  async state(keys: string[], now: number, policy: LoginThrottlePolicy) {
    const { rows } = await this.pool.query<{ failures: number | null }>({
      name: 'accounts-login-failures',
      text: 'SELECT max(failures) AS failures FROM login_failures WHERE key = ANY($1::text[]) AND expires_at > $2',
      values: [keys, now],
    });
    const failures = rows[0]?.failures ?? 0;
    return { failures, locked: failures >= policy.threshold };
  }

  async recordFailure(keys: string[], now: number, policy: LoginThrottlePolicy): Promise<number> {
    // An expired row starts again at 1; a row reaching the threshold lives lockoutMs, others windowMs.
    const { rows } = await this.pool.query<{ failures: number }>(
      `INSERT INTO login_failures AS f (key, failures, expires_at)
       SELECT k, 1, $2::bigint + CASE WHEN 1 >= $3::int THEN $5::bigint ELSE $4::bigint END
       FROM unnest($1::text[]) AS k
       ON CONFLICT (key) DO UPDATE SET
         failures = CASE WHEN f.expires_at <= $2 THEN 1 ELSE f.failures + 1 END,
         expires_at = $2::bigint + CASE
           WHEN (CASE WHEN f.expires_at <= $2 THEN 1 ELSE f.failures + 1 END) >= $3::int THEN $5::bigint
           ELSE $4::bigint END
       RETURNING failures`,
      [keys, now, policy.threshold, policy.windowMs, policy.lockoutMs],
    );
    if (now - this.lastPrune > 60_000) {
      this.lastPrune = now;
      this.pool.query('DELETE FROM login_failures WHERE expires_at <= $1', [now]).catch(this.onPruneError);
    }
    return Math.max(0, ...rows.map((r) => r.failures));
  }

  async clear(key: string): Promise<void> {
    await this.pool.query('DELETE FROM login_failures WHERE key = $1', [key]);
  }
}
