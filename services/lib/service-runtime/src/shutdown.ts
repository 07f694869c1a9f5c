import type { Logger } from '@hermod/logging';

type Hook = { name: string; run: () => Promise<void> | void };

/**
 * Graceful stop on SIGTERM/SIGINT: hooks run in reverse order of registration (stop accepting first,
 * close pools last), bounded by a grace period after which the process exits anyway.
 */
export class ShutdownCoordinator {
  private readonly hooks: Hook[] = [];
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly graceMs: number,
  ) {}

  register(name: string, run: () => Promise<void> | void): void {
    this.hooks.push({ name, run });
  }

  listen(): void {
    const onSignal = (signal: NodeJS.Signals) => {
      this.logger.info({ signal }, 'shutting down');
      void this.shutdown().then(() => process.exit(0));
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  }

  shutdown(): Promise<void> {
    this.stopping ??= (async () => {
      const timer = setTimeout(() => {
        this.logger.error({ graceMs: this.graceMs }, 'grace period over; exiting with work unfinished');
        process.exit(1);
      }, this.graceMs);
      timer.unref();
      for (const hook of [...this.hooks].reverse()) {
        try {
          await hook.run();
        } catch (error) {
          this.logger.warn({ err: error, hook: hook.name }, 'shutdown step failed');
        }
      }
      clearTimeout(timer);
    })();
    return this.stopping;
  }
}
