import { env } from '@hermod/config';
import type { LoginThrottlePolicy } from './login-throttle.js';

/**
 * The login throttle's settings, read by every service that checks passwords (msa, imap with POP3
 * and ManageSieve). One set of names and defaults, so that every protocol locks an account at the
 * same count: the counters are shared, and a lower threshold anywhere would be the one that holds.
 */
export const loginThrottleEnv = {
  /**
   * Failed logins of one account (whichever spelling named it) or one client IP (IPv6: its /64)
   * after which that account or IP is locked out for AUTH_LOCKOUT_MS. Counted in PostgreSQL, shared
   * by every replica of msa and imap.
   */
  AUTH_LOCKOUT_THRESHOLD: env.int(10, 1, 10_000),
  /** A key's failures are forgotten this long after its last failure. */
  AUTH_LOCKOUT_WINDOW_MS: env.int(15 * 60_000, 1_000, 86_400_000),
  AUTH_LOCKOUT_MS: env.int(15 * 60_000, 1_000, 86_400_000),
  /** Delay before answering a failed login, doubled per further failure up to AUTH_FAILURE_MAX_DELAY_MS. */
  AUTH_FAILURE_BASE_DELAY_MS: env.int(250, 0, 60_000),
  AUTH_FAILURE_MAX_DELAY_MS: env.int(5_000, 0, 600_000),
};

export interface LoginThrottleSettings {
  AUTH_LOCKOUT_THRESHOLD: number;
  AUTH_LOCKOUT_WINDOW_MS: number;
  AUTH_LOCKOUT_MS: number;
  AUTH_FAILURE_BASE_DELAY_MS: number;
  AUTH_FAILURE_MAX_DELAY_MS: number;
}

export function loginThrottlePolicy(settings: LoginThrottleSettings): LoginThrottlePolicy {
  return {
    threshold: settings.AUTH_LOCKOUT_THRESHOLD,
    windowMs: settings.AUTH_LOCKOUT_WINDOW_MS,
    lockoutMs: settings.AUTH_LOCKOUT_MS,
    baseDelayMs: settings.AUTH_FAILURE_BASE_DELAY_MS,
    maxDelayMs: settings.AUTH_FAILURE_MAX_DELAY_MS,
  };
}
