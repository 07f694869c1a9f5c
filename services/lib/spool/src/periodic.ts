/**
 * Runs a pass every intervalMs, never two at once (the next is timed from the end of the last);
 * a failed pass is reported and the schedule goes on. stop() waits for a pass in progress.
 */
export class PeriodicPass {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly pass: () => Promise<unknown>,
    private readonly intervalMs: number,
    private readonly onError: (error: unknown) => void,
  ) {}

  start(): void {
    const tick = () => {
      this.running = this.pass()
        .then(() => undefined, this.onError)
        .then(() => {
          this.timer = setTimeout(tick, this.intervalMs);
        });
    };
    this.timer = setTimeout(tick, this.intervalMs);
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    await this.running;
    clearTimeout(this.timer);
  }
}
