import type { Logger } from '@hermod/logging';

export interface RetryOptions {
  /** First delay after a failure; it doubles up to maxDelayMs. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Errors for which retrying cannot help (bad credentials, a broken migration): thrown at once. */
  isPermanent?: (error: unknown) => boolean;
  /** Told of every failure before the wait, e.g. to show it as the readiness reason. */
  onFailure?: (error: unknown) => void;
}

/**
 * Runs step until it succeeds, waiting with exponential backoff (0.5 s doubling to 10 s) between
 * attempts: a service that starts while PostgreSQL or nats-server is down waits for it instead
 * of exiting. Each failure is logged with the delay before the next attempt.
 */
export async function untilAvailable<T>(
  logger: Logger,
  dependency: string,
  step: () => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  const max = options.maxDelayMs ?? 10_000;
  let delay = options.initialDelayMs ?? 500;
  for (;;) {
    try {
      return await step();
    } catch (error) {
      if (options.isPermanent?.(error)) throw error;
      options.onFailure?.(error);
      logger.warn({ err: error, dependency, retryInMs: delay }, `${dependency} unavailable; retrying`);
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(max, delay * 2);
    }
  }
}
